"""The weekly full rebuild of the profile: what it selects, how it is scheduled, and that it really
rebuilds, dropping a row an incremental run keeps."""

from __future__ import annotations

import datetime
import json
import subprocess

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from cdp_platform.automation.jobs import FULL_REFRESH_TAG, PROFILE_REBUILD_JOB_NAME, profile_rebuild_job
from cdp_platform.automation.schedules import WEEKLY_CRON
from cdp_platform.cleansed.landed import SOURCES_LANDED_KEY
from cdp_platform.definitions import build_definitions
from cdp_platform.profile import DBT_PROJECT, prepare_manifest, profile_definitions
from cdp_platform.profile.project import dbt_executable
from cdp_platform.settings import load_settings
from cdp_platform_tests.profile import warehouse
from cdp_platform_tests.profile.conftest import PYTHON_ASSETS

SETTINGS = load_settings({"CDP_PARTITIONS_START": "2026-11-01", "CDP_SANDBOX_TODAY": "2026-11-26"})
PYTHON_STEPS = {"identity_map", "interaction_sentiment", "client_scores"}
TIMELINE = dg.AssetKey("client_interactions")


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(SETTINGS)


def test_the_rebuild_selects_every_model_and_python_step_of_the_profile_and_nothing_else(defs):
    job = defs.resolve_job_def(PROFILE_REBUILD_JOB_NAME)
    manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")}
    seeds = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "seed"}
    assert seeds == {"country_spellings", "iso_3166_countries"}
    selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert selected == models | PYTHON_STEPS
    # Everything between the cleansed tables and the marts (and the seeds staging reads), nothing
    # of the layers around it.
    graph = defs.resolve_asset_graph()
    between = {
        key.to_user_string()
        for key in dg.AssetSelection.key_prefixes("cleansed").downstream().resolve(graph)
        if key.path[0] not in ("cleansed", "pseudonymized", "privacy") and key != SOURCES_LANDED_KEY
    }
    assert selected == between | seeds
    assert job.tags[FULL_REFRESH_TAG] == "true"
    # The marts' dbt tests come with them, as they do in every build.
    assert dg.AssetCheckKey(dg.AssetKey("client_360"), "unique_client_360_client_id") in (
        job.asset_layer.asset_graph.asset_check_keys
    )


def test_the_weekly_schedule_requests_one_whole_run_on_sunday_night(defs):
    repository = defs.get_repository_def()
    schedule = repository.get_schedule_def(f"{PROFILE_REBUILD_JOB_NAME}_weekly")
    assert schedule.job_name == PROFILE_REBUILD_JOB_NAME
    assert (
        (schedule.cron_schedule, schedule.execution_timezone) == (WEEKLY_CRON, "UTC") == ("0 3 * * 0", "UTC")
    )
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # locally; running in production
    sunday = datetime.datetime(2026, 11, 29, 3, tzinfo=datetime.UTC)
    [request] = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=sunday, repository_def=repository)
    ).run_requests
    # No partition: a run without one builds the whole timeline, not a window of it.
    assert request.partition_key is None and request.asset_selection is None
    assert request.tags["cdp/trigger"] == "weekly_schedule"


def _interactions(path) -> dict[str, datetime.date]:
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "select interaction_id, cast(occurred_at as date) from marts.client_interactions"
        ).fetchall()
    return dict(rows)


@pytest.mark.slow
def test_the_rebuild_drops_an_interaction_whose_record_is_gone_which_a_daily_run_keeps(tmp_path, monkeypatch):
    """On the crafted warehouse of the profile tests (with their stand-ins for the Python steps):
    the rebuild job builds the timeline and what it reads; an interaction then leaves the timeline's
    input; the daily run of its day keeps it (delete+insert replaces only what is still there), the
    rebuild drops it. (The rest of the job's selection is the same dbt build of other models; it is
    left out to keep the test within its budget, dbt costs seconds an invocation.)"""
    prepare_manifest()
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        warehouse.write_cleansed(connection)
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))  # dbt finds the warehouse through it
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    # Every dbt invocation gets a target folder of its own, so each would parse the whole project
    # again (this warehouse path is new to dbt): parsed once here, they all start from that parse.
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            "dbt",
            "--profiles-dir",
            "dbt",
            "--target-path",
            str(tmp_path / "dbt_target"),
        ],
        cwd=DBT_PROJECT.project_dir.parent,
        check=True,
    )
    monkeypatch.setenv("DBT_PARTIAL_PARSE_FILE_PATH", str(tmp_path / "dbt_target" / "partial_parse.msgpack"))
    settings = load_settings({"CDP_WAREHOUSE_PATH": str(path), "CDP_PARTITIONS_START": "2025-01-01"})
    profile = profile_definitions(settings)
    # The stand-ins read and write the warehouse as ``warehouse_db``.
    # (the dbt steps read each built model's row count and columns back as ``warehouse``).
    resources = {
        "dbt": profile.resources["dbt"],
        "warehouse_db": DuckDBResource(database=str(path)),
        "warehouse": DuckDBResource(database=str(path)),
    }
    defs = dg.Definitions(
        assets=[*profile.assets, *PYTHON_ASSETS], resources=resources, jobs=[profile_rebuild_job()]
    )
    job = defs.resolve_job_def(PROFILE_REBUILD_JOB_NAME)
    instance = dg.DagsterInstance.ephemeral()
    timeline_and_inputs = dg.AssetSelection.assets(TIMELINE).upstream().resolve(
        defs.resolve_asset_graph()
    ) & set(job.asset_layer.executable_asset_keys)
    assert {dg.AssetKey("identity_map"), dg.AssetKey("int_interactions_unioned")} < timeline_and_inputs

    rebuilt = job.execute_in_process(instance=instance, asset_selection=list(timeline_and_inputs))
    assert rebuilt.success
    assert {e.asset_key for e in rebuilt.get_asset_materialization_events()} == timeline_and_inputs
    before = _interactions(path)
    gone = "twitter:mentions:T2"
    assert gone in before and len(before) > 1

    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "delete from intermediate.int_interactions_unioned where interaction_id = ?", [gone]
        )
    timeline = next(a for a in profile.assets if TIMELINE in a.keys)
    daily = dg.materialize(
        [timeline], partition_key=before[gone].isoformat(), resources=resources, instance=instance
    )
    assert daily.success
    assert _interactions(path) == before  # the daily window run keeps the orphan

    weekly = job.execute_in_process(instance=instance, asset_selection=[TIMELINE])
    assert weekly.success and weekly.dagster_run.tags[FULL_REFRESH_TAG] == "true"
    assert _interactions(path) == {k: v for k, v in before.items() if k != gone}
