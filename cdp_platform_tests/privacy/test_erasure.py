"""Erasure end to end, on the real pipeline over a small sandbox.

Three partitions are ingested and built through the marts (raw, cleansed, identity_map, dbt, the
incremental timeline). Three true persons of the sandbox's ground truth, each with records in
several sources and resolved to a client of their own, are erased three ways: by email through
the requests table and the Dagster job, by client_id and by phone through the ``cdp`` CLI
(``cli.main``). A checkpoint spool page and dead letters holding the first person are
planted beforehand (a clean sandbox run leaves neither).

Then every row of every lake file (raw, checkpoints, dead letters, the suppression list) and of
every warehouse table and view in every schema is searched for each person's identifying values:
none may remain, and every location must have lost exactly the rows that held them, no other.
Re-ingesting the same partitions must not bring anyone back, and must report suppressed records.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform import cli
from cdp_platform.definitions import build_definitions
from cdp_platform.io.lake import LocalLake
from cdp_platform.privacy import audit
from cdp_platform.privacy.assets import ERASURE_JOB_NAME
from cdp_platform.privacy.hashing import identifier_hash, privacy_key
from cdp_platform.privacy.identifiers import identify, person_streams
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.settings import load_settings
from cdp_platform_tests.sources.support import SANDBOX_TODAY, sandbox_environ

PERSONS = 150
SPAN_DAYS = 2
CONTACT_STREAMS = ("salesforce/contacts", "hubspot/contacts", "salesforce/leads", "facebook/leads")


@dataclass
class Person:
    person_id: str
    client_id: str
    rows: pl.DataFrame  # the raw rows that are theirs: stream, file, record_id, payload, tokens
    tokens: set[str] = field(default_factory=set)
    names: tuple[str, str] | None = None
    email: str | None = None
    phone: str | None = None
    hashes: set[str] = field(default_factory=set)  # keyed hashes, as the pseudonymized marts hold them

    def pattern(self, hashed: bool = False) -> re.Pattern:
        # Shorter tokens (none here) could occur by chance inside unrelated text.
        words = sorted((t.lower() for t in (self.hashes if hashed else self.tokens) if len(t) >= 6), key=len)
        return re.compile(r"(?<![0-9a-z])(?:" + "|".join(map(re.escape, reversed(words))) + r")(?![0-9a-z])")

    def name_match(self, text: str) -> bool:
        if self.names is None:
            return False
        return all(re.search(rf"(?<![a-z]){re.escape(n)}(?![a-z])", text) for n in self.names)


# --- the pipeline ------------------------------------------------------------------------------


def _jobs(defs: dg.Definitions) -> dg.Definitions:
    graph = defs.resolve_asset_graph()

    def keys(predicate):
        return [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and predicate(k)]

    raw = keys(lambda k: k.path[0] == "raw")
    cleansed = keys(lambda k: k.path[0] == "cleansed")
    profile = keys(
        lambda k: graph.get(k).partitions_def is None and k.path[0] not in ("privacy", "pseudonymized")
    )
    dbt = [
        key
        for assets in defs.assets
        if isinstance(assets, dg.AssetsDefinition) and assets.node_def.name.startswith("profile_dbt")
        for key in assets.keys
    ]
    # dbt's tests are other suites' business; leaving them out saves a minute of dbt here.
    profile_selection = dg.AssetSelection.assets(*profile) - dg.AssetSelection.checks_for_assets(*dbt)
    timeline = dg.AssetSelection.assets("client_interactions").without_checks()
    jobs = [
        dg.define_asset_job("test_raw", selection=raw),
        dg.define_asset_job("test_cleansed", selection=cleansed),
        dg.define_asset_job("test_profile", selection=profile_selection),
        dg.define_asset_job("test_timeline", selection=timeline),
        # After the timeline: the pseudonymized marts read client_interactions too.
        dg.define_asset_job("test_pseudonymized", selection=keys(lambda k: k.path[0] == "pseudonymized")),
    ]
    return dg.Definitions.merge(defs, dg.Definitions(jobs=jobs))


def _ingest(defs, instance, days: list[str], *, cleanse: bool = True) -> list[dg.ExecuteInProcessResult]:
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    results = [
        defs.resolve_job_def("test_raw").execute_in_process(partition_key=d, instance=instance) for d in days
    ]
    if cleanse:
        results.append(
            defs.resolve_job_def("test_cleansed").execute_in_process(tags=window, instance=instance)
        )
    assert all(r.success for r in results)
    return results


# --- who is who ---------------------------------------------------------------------------------


def _landed(lake_root: Path, truth: pl.DataFrame) -> pl.DataFrame:
    """Every landed raw row of a stream that holds personal data, with its true person."""
    frames = []
    for stream in person_streams():
        for path in sorted((lake_root / stream.raw_prefix).glob("*.parquet")):
            raw = pl.read_parquet(path)
            ids = identify(raw, stream)
            frames.append(
                pl.concat([raw.select("record_id", "payload"), ids], how="horizontal").with_columns(
                    pl.lit(f"{stream.source}/{stream.stream}").alias("stream"),
                    pl.lit(str(path.relative_to(lake_root))).alias("file"),
                )
            )
    rows = pl.concat(frames)
    ga = rows["record_id"].str.split(":")
    rows = rows.with_columns(
        pl.when(pl.col("stream") == "google_analytics/user_daily_activity")
        .then(ga.list.get(0, null_on_oob=True) + ":" + ga.list.get(1, null_on_oob=True))
        .otherwise(pl.col("record_id"))
        .alias("truth_id")
    )
    truth = truth.select("stream", pl.col("record_id").alias("truth_id"), "person_id").unique(
        ["stream", "truth_id"]
    )
    return rows.join(truth, on=["stream", "truth_id"], how="left")


def _choose(
    landed: pl.DataFrame, identity: pl.DataFrame, cleansed_names: dict[str, tuple[str, str]]
) -> list[Person]:
    """True persons with records in several streams whose client holds exactly their records."""
    client_of = dict(identity.select("record_id", "client_id").iter_rows())
    members: dict[str, set[str]] = {}
    for record, client in client_of.items():
        members.setdefault(client, set()).add(record)
    chosen = []
    ranked = (
        landed.filter(pl.col("person_id").is_not_null())
        .group_by("person_id")
        .agg(pl.col("stream").n_unique().alias("streams"), pl.len().alias("records"))
        .filter(pl.col("streams") >= 3)
        .sort(["streams", "records", "person_id"], descending=[True, True, False])
    )
    for person_id in ranked["person_id"]:
        rows = landed.filter(pl.col("person_id") == person_id)
        keys = set(rows["person_keys"].explode().drop_nulls().to_list())
        clients = {client_of[k] for k in keys if k in client_of}
        if len(clients) != 1:
            continue
        client = clients.pop()
        # Everything the erasure will remove is theirs: the client's records, and the rows
        # those records own (a logged-in GA row of another visitor would not be).
        if not members[client] <= keys:
            continue
        owned = landed.filter(
            pl.col("person_keys").list.eval(pl.element().is_in(sorted(members[client]))).list.any()
        )
        if set(owned["person_id"].to_list()) != {person_id} or owned.height != rows.height:
            continue
        person = Person(person_id, client, rows)
        # Their identifying values; one that someone else's record also carries (a household's
        # phone) is not theirs alone, and stays with the other person's records.
        others = set(
            landed.filter(pl.col("person_id").ne_missing(person_id))["tokens"]
            .explode()
            .drop_nulls()
            .to_list()
        )
        person.tokens = (set(rows["tokens"].explode().drop_nulls().to_list()) - others) | keys | {client}
        contact = rows.filter(pl.col("stream").is_in(CONTACT_STREAMS))
        person.email = next((e for e in contact["email"].to_list() if e), None)
        # The phone as the vendor wrote it (national, with separators), to erase by.
        written = [t for t in contact["tokens"].explode().drop_nulls().to_list() if _national_phone(t)]
        person.phone = written[0] if written else None
        # A shared email or phone would erase someone else too (correctly): not for this test.
        for column, value in (("email", person.email), ("phone", contact["phone"].drop_nulls().head(1))):
            if isinstance(value, pl.Series):
                value = value[0] if value.len() else None
            if value is not None and set(landed.filter(pl.col(column) == value)["person_id"].to_list()) != {
                person_id
            }:
                person.email, person.phone = (
                    (None, person.phone) if column == "email" else (person.email, None)
                )
        person.names = next((cleansed_names[k] for k in keys if k in cleansed_names), None)
        if person.email is None or person.names is None:
            continue
        chosen.append(person)
        if len(chosen) == 3:
            break
    return chosen


def _national_phone(text: str) -> bool:
    return bool(re.fullmatch(r"[()\d\s.-]{10,}", text) and re.search(r"[()\s.-]", text))


def _names(warehouse: Path) -> dict[str, tuple[str, str]]:
    """Person key → (first, last) from the candidates, for the name search."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select record_id, lower(first_name), lower(last_name) from intermediate.int_identity_candidates "
            "where first_name is not null and last_name is not null"
        ).fetchall()
    return {record: (first, last) for record, first, last in rows}


