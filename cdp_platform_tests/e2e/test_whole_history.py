"""Every layer, from the vendor APIs to client_360, over the whole history of a short sandbox.

The sandbox serves ten days of history, so materializing eleven daily partitions of raw and
cleansed, then the profile, is "materialize everything". Checks must pass (quarantine and the
CLV fit, which a ten-day history cannot support, only warn), and client_360 must hold one row per
resolved client. Every identity candidate (CRM and lead records, commenters, tweet authors, web
visitors) is graded against the sandbox's truth: no client may hold two true persons, and the
identified rows of client_360 are the true persons plus the pieces missed links leave.

Raw writes only to the lake, a folder for both warehouse kinds: the module lands the raw history
once and each kind's test starts from a copy of it (its runs and checks asserted with the test's).
"""

import datetime

import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.identity import evaluate
from cdp_platform.io.warehouse import connect_warehouse
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.settings import load_settings
from cdp_platform_tests.e2e.landing import Landing, land_raw
from cdp_platform_tests.sources.support import SANDBOX_TODAY, sandbox_environ

PERSONS = 600
SPAN_DAYS = 10
WARNINGS_ALLOWED = {"quarantine_empty", "fit_supported", "schema_drift"}


def history_days() -> list[str]:
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    return [(today - datetime.timedelta(days=n)).isoformat() for n in range(SPAN_DAYS, -1, -1)]


@pytest.fixture(scope="module")
def raw_history(tmp_path_factory) -> Landing:
    """Every raw asset over the eleven days, landed once for both warehouse kinds."""
    return land_raw(
        sandbox_environ(tmp_path_factory.mktemp("raw_history"), PERSONS, SPAN_DAYS), history_days()
    )


