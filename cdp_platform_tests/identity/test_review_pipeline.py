"""Review and unmerge end to end: the ``identity_map`` asset, ``cdp identity review``, dbt's marts and
erasure, on a copy of the shared sandbox warehouse (``sandbox_marts``; nothing is rebuilt).

A household is merged wrongly the way it happens: one member gives the other's mailbox on a
Facebook lead form (the lead carries their own name and the household phone, so the phone rule ties
it to them and the email to the other). A reviewer says ``--different`` about the two: the next
materialization splits the client, the side with more records keeps the client id. Another
reviewer joins a pair the model left in ``identity.review_queue`` (or, if the queue has no true pair,
one the sandbox's truth says was missed) with ``--same``. client_360 shows both after dbt; erasure
keeps the decisions of unrelated people and removes those naming the erased person.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform import cli
from cdp_platform.definitions import build_definitions
from cdp_platform.sandbox.identity_truth import SandboxIdentityTruth
from cdp_platform.sandbox.wiring import sandbox_server
from cdp_platform.settings import load_settings
from cdp_platform_tests.privacy.sandbox_marts import SandboxMarts, sandbox_marts  # noqa: F401

pytestmark = pytest.mark.slow
FAMILY_LEAD = "facebook:leads:family-mailbox"
RICH_SOURCES = ("salesforce/contacts", "salesforce/leads", "hubspot/contacts", "facebook/leads")


@dataclass
class Scenario:
    warehouse: Path
    environ: dict[str, str]
    household: tuple[str, str]  # a record of each member
    merged_id: str  # the household's client after the wrong merge
    merged_records: dict[str, list[str]]  # member record -> records of its side in the merged client
    missed: tuple[str, str]
    from_queue: bool
    queue: pl.DataFrame  # identity.review_queue after the first run
    cli_codes: dict[str, int]
    cli_output: dict[str, dict]
    runs: list[dg.ExecuteInProcessResult]
    seconds: dict[str, float]

    def frame(self, sql: str, params: list | None = None) -> pl.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(sql, params or []).pl()

    def clients(self) -> dict[str, str]:
        return dict(self.frame("select record_id, client_id from identity.identity_map").iter_rows())


def _household(candidates: pl.DataFrame, clients: dict[str, str]) -> tuple[dict, dict]:
    """Two records of two members of one household (same phone and last name, other first names,
    two clients): the first with an email, the second with the phone."""
    rich = candidates.filter(pl.col("source").is_in(RICH_SOURCES) & pl.col("phone").is_not_null())
    rich = rich.with_columns(pl.col("record_id").replace_strict(clients).alias("client_id"))
    homes = (
        rich.group_by("phone", "last_name")
        .agg(pl.col("first_name").n_unique().alias("names"), pl.col("client_id").n_unique().alias("clients"))
        .filter((pl.col("names") >= 2) & (pl.col("clients") >= 2))
        .sort("phone")
    )
    assert homes.height, "the sandbox has no household with two members in two clients"
    phone, last = homes.row(0)[:2]
    members = rich.filter((pl.col("phone") == phone) & (pl.col("last_name") == last)).sort("record_id")
    with_email = members.filter(pl.col("email").is_not_null())
    first = with_email.row(0, named=True)
    second = members.filter(
        (pl.col("first_name") != first["first_name"]) & (pl.col("client_id") != first["client_id"])
    ).row(0, named=True)
    return first, second


def _missed_pair(queue: pl.DataFrame, truth: pl.DataFrame, clients: dict) -> tuple[tuple[str, str], bool]:
    """A pair of one true person in two clients: the review queue's best such pair, else any."""
    person = dict(truth.iter_rows())
    for a, b in queue.select("record_id_a", "record_id_b").iter_rows():
        if person.get(a) is not None and person.get(a) == person.get(b):
            return (a, b), True
    split = (
        pl.DataFrame({"record_id": list(clients), "client_id": list(clients.values())})
        .join(truth, on="record_id")
        .filter(
            ~pl.col("record_id").str.starts_with("google_analytics:") & (pl.col("record_id") != FAMILY_LEAD)
        )
        .group_by("person_id")
        .agg(pl.col("record_id").sort_by("client_id"), pl.col("client_id").sort())
        .filter(pl.col("client_id").list.n_unique() > 1)
        .sort("person_id")
    )
    records = split.row(0, named=True)["record_id"]
    return (records[0], records[-1]), False