# --- residues a clean run does not leave ----------------------------------------------------------


def _plant(lake: LocalLake, person: Person, others: pl.DataFrame) -> None:
    """A spool page (a killed run's leftovers) and dead letters holding ``person``, each beside a
    record of someone else from the same partition, which must survive."""
    contacts = person.rows.filter(pl.col("stream").is_in(CONTACT_STREAMS))
    row = next(r for r in contacts.iter_rows(named=True) if others["file"].is_in([r["file"]]).any())
    source, stream = row["stream"].split("/")
    partition = Path(row["file"]).stem
    raw = pl.read_parquet(lake.root / row["file"])
    other_id = others.filter(pl.col("file") == row["file"])["record_id"][0]
    neighbour = raw.filter(pl.col("record_id") == other_id)
    page = pl.concat([raw.filter(pl.col("record_id") == row["record_id"]), neighbour])
    spool = f"_checkpoints/raw/{source}/{stream}/{partition}/pages/planted"
    (lake.root / spool).mkdir(parents=True, exist_ok=True)
    page.write_parquet(lake.root / spool / "p-000001.parquet")

    record = json.loads(row["payload"])
    for id_field in ("Id", "id"):
        record.pop(id_field, None)
    letters = [
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "record has no id",
            "body": json.dumps(record),
        },
        # A response cut mid-body: not JSON, but it still spells the person's email.
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "invalid JSON",
            "body": row["payload"][:-7],
        },
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "record has no id",
            "body": neighbour["payload"][0],
        },
    ]
    text = "".join(json.dumps(letter) + "\n" for letter in letters)
    (lake.root / "dead_letter" / source / stream).mkdir(parents=True, exist_ok=True)
    (lake.root / "dead_letter" / source / stream / f"{partition}.jsonl").write_text(text)
    (lake.root / spool / "p-000001.jsonl").write_text(text)


