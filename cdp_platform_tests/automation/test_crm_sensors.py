"""CRM sensors against the in-process sandbox: no change, no run; a change, today's partition."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from cdp_platform.automation.crm_sensors import check_window_start, crm_change_sensor
from cdp_platform.automation.jobs import ingestion_job
from cdp_platform.definitions import layer_definitions
from cdp_platform.sandbox.in_process import sandbox_app, sandbox_config
from cdp_platform.sandbox.wiring import sandbox_server
from cdp_platform.settings import load_settings
from cdp_platform.sources import raw_definitions, resource_key, salesforce
from cdp_platform.sources.salesforce.declaration import OBJECTS as SALESFORCE_OBJECTS

TODAY = datetime.date(2026, 11, 26)
PERSONS = 300
NOW = datetime.datetime(2026, 11, 26, 23, 59, 59, 999000, tzinfo=datetime.UTC)
SETTINGS = load_settings(
    {
        "CDP_SANDBOX_TODAY": TODAY.isoformat(),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_PARTITIONS_START": "2026-11-01",
    }
)
STREAMS = {
    "hubspot": ("contacts", "companies", "deals"),
    "salesforce": ("accounts", "contacts", "leads", "opportunities"),
}


@pytest.fixture(scope="module")
def data():
    return sandbox_app(sandbox_config(PERSONS, SETTINGS.sandbox.seed, TODAY), "none")[1]


@pytest.fixture(scope="module")
def resources():
    return raw_definitions(SETTINGS, sandbox_server(SETTINGS)).resources


def last_change(data, source: str) -> datetime.datetime:
    return max(data.modified_at(f"{source}/{s}", data.count(f"{source}/{s}") - 1) for s in STREAMS[source])


def changed_since(data, source: str, since: datetime.datetime) -> set[str]:
    end = datetime.datetime.combine(TODAY + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)
    return {s for s in STREAMS[source] if len(data.window(f"{source}/{s}", since, end)) > 0}


def tick(source: str, resources, cursor: str | None, instance: dg.DagsterInstance | None = None):
    job = ingestion_job(source)
    sensor = crm_change_sensor(source, job, clock=lambda: NOW)
    defs = dg.Definitions.merge(layer_definitions(SETTINGS), dg.Definitions(jobs=[job], sensors=[sensor]))
    # A context manager, as the code server opens it: vendor resources nest the in-process server.
    with dg.build_sensor_context(
        instance=instance or dg.DagsterInstance.ephemeral(),
        cursor=cursor,
        resources={resource_key(source): resources[resource_key(source)]},
        definitions=defs,
    ) as context:
        return sensor.evaluate_tick(context)


@pytest.mark.parametrize("source", ["hubspot", "salesforce"])
def test_no_change_since_the_cursor_requests_nothing_and_moves_the_cursor(source, data, resources):
    latest = last_change(data, source)
    assert latest.date() == TODAY  # the sandbox changed records today: the test checks a real boundary
    cursor = (latest + datetime.timedelta(seconds=1)).isoformat()
    result = tick(source, resources, cursor)
    assert result.run_requests == []
    assert result.cursor == NOW.isoformat()
    assert f"no {source} change" in result.skip_message


@pytest.mark.parametrize("source", ["hubspot", "salesforce"])
def test_changes_since_the_cursor_request_todays_partition_of_the_changed_streams(source, data, resources):
    latest = last_change(data, source)
    since = latest - datetime.timedelta(hours=3)
    expected = changed_since(data, source, since)
    assert expected  # the sandbox changed at least one stream in these three hours
    result = tick(source, resources, since.isoformat())
    [request] = result.run_requests
    assert request.partition_key == TODAY.isoformat()
    assert {key.path[-1] for key in request.asset_selection} == expected
    assert all(key.path[:2] == ["raw", source] for key in request.asset_selection)
    assert result.cursor == NOW.isoformat()


def test_first_tick_looks_from_midnight_and_never_before(data, resources):
    midnight = datetime.datetime.combine(TODAY, datetime.time(), tzinfo=datetime.UTC)
    assert check_window_start(None, NOW) == midnight
    assert check_window_start((midnight - datetime.timedelta(days=2)).isoformat(), NOW) == midnight
    [request] = tick("hubspot", resources, None).run_requests
    assert {key.path[-1] for key in request.asset_selection} == changed_since(data, "hubspot", midnight)


def test_a_run_in_flight_for_today_skips_the_tick_and_keeps_the_cursor(data, resources):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_run(
        DagsterRun(
            job_name="ingest_hubspot",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": TODAY.isoformat()},
        )
    )
    cursor = (last_change(data, "hubspot") - datetime.timedelta(hours=3)).isoformat()
    result = tick("hubspot", resources, cursor, instance)
    assert result.run_requests == [] and "in flight" in result.skip_message
    assert result.cursor == cursor


def test_salesforce_objects_cover_every_salesforce_stream():
    assert set(SALESFORCE_OBJECTS) == {stream.name for stream in salesforce.STREAMS}


def test_the_requested_run_lands_todays_partition_of_exactly_the_changed_streams(data, resources, tmp_path):
    since = last_change(data, "salesforce") - datetime.timedelta(hours=3)
    [request] = tick("salesforce", resources, since.isoformat()).run_requests
    settings = load_settings(
        {
            "CDP_SANDBOX_TODAY": TODAY.isoformat(),
            "CDP_SANDBOX_PERSONS": str(PERSONS),
            "CDP_PARTITIONS_START": "2026-11-01",
            "CDP_LAKE_ROOT": str(tmp_path / "lake"),
            "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "cdp_wh.duckdb"),
        }
    )
    job = ingestion_job("salesforce")
    defs = dg.Definitions.merge(layer_definitions(settings), dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def(job.name).execute_in_process(
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    landed = {event.asset_key for event in result.get_asset_materialization_events()}
    assert landed == set(request.asset_selection)
    for key in request.asset_selection:
        assert (tmp_path / "lake" / Path(*key.path) / f"{TODAY.isoformat()}.parquet").exists()