def _materialize(environ: dict[str, str]) -> dg.ExecuteInProcessResult:
    defs = build_definitions(load_settings(environ))
    result = dg.materialize(
        [defs.resolve_assets_def(dg.AssetKey("identity_map"))], instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    return result


@pytest.fixture(scope="module")
def scenario(
    sandbox_marts: SandboxMarts,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Scenario]:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    root = tmp_path_factory.mktemp("identity_review")
    warehouse = root / "warehouse.duckdb"
    shutil.copyfile(sandbox_marts.warehouse, warehouse)
    # Its own lake (the privacy key file goes there) and dbt target; the shared fixture stays as built.
    environ = {
        **sandbox_marts.environ,
        "CDP_WAREHOUSE_PATH": str(warehouse),
        "CDP_LAKE_ROOT": str(root / "lake"),
    }

    with duckdb.connect(str(warehouse)) as connection:
        candidates = connection.execute("select * from intermediate.int_identity_candidates").pl()
        clients = dict(
            connection.execute("select record_id, client_id from identity.identity_map").fetchall()
        )
        first, second = _household(candidates, clients)
        lead = {column: None for column in candidates.columns} | {
            "record_id": FAMILY_LEAD,
            "source": "facebook/leads",
            "first_name": second["first_name"],
            "last_name": second["last_name"],
            "full_name": f"{second['first_name']} {second['last_name']}",
            "phone": second["phone"],
            "email": first["email"],
        }
        extra = pl.DataFrame([lead], schema=candidates.schema).to_arrow()  # noqa: F841
        connection.execute("insert into intermediate.int_identity_candidates by name select * from extra")
    seconds["copy"] = round(time.perf_counter() - started, 2)

    runs = [_materialize(environ)]
    seconds["wrong merge run"] = round(time.perf_counter() - started - sum(seconds.values()), 2)
    merged = dict(
        duckdb.connect(str(warehouse), read_only=True)
        .execute("select record_id, client_id from identity.identity_map")
        .fetchall()
    )
    household = (first["record_id"], second["record_id"])
    assert merged[household[0]] == merged[household[1]], "the family mailbox did not merge the household"
    merged_id = merged[household[0]]
    queue = (
        duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select record_id_a, record_id_b, match_probability, evidence, len(waterfall) as steps "
            "from identity.review_queue order by match_probability desc"
        )
        .pl()
    )
    truth = SandboxIdentityTruth(server=sandbox_server(load_settings(environ))).true_persons()
    missed, from_queue = _missed_pair(queue, truth, merged)
    # Each member's records in the merged client (the family lead, which is both, is neither's).
    person = dict(truth.iter_rows())
    merged_records = {
        record: [r for r, c in merged.items() if c == merged_id and person.get(r) == person[record]]
        for record in household
    }

    codes: dict[str, int] = {}
    outputs: dict[str, dict] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        patch.setenv("USER", "reviewer-1")
        capture = _Capture()
        a, b = household
        for label, args in {
            "different": ["--a", a, "--b", b, "--different", "--reason", "two people, one family mailbox"],
            "same": ["--a", missed[0], "--b", missed[1], "--same", "--reason", "same person, checked",
                     "--reviewer", "reviewer-2"],
            "unknown": ["--a", a, "--b", "hubspot:contacts:no-such", "--same", "--reason", "x"],
            "client_id": ["--a", a, "--b", merged_id, "--different", "--reason", "x"],
            "same_record": ["--a", a, "--b", a, "--different", "--reason", "x"],
            "no_reason": ["--a", a, "--b", b, "--different", "--reason", " "],
        }.items():  # fmt: skip
            codes[label], outputs[label], outputs[f"{label}_stderr"] = capture.run(
                ["identity", "review", *args]
            )
        # A writer holds the warehouse (another process: DuckDB allows one).
        holder = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)", str(warehouse)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            codes["held"], _, outputs["held_stderr"] = capture.run(
                ["identity", "review", "--a", a, "--b", b, "--same", "--reason", "x"]
            )
        finally:
            holder.kill()
            holder.wait()
    seconds["cli"] = round(time.perf_counter() - started - sum(seconds.values()), 2)

    runs.append(_materialize(environ))
    runs.append(_materialize(environ))  # decisions are honoured again, and logged once
    seconds["two review runs"] = round(time.perf_counter() - started - sum(seconds.values()), 2)

    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)  # dbt finds the warehouse through CDP_WAREHOUSE_PATH
        dbt = build_definitions(load_settings(environ)).resources["dbt"]
        dbt.cli(["run", "--select", "source:identity+"], raise_on_error=True).wait()
    seconds["dbt marts"] = round(time.perf_counter() - started - sum(seconds.values()), 2)
    yield Scenario(
        warehouse,
        environ,
        household,
        merged_id,
        merged_records,
        missed,
        from_queue,
        queue,
        codes,
        outputs,
        runs,
        seconds,
    )