# --- searching every layer ----------------------------------------------------------------------


def _lake_rows(root: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = "lake:" + str(path.relative_to(root))
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            rows[key] = [
                "|".join("" if v is None else str(v) for v in values).lower() for values in frame.iter_rows()
            ]
        else:
            rows[key] = [line.lower() for line in path.read_text().splitlines() if line.strip()]
    return rows


def _warehouse_rows(path: Path, prefix: str = "warehouse") -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    if not path.exists():
        return rows
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            values = con.execute(f'select t::varchar from "{schema}"."{table}" as t').fetchall()
            rows[f"{prefix}:{schema}.{table}"] = [v[0].lower() for v in values]
    return rows


@dataclass
class Scan:
    rows: dict[str, int]
    matched: dict[str, dict[str, int]]  # location → person id → rows holding their values
    named: dict[str, dict[str, int]]  # location → person id → rows holding first and last name


def _scan(lake_root: Path, warehouse: Path, persons: list[Person]) -> Scan:
    pseudonymized = warehouse.parent / "pseudonymized.duckdb"
    everything = {
        **_lake_rows(lake_root),
        **_warehouse_rows(warehouse),
        **_warehouse_rows(pseudonymized, "pseudonymized"),
    }
    patterns = {p.person_id: p.pattern() for p in persons}
    hashed = {p.person_id: p.pattern(hashed=True) for p in persons}
    scan = Scan({}, {}, {})
    for location, texts in everything.items():
        scan.rows[location] = len(texts)
        search = hashed if location.startswith("pseudonymized:") else patterns
        scan.matched[location] = {
            pid: sum(1 for t in texts if pattern.search(t)) for pid, pattern in search.items()
        }
        scan.named[location] = {p.person_id: sum(1 for t in texts if p.name_match(t)) for p in persons}
    return scan


def _held(scan: Scan, person: Person) -> dict[str, int]:
    return {loc: m[person.person_id] for loc, m in scan.matched.items() if m[person.person_id]}


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_erased_people_leave_every_layer_and_stay_out(tmp_path, monkeypatch, capsys):
    environ = sandbox_environ(tmp_path, PERSONS, SPAN_DAYS)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # dbt and the CLI read the environment themselves
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)  # the local key file is created
    defs = _jobs(build_definitions(load_settings(environ)))
    instance = dg.DagsterInstance.ephemeral()
    build_through_the_marts(defs, instance)
    erase_and_verify(tmp_path, defs, instance, capsys)


