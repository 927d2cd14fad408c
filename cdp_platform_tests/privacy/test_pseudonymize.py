"""Pseudonymized marts, built by the real asset from the marts of a small sandbox (see sandbox_marts.py).

What must hold: no identifier of the marts is left anywhere in the pseudonymized file; one value
always gives one hash, so the three tables join as the marts do; another key gives other hashes;
the key reaches neither the file, nor the metadata, nor the logs; a mart column nobody classified is
never copied.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster._serdes import serialize_value

from cdp_platform.io.resources import io_resources
from cdp_platform.privacy.hashing import identifier_hash
from cdp_platform.privacy.pseudonymize import (
    CHECK_NAME,
    IDENTIFIER_KINDS,
    MARTS,
    PSEUDONYMIZED_RESOURCE_KEY,
    policy,
    pseudonymized_definitions,
    pseudonymized_key,
)
from cdp_platform.settings import PRIVACY_HMAC_KEY_VAR, load_settings
from cdp_platform_tests.privacy.sandbox_marts import SandboxMarts, sandbox_marts  # noqa: F401

pytestmark = pytest.mark.slow  # the shared sandbox build (raw to marts) takes most of a minute

KEY = "pseudonymization-test-key-0123456789abcdef"
OTHER_KEY = "another-pseudonymization-key-fedcba9876543210"


@dataclass
class Run:
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    path: Path

    def tables(self) -> dict[str, pl.DataFrame]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            names = [
                row[0]
                for row in connection.execute(
                    "select table_schema || '.' || table_name from information_schema.tables"
                ).fetchall()
            ]
            return {name: connection.execute(f"select * from {name}").pl() for name in names}

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        return {e.asset_key.path[-1]: e for e in self.result.get_asset_check_evaluations()}


def _pseudonymize(built: SandboxMarts, key: str, target: Path, warehouse: Path | None = None) -> Run:
    environ = {**built.environ, "CDP_PSEUDONYMIZED_WAREHOUSE_PATH": str(target)}
    if warehouse is not None:
        environ["CDP_WAREHOUSE_PATH"] = str(warehouse)
    settings = load_settings(environ)
    defs = pseudonymized_definitions(settings)
    resources = {
        **io_resources(settings),
        PSEUDONYMIZED_RESOURCE_KEY: defs.resources[PSEUDONYMIZED_RESOURCE_KEY],
    }
    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PRIVACY_HMAC_KEY_VAR, key)
        result = dg.materialize(
            list(defs.assets), resources=resources, instance=instance, raise_on_error=False
        )
    return Run(result, instance, target)


@pytest.fixture(scope="module")
def pseudonymized(sandbox_marts: SandboxMarts, tmp_path_factory: pytest.TempPathFactory) -> Run:  # noqa: F811
    return _pseudonymize(sandbox_marts, KEY, tmp_path_factory.mktemp("pseudonymized") / "p.duckdb")


@pytest.fixture(scope="module")
def marts(sandbox_marts: SandboxMarts) -> dict[str, pl.DataFrame]:  # noqa: F811
    return {mart: sandbox_marts.frame(f"select * from marts.{mart}") for mart in MARTS}


def _strings(frame: pl.DataFrame, columns: list[str] | None = None) -> set[str]:
    """Every cell of ``columns`` (all by default) as text, list elements one by one."""
    found: set[str] = set()
    for column in columns if columns is not None else frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pl.List):
            series = series.explode()
        found.update(str(v) for v in series.drop_nulls().to_list())
    return found


def _identifiers(marts: dict[str, pl.DataFrame]) -> set[str]:
    """Every value of every column the policy hashes: names, emails, phones, addresses, ids, texts."""
    values: set[str] = set()
    for mart, frame in marts.items():
        hashed = [c for c in frame.columns if policy(mart, c) not in (None, "keep")]
        values |= _strings(frame, hashed)
    return {v for v in values if v.strip()}


def test_no_identifier_of_the_marts_is_left(pseudonymized: Run, marts: dict[str, pl.DataFrame]):
    assert pseudonymized.result.success
    tables = pseudonymized.tables()
    assert set(tables) == {f"marts.{m}" for m in MARTS} | {"marts.pseudonymization_columns"}
    identifiers = _identifiers(marts)
    # The sample holds every kind of identifier the policy names.
    source = marts["client_360"]
    for column in ("full_name", "email", "phone", "street", "postcode", "date_of_birth", "twitter_handles"):
        assert _strings(source, [column]), column
    assert len(identifiers) > 1000
    # A value kept on purpose (a city) can also be somebody's name: such coincidences are exempt,
    # and there must be next to none of them.
    kept = set().union(
        *(_strings(f, [c for c in f.columns if policy(mart, c) == "keep"]) for mart, f in marts.items())
    )
    coincidences = identifiers & kept
    assert len(coincidences) <= 3, sorted(coincidences)
    cells = set().union(*(_strings(frame) for frame in tables.values()))
    assert (identifiers - coincidences) & cells == set()
    # Nor inside a longer text: no email or phone number anywhere, nor the key.
    blob = "\n".join(cells)
    assert [v for v in identifiers if ("@" in v or v.startswith("+")) and v in blob] == []
    assert KEY not in blob
    # Hashed columns hold 64-hex HMACs only.
    client_360 = tables["marts.client_360"]
    assert client_360["email"].drop_nulls().str.contains(r"^[0-9a-f]{64}$").all()
    assert client_360["emails"].explode().drop_nulls().str.contains(r"^[0-9a-f]{64}$").all()
    checks = pseudonymized.checks()
    assert {name: c.passed for name, c in checks.items()} == dict.fromkeys(MARTS, True)


def test_one_value_one_hash_so_the_marts_still_join(pseudonymized: Run, marts: dict[str, pl.DataFrame]):
    tables = {name.removeprefix("marts."): frame for name, frame in pseudonymized.tables().items()}
    for mart in MARTS:
        assert tables[mart].height == marts[mart].height, mart
    key = KEY.encode()

    def h(kind: str, value: object) -> str | None:
        return identifier_hash(kind, value, key)

    # Row for row, client_identities holds the shared keyed hash of each value (the suppression
    # list's and the audit log's hash of the same identifier).
    expected = {
        (
            h("client_id", r["client_id"]),
            r["identifier_type"],
            h(IDENTIFIER_KINDS[r["identifier_type"]], r["identifier_value"]),
            r["source"],
            h("record_id", r["record_id"]),
        )
        for r in marts["client_identities"].iter_rows(named=True)
    }
    identifiers = ("client_id", "identifier_type", "identifier_value", "source", "record_id")
    assert set(tables["client_identities"].select(identifiers).iter_rows()) == expected
    # Why each record is its client's (rule names and keyed hashes already) is kept as it is.
    assert (
        tables["client_identities"]["link_evidence"].to_list()
        == marts["client_identities"]["link_evidence"].to_list()
    )

    # Joins give what they give on the marts: identities and interactions to their client.
    def joined(frames: dict[str, pl.DataFrame], other: str) -> int:
        return frames[other].join(frames["client_360"].select("client_id"), on="client_id").height

    for other in ("client_identities", "client_interactions"):
        assert joined(tables, other) == joined(marts, other) == marts[other].height, other

    # The same email hashes the same in client_360.emails and in client_identities.
    def emails(frames: dict[str, pl.DataFrame]) -> set[tuple[str, str]]:
        in_360 = frames["client_360"].select("client_id", "emails").explode("emails").drop_nulls()
        in_identities = frames["client_identities"].filter(pl.col("identifier_type") == "email")
        assert set(in_360.iter_rows()) == set(
            in_identities.select("client_id", "identifier_value").iter_rows()
        )
        return set(in_360.iter_rows())

    # Two spellings of one mailbox (Gmail dots) are one identifier, hence one hash.
    expected_emails = {(h("client_id", c), h("email", e)) for c, e in emails(marts)}
    assert emails(tables) == expected_emails and len(expected_emails) > 100
    # A timeline row's person record is among its client's record ids, hashed alike.
    records = tables["client_360"].select("client_id", "record_ids").explode("record_ids")
    timeline = tables["client_interactions"].select(
        "client_id", pl.col("person_record_id").alias("record_ids")
    )
    assert timeline.join(records, on=["client_id", "record_ids"]).height == timeline.height > 50


def test_another_key_gives_other_hashes(
    pseudonymized: Run,
    sandbox_marts: SandboxMarts,  # noqa: F811
    tmp_path: Path,
):
    other = _pseudonymize(sandbox_marts, OTHER_KEY, tmp_path / "other.duckdb")
    assert other.result.success
    first, second = pseudonymized.tables(), other.tables()
    for column in ("client_id", "email", "phone", "full_name", "postcode"):
        a, b = _strings(first["marts.client_360"], [column]), _strings(second["marts.client_360"], [column])
        assert a and b and a.isdisjoint(b), column
    a = _strings(first["marts.client_identities"], ["identifier_value"])
    assert a.isdisjoint(_strings(second["marts.client_identities"], ["identifier_value"]))
    # What is kept does not depend on the key.
    kept = [
        "sources",
        "city",
        "country",
        "purchases",
        "email_opt_out",
        "email_opt_out_at",
        "sessions_lifetime",
    ]
    assert (
        first["marts.client_360"]
        .select(kept)
        .sort(kept)
        .equals(second["marts.client_360"].select(kept).sort(kept))
    )

    def fingerprint(run: Run) -> str:
        event = run.result.asset_materializations_for_node("pseudonymized_marts")[0]
        return event.metadata["key_fingerprint"].value

    assert fingerprint(pseudonymized) != fingerprint(other)


def test_the_key_stays_out_of_metadata_and_logs(
    sandbox_marts: SandboxMarts,  # noqa: F811
    tmp_path: Path,
    capfd: pytest.CaptureFixture,
    caplog: pytest.LogCaptureFixture,
):
    secret = "a-secret-that-must-never-be-logged-42-" + tmp_path.name
    run = _pseudonymize(sandbox_marts, secret, tmp_path / "p.duckdb")
    assert run.result.success
    events = run.instance.all_logs(run.result.run_id)
    assert len(events) > 10
    recorded = "\n".join(serialize_value(e) for e in events)
    assert "key_fingerprint" in recorded  # the metadata was recorded, and it is not the key
    captured = capfd.readouterr()
    for text in (recorded, captured.out, captured.err, caplog.text):
        assert secret not in text
        assert secret.encode().hex() not in text
    assert secret not in "\n".join(set().union(*(_strings(f) for f in run.tables().values())))


def test_an_unclassified_column_is_dropped_and_fails_the_check(
    sandbox_marts: SandboxMarts,  # noqa: F811
    tmp_path: Path,
):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(sandbox_marts.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("alter table marts.client_360 add column nickname varchar")
        connection.execute("update marts.client_360 set nickname = 'nick-' || email where email is not null")
    run = _pseudonymize(sandbox_marts, KEY, tmp_path / "p.duckdb", warehouse=warehouse)
    assert run.result.success  # the table is written, without the column
    check = run.checks()["client_360"]
    assert check.asset_key == pseudonymized_key("client_360") and check.check_name == CHECK_NAME
    assert not check.passed
    assert check.metadata["unclassified_columns"].value == ["nickname"]
    table = run.tables()["marts.client_360"]
    assert "nickname" not in table.columns and table.height > 0
    recorded = "\n".join(serialize_value(e) for e in run.instance.all_logs(run.result.run_id))
    assert "nick-" not in recorded
    assert run.checks()["client_identities"].passed


def test_a_mart_not_built_yet_is_skipped_and_its_old_copy_dropped(
    pseudonymized: Run,
    sandbox_marts: SandboxMarts,  # noqa: F811
    tmp_path: Path,
):
    """The timeline is built by its own partitioned runs, maybe after the other marts."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(sandbox_marts.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("drop table marts.client_interactions")
    target = tmp_path / "p.duckdb"
    shutil.copy(pseudonymized.path, target)  # an earlier build, with all three tables
    run = _pseudonymize(sandbox_marts, KEY, target, warehouse=warehouse)
    assert run.result.success
    materialized = {e.asset_key for e in run.result.get_asset_materialization_events()}
    assert materialized == {pseudonymized_key("client_360"), pseudonymized_key("client_identities")}
    checks = run.checks()
    assert checks and all(check.passed for check in checks.values()), checks
    assert set(run.tables()) == {
        "marts.client_360",
        "marts.client_identities",
        "marts.pseudonymization_columns",
    }