class _Capture:
    """cli.main with its stdout and stderr captured (the fixture is module-scoped: no capsys)."""

    def run(self, args: list[str]) -> tuple[int, dict, str]:
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(args)
            except SystemExit as exc:  # argparse's errors
                code = int(exc.code or 0)
        return code, (json.loads(out.getvalue()) if code == 0 else {}), err.getvalue()


def test_the_cli_records_decisions_and_names_bad_input(scenario: Scenario) -> None:
    codes, out = scenario.cli_codes, scenario.cli_output
    assert codes["different"] == 0 and out["different"]["decision"] == "different"
    assert out["different"]["one_client_now"] is True
    assert codes["same"] == 0 and out["same"]["one_client_now"] is False
    assert codes["unknown"] == 1 and "--b is not a record_id" in out["unknown_stderr"]
    assert codes["client_id"] == 1 and "It is a client_id" in out["client_id_stderr"]
    assert codes["same_record"] == 2 and "name the same record" in out["same_record_stderr"]
    assert codes["no_reason"] == 2 and "--reason must say why" in out["no_reason_stderr"]
    assert codes["held"] == 3 and "held by a writer" in out["held_stderr"]
    decisions = scenario.frame(
        "select decision, reviewer, reason from identity.review_decisions order by decision"
    )
    assert decisions.rows() == [
        ("different", "reviewer-1", "two people, one family mailbox"),
        ("same", "reviewer-2", "same person, checked"),
    ]


def test_a_different_decision_splits_the_merged_household(scenario: Scenario) -> None:
    a, b = scenario.household
    clients = scenario.clients()
    assert clients[a] != clients[b]
    # Each member's records are on their side...
    for record, records in scenario.merged_records.items():
        assert {clients[r] for r in records} == {clients[record]}
    # ...and the side holding more of the merged client's records keeps its id.
    merged = [r for records in scenario.merged_records.values() for r in records] + [FAMILY_LEAD]
    sides = {clients[r]: sum(clients[m] == clients[r] for m in merged) for r in scenario.household}
    bigger = max(sides, key=lambda client: sides[client])
    assert len(set(sides.values())) == 2, sides  # no tie, or the test would not say much
    assert bigger == scenario.merged_id
    assert set(sides) - {bigger} and scenario.merged_id not in set(sides) - {bigger}


def test_a_same_decision_joins_the_missed_pair_and_leaves_the_queue(scenario: Scenario) -> None:
    a, b = scenario.missed
    clients = scenario.clients()
    assert clients[a] == clients[b]
    queued = scenario.frame(
        "select count(*) as n from identity.review_queue where (record_id_a, record_id_b) in ((?, ?), (?, ?))",
        [a, b, b, a],
    )
    assert queued["n"].item() == 0


def test_each_decision_is_logged_once_beside_the_split_it_caused(scenario: Scenario) -> None:
    log = scenario.frame(
        "select change, client_id, previous_client_ids, decision_id, outcome, run_id from identity.identity_changes"
    )
    reviews = log.filter(pl.col("decision_id").is_not_null()).sort("change")
    assert reviews.select("change", "outcome").rows() == [
        ("review_different", "split"),
        ("review_same", "merged"),
    ]
    run_ids = [run.run_id for run in scenario.runs]
    assert reviews["run_id"].unique().to_list() == [run_ids[1]]
    splits = log.filter((pl.col("change") == "split") & (pl.col("run_id") == run_ids[1]))
    assert scenario.merged_id in splits["previous_client_ids"].explode().to_list()
    metadata = scenario.runs[1].asset_materializations_for_node("identity_map")[0].metadata
    assert metadata["decisions_taking_effect"].value == {"merged": 1, "split": 1}
    assert (
        scenario.runs[2]
        .asset_materializations_for_node("identity_map")[0]
        .metadata["decisions_taking_effect"]
        .value
        == {}
    )