def _days() -> list[str]:
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    return [(today - datetime.timedelta(days=n)).isoformat() for n in range(SPAN_DAYS, -1, -1)]


def build_through_the_marts(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    days = _days()
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    _ingest(defs, instance, days)
    assert defs.resolve_job_def("test_profile").execute_in_process(instance=instance).success
    assert defs.resolve_job_def("test_timeline").execute_in_process(tags=window, instance=instance).success
    assert defs.resolve_job_def("test_pseudonymized").execute_in_process(instance=instance).success


def erase_and_verify(tmp_path: Path, defs: dg.Definitions, instance, capsys) -> None:
    """Everything after the build (split out so a built warehouse can be examined again)."""
    lake_root, warehouse = tmp_path / "lake", tmp_path / "warehouse.duckdb"
    days = _days()
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    config = SandboxConfig(persons=PERSONS, seed=7, today=today, span_days=SPAN_DAYS)
    write_truth(config, tmp_path / "truth")
    landed = _landed(lake_root, pl.read_parquet(tmp_path / "truth" / "records.parquet"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        identity = con.execute("select record_id, client_id from identity.identity_map").pl()
    persons = _choose(landed, identity, _names(warehouse))
    assert len(persons) == 3, "the sandbox should hold three cleanly resolved multi-source persons"
    first, second, third = persons
    assert third.phone is not None or second.phone is not None
    if third.phone is None:  # the phone request needs a person with a phone
        second, third = third, second
    lake = LocalLake(lake_root)
    key = privacy_key(lake)
    for person in persons:
        person.hashes = {identifier_hash("client_id", person.client_id, key)}
    _plant(
        lake,
        first,
        landed.filter(
            pl.col("person_id").is_null() | ~pl.col("person_id").is_in([p.person_id for p in persons])
        ),
    )

    before = _scan(lake_root, warehouse, persons)
    for person in persons:
        held = _held(before, person)
        # Each person is in the raw lake, the cleansed layer, identity_map and the marts...
        assert any(loc.startswith("lake:raw/") for loc in held), held
        assert any(loc.startswith("warehouse:cleansed_") for loc in held), held
        assert "warehouse:identity.identity_map" in held and "warehouse:marts.client_360" in held, held
        assert "pseudonymized:marts.client_360" in held, held
        # ...and nobody else's row carries their name (no namesake confuses the name search).
        for location, count in before.named.items():
            assert count[person.person_id] <= before.matched[location][person.person_id], location
    assert any(loc.startswith("lake:_checkpoints") for loc in _held(before, first))
    assert any(loc.startswith("lake:dead_letter") for loc in _held(before, first))

    # 1. By email, filed in the requests table and processed by the Dagster job.
    with duckdb.connect(str(warehouse)) as con:
        audit.ensure_tables(con)
        con.execute(
            "insert into privacy.erasure_requests (identifier_type, identifier_value, reference) "
            "values ('email', ?, 'ticket-1')",
            [first.email.upper()],  # as the person typed it; matching is on the normalized address
        )
    processed = defs.resolve_job_def(ERASURE_JOB_NAME).execute_in_process(instance=instance)
    assert processed.success
    assert all(check.passed for check in processed.get_asset_check_evaluations())
    meta = processed.get_asset_materialization_events()[0].materialization.metadata
    assert meta["erased"].value == 1 and meta["rows_removed"].value > 0

    # 2. By client_id, through the CLI.
    capsys.readouterr()  # what the runs printed so far
    assert cli.main(["erase", "--client-id", second.client_id, "--reference", "ticket-2"]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)
    assert summary["status"] == "done" and summary["clients_erased"] == 1
    assert second.client_id not in printed.out + printed.err

    # 3. By phone, through cli.main, written the way the vendor had it.
    assert cli.main(["erase", "--phone", third.phone, "--reference", "ticket-3"]) == 0

    after = _scan(lake_root, warehouse, persons)
    for location, rows in after.rows.items():
        held = {pid: n for pid, n in after.matched[location].items() if n}
        assert not held, f"{location} still holds {held}"
        assert not any(after.named[location].values()), f"{location} still holds a name"
        # Exactly the rows that held them are gone, no other.
        expected = before.rows.get(location, 0) - sum(before.matched.get(location, {}).values())
        if location.startswith("lake:_privacy"):
            continue  # created by the erasures
        if location in before.rows:
            assert rows == expected, (
                f"{location}: {before.rows[location]} rows, {rows} after, expected {expected}"
            )
    gone = set(before.rows) - set(after.rows)
    assert gone <= {loc for loc in before.rows if loc.startswith("lake:dead_letter")}, gone
    for person in persons:
        raw_before = sum(n for loc, n in _held(before, person).items() if loc.startswith("lake:raw/"))
        assert raw_before == person.rows.height  # the raw rows removed are exactly the truth's

    # The audit log: keyed hashes and counts, never a value.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        requests = con.execute(
            "select identifier_value, identifier_hash, status from privacy.erasure_requests order by reference"
        ).fetchall()
        audit_rows = con.execute("select * from privacy.erasure_audit").fetchall()
        layers = {
            row[0]
            for row in con.execute(
                "select distinct layer from privacy.erasure_audit_removals r join privacy.erasure_requests q "
                "using (request_id) where q.reference = 'ticket-1'"
            ).fetchall()
        }
    assert [(v, s) for v, _, s in requests] == [(None, "done")] * 3
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _, h, _ in requests)
    assert len(audit_rows) == 3
    audit_text = json.dumps(audit_rows, default=str).lower()
    for person in persons:
        assert not person.pattern().search(audit_text)
    assert {"raw", "checkpoint", "dead_letter", "cleansed", "identity", "mart"} <= layers, layers

    # The next ingestion of the same partitions (new runs): nobody comes back, and it says so.
    # (The cleansed layer reads only raw, just shown clean; re-cleansing would cost the budget.)
    reingested = _ingest(defs, instance, days, cleanse=False)
    suppressed = sum(
        event.materialization.metadata["suppressed_records"].value
        for result in reingested
        for event in result.get_asset_materialization_events()
        if "suppressed_records" in event.materialization.metadata
    )
    assert suppressed >= sum(p.rows.height for p in persons)
    again = _scan(lake_root, warehouse, persons)
    for location in again.rows:
        assert not any(again.matched[location].values()), f"{location} holds an erased person again"
        if location.startswith("lake:raw/"):  # everyone else came back, as they were
            assert again.rows[location] == after.rows[location], location