@pytest.mark.slow
@pytest.mark.timeout(900)  # the DuckLake variant: every write is a PostgreSQL commit and S3 puts
@pytest.mark.parametrize("warehouse", ["file", "ducklake"])
def test_materialize_everything_builds_client_360(warehouse, raw_history, tmp_path, monkeypatch, request):
    environ = sandbox_environ(tmp_path, PERSONS, SPAN_DAYS)
    raw_history.copy_to(tmp_path / "lake")
    if warehouse == "ducklake":
        # Catalog in the machine's PostgreSQL, Parquet files on moto's S3 server; dbt on the
        # 'ducklake' target (chosen by the settings).
        environ.update(request.getfixturevalue("ducklake_environ"))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # dbt reads the warehouse path from the environment
    settings = load_settings(environ)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    days = history_days()

    def keys(predicate):
        return [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and predicate(k)]

    raw = keys(lambda k: k.path[0] == "raw")
    assert sorted(raw) == raw_history.keys, (
        "the landing covers every raw asset of this warehouse's definitions"
    )
    cleansed = keys(lambda k: k.path[0] == "cleansed")
    profile = keys(lambda k: graph.get(k).partitions_def is None and k.path[0] != "pseudonymized")
    # The pseudonymized copies are made of the finished marts, the timeline included.
    pseudonymized = keys(lambda k: k.path[0] == "pseudonymized")
    jobs = [
        dg.define_asset_job("cleansed", selection=cleansed),
        dg.define_asset_job("profile", selection=profile),
        dg.define_asset_job("timeline", selection=[dg.AssetKey("client_interactions")]),
        dg.define_asset_job("pseudonymized", selection=pseudonymized),
    ]
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=jobs))
    instance = dg.DagsterInstance.ephemeral()
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    results = [
        *raw_history.results,
        defs.resolve_job_def("cleansed").execute_in_process(tags=window, instance=instance),
        defs.resolve_job_def("profile").execute_in_process(instance=instance),
        defs.resolve_job_def("timeline").execute_in_process(tags=window, instance=instance),
        defs.resolve_job_def("pseudonymized").execute_in_process(instance=instance),
    ]
    assert all(r.success for r in results)
    materialized = {e.asset_key for r in results for e in r.get_asset_materialization_events()}
    assert set(raw) | set(cleansed) | set(profile) | set(pseudonymized) <= materialized
    assert dg.AssetKey("client_interactions") in materialized
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for r in results
        for e in r.get_asset_check_evaluations()
        if not e.passed and e.check_name not in WARNINGS_ALLOWED
    ]
    assert failed == []

    with connect_warehouse(settings.warehouse, read_only=True) as con:
        clients = con.execute("select count(*), count(distinct client_id) from marts.client_360").fetchone()
        resolved = con.execute("select count(distinct client_id) from identity.identity_map").fetchone()[0]
        mapping = con.execute("select record_id, client_id from identity.identity_map").pl()
    assert clients[0] == clients[1] == resolved

    # Every candidate graded against the truth: CRM and lead records by their ids, commenters,
    # authors and web visitors through the records that carry their profile ids.
    config = SandboxConfig(
        persons=PERSONS, seed=7, today=datetime.date.fromisoformat(SANDBOX_TODAY), span_days=SPAN_DAYS
    )
    write_truth(config, tmp_path / "truth")
    truth = pl.read_parquet(tmp_path / "truth" / "records.parquet")
    with connect_warehouse(settings.warehouse, read_only=True) as con:
        persons = candidate_persons(con, truth)
        identified = con.execute("select client_id, is_identified from marts.client_360").pl()
    graded = mapping.join(persons, on="record_id")
    assert graded.height == mapping.height, "every candidate maps to one true person"
    scores = evaluate(graded.select("record_id", "client_id"), graded.select("record_id", "person_id"))
    print("identity scores over every candidate:", scores)
    assert scores["precision"] >= 0.999, scores
    assert scores["multi_person_clusters"] == 0, scores

    # client_360 holds one row per true person, off only by identity errors: with no mixed client,
    # its identified rows are exactly the persons plus one row per extra piece a person is split in.
    known = graded.join(identified.filter("is_identified").select("client_id"), on="client_id")
    pieces = known.group_by("person_id").agg(pl.col("client_id").n_unique().alias("clients"))
    extra = int((pieces["clients"] - 1).sum())
    print(
        f"client_360: {identified.height} rows, {known['client_id'].n_unique()} identified, "
        f"{pieces.height} identified true persons, {extra} extra rows from missed links"
    )
    assert known["client_id"].n_unique() == pieces.height + extra
    # Measured: 544 identified rows for 530 persons (14 extra, 2.6 %; 72 before the chosen-number
    # and handle_name links): Facebook commenters whose name alone cannot say who they are (see the
    # identity quality test). Pairwise recall over these candidates is lower (0.75) because
    # anonymous web visitors count as candidates and stay apart until they log in.
    assert extra <= 0.05 * pieces.height, "identity recall collapsed: far more split persons than measured"

    # identity_map grades itself against the sandbox's own records; it must agree with this test's
    # independent grading, which went through the warehouse's staging tables.
    meta = next(
        e.materialization.metadata
        for r in results
        for e in r.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("identity_map")
    )
    assert meta["eval_precision"].value == pytest.approx(scores["precision"], abs=1e-6)
    assert meta["eval_recall"].value == pytest.approx(scores["recall"], abs=1e-6)
    assert meta["eval_multi_person_clusters"].value == 0
    assert meta["eval_ungraded_records"].value == 0
    assert meta["eval_identified_clients"].value == known["client_id"].n_unique()
    assert meta["eval_identified_persons"].value == pieces.height
    anonymous = graded.join(identified.filter(~pl.col("is_identified")).select("client_id"), on="client_id")
    assert set(anonymous["record_id"].str.split(":").list.first().unique()) == {"google_analytics"}


def candidate_persons(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> pl.DataFrame:
    """(record_id, person_id) for every identity candidate the pipeline made from the sandbox.

    CRM records and lead forms keep their vendor id; a commenter, a tweet author and a web visitor
    are keyed by their profile id, whose person is the person of any raw record carrying it.
    """
    people = truth.filter(pl.col("person_id").is_not_null())
    records = people.select(
        (pl.col("stream").str.replace("/", ":") + ":" + pl.col("record_id")).alias("record_id"), "person_id"
    )
    profiles = [records]
    for table, key, prefix in (
        ("stg_facebook__post_comments", "facebook_id", "facebook:commenters:"),
        ("stg_instagram__media_comments", "instagram_username", "instagram:commenters:"),
        ("stg_twitter__mentions", "author_id", "twitter:authors:"),
    ):
        carried = con.execute(f"select record_id, {key} as profile from staging.{table}").pl()
        profiles.append(
            carried.join(people.select("record_id", "person_id"), on="record_id")
            .select((pl.lit(prefix) + pl.col("profile").cast(pl.String)).alias("record_id"), "person_id")
            .unique()
        )
    visits = people.filter(pl.col("stream") == "google_analytics/user_daily_activity")
    profiles.append(
        visits.select(
            (pl.lit("google_analytics:visitors:") + pl.col("record_id").str.split(":").list.get(1)).alias(
                "record_id"
            ),
            "person_id",
        ).unique()
    )
    persons = pl.concat(profiles).unique()
    assert persons["record_id"].n_unique() == persons.height, "a profile id carried by two true persons"
    return persons