def test_client_360_shows_the_unmerge_and_client_identities_the_evidence(scenario: Scenario) -> None:
    a, b = scenario.household
    owners = scenario.frame(
        "select client_id, record_ids from marts.client_360 where list_has_any(record_ids, ?)", [[a, b]]
    )
    assert owners.height == 2
    # The family lead stays with the member whose mailbox it gave (email outranks phone and name).
    lead = scenario.frame(
        "select client_id, link_rule, link_evidence from marts.client_identities where record_id = ?",
        [FAMILY_LEAD],
    )
    assert lead["client_id"].unique().to_list() == [scenario.clients()[a]]
    assert lead["link_rule"].unique().to_list() == ["email"]
    assert lead["link_evidence"].unique().str.contains(r"^email email#[0-9a-f]{12}$").all()


def test_link_evidence_explains_links_with_keyed_hashes_only(scenario: Scenario) -> None:
    evidence = scenario.frame("select * from identity.link_evidence")
    rules = evidence.filter(pl.col("match_probability").is_null() & (pl.col("rule") != "review"))
    assert rules.height and rules["shared_value_hash"].str.len_chars().unique().to_list() == [64]
    candidates = scenario.frame("select email, phone from intermediate.int_identity_candidates")
    values = set(candidates["email"].drop_nulls()) | set(candidates["phone"].drop_nulls())
    text = (
        evidence.write_csv()
        + scenario.frame("select * from identity.review_queue").drop("waterfall").write_csv()
        + scenario.queue.write_csv()
    )
    assert not [v for v in values if v in text]
    # A probabilistic link is explained by its waterfall: every comparison, its level and weight.
    scored = evidence.filter(pl.col("rule") == "probabilistic")
    assert (
        scored.height
        and scored.select("comparison", "level", "bayes_factor", "match_weight")
        .null_count()
        .sum_horizontal()
        .item()
        == 0
    )
    assert scored.group_by("record_id_a", "record_id_b").agg(pl.len())["len"].min() >= 3
    queue = scenario.queue  # as the reviewer found it (deciding may well empty it)
    assert (
        queue.height
        and queue["steps"].min() >= 3
        and queue["evidence"].str.starts_with("probabilistic 0.").all()
    )
    assert queue["match_probability"].is_between(0.5, 0.95, closed="left").all()
    reviewed = evidence.filter(pl.col("rule") == "review")
    assert sorted(reviewed.select("record_id_a", "record_id_b").row(0)) == sorted(scenario.missed)
    metadata = scenario.runs[-1].asset_materializations_for_node("identity_map")[0].metadata
    table = metadata["link_evidence_sample"].value
    assert table.startswith("| link | rule |") and table.count("\n") >= 3
    assert "| probabilistic | 0." in table
    record_ids = set(scenario.clients())
    assert not [r for r in record_ids if r in table]


def test_erasure_keeps_unrelated_decisions_and_removes_the_erased_persons(scenario: Scenario) -> None:
    copy = scenario.warehouse.with_name("erasure.duckdb")
    shutil.copyfile(scenario.warehouse, copy)
    environ = {**scenario.environ, "CDP_WAREHOUSE_PATH": str(copy)}
    # The person of the joined pair is erased; the household, unrelated to them, keeps its decision.
    erased = scenario.clients()[scenario.missed[0]]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, value)
        assert _Capture().run(["erase", "--client-id", erased])[0] == 0
    with duckdb.connect(str(copy), read_only=True) as connection:
        left = connection.execute(
            "select record_id_a, record_id_b, decision from identity.review_decisions"
        ).fetchall()
    assert [(sorted(row[:2]), row[2]) for row in left] == [(sorted(scenario.household), "different")]


def test_report_seconds(scenario: Scenario) -> None:
    print(
        "identity review pipeline seconds:",
        scenario.seconds,
        "missed pair from the queue:",
        scenario.from_queue,
    )
