"""Daily schedules request yesterday's partition of each source; jobs hold one source each."""

from __future__ import annotations

import dataclasses
import datetime

import dagster as dg
import pytest

from cdp_platform.automation import automation_definitions, weekly_schedule
from cdp_platform.automation.jobs import raw_asset_keys
from cdp_platform.automation.schedules import daily_cron, daily_minute
from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings
from cdp_platform.sources import SOURCES

SETTINGS = load_settings({"CDP_PARTITIONS_START": "2026-11-01", "CDP_SANDBOX_TODAY": "2026-11-26"})


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    defs = build_definitions(SETTINGS)
    return defs.get_repository_def()


def test_every_source_has_a_job_of_its_raw_assets_only(repository):
    for source in SOURCES:
        job = repository.get_job(f"ingest_{source}")
        assert set(job.asset_layer.executable_asset_keys) == set(raw_asset_keys(source))
        assert job.partitions_def is not None
        assert job.partitions_def.get_partition_keys()[0] == "2026-11-01"


def test_daily_schedules_request_yesterday_for_each_source_at_distinct_minutes(repository):
    at = datetime.datetime(2026, 11, 26, 1, 5, tzinfo=datetime.UTC)
    for source in SOURCES:
        schedule = repository.get_schedule_def(f"ingest_{source}_daily")
        assert schedule.cron_schedule == daily_cron(source)
        assert schedule.execution_timezone == "UTC"
        assert schedule.job_name == f"ingest_{source}"
        [request] = schedule.evaluate_tick(
            dg.build_schedule_context(
                scheduled_execution_time=at.replace(minute=daily_minute()[source]), repository_def=repository
            )
        ).run_requests
        assert request.partition_key == "2026-11-25"
        assert request.run_key == f"ingest_{source}:2026-11-25"
    assert len(set(daily_minute().values())) == len(SOURCES) == len(daily_minute())


def test_a_schedule_skips_days_before_the_first_partition(repository):
    schedule = repository.get_schedule_def("ingest_hubspot_daily")
    result = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=datetime.datetime(2026, 11, 1, 1, 15, tzinfo=datetime.UTC),
            repository_def=repository,
        )
    )
    assert not result.run_requests and "before the first partition" in result.skip_message


def test_locally_schedules_and_crm_sensors_wait_to_be_switched_on_and_run_in_production():
    local = automation_definitions(SETTINGS).get_repository_def()
    assert {s.default_status for s in local.schedule_defs} == {dg.DefaultScheduleStatus.STOPPED}
    assert local.get_sensor_def("hubspot_changes").default_status == dg.DefaultSensorStatus.STOPPED
    # Locally it would race a newcomer's "Materialize all" with runs of its own.
    assert local.get_sensor_def("automation_conditions").default_status == dg.DefaultSensorStatus.STOPPED
    assert "run_failure_alert" not in {s.name for s in local.sensor_defs}  # no webhook configured
    production = automation_definitions(dataclasses.replace(SETTINGS, env="production")).get_repository_def()
    assert {s.default_status for s in production.schedule_defs} == {dg.DefaultScheduleStatus.RUNNING}
    assert {s.default_status for s in production.sensor_defs} == {dg.DefaultSensorStatus.RUNNING}


def test_weekly_schedule_hook_rebuilds_a_given_job():
    @dg.asset
    def mart() -> int:
        return 1

    job = dg.define_asset_job("profile_marts", selection=[mart])
    schedule = weekly_schedule(job)
    assert schedule.name == "profile_marts_weekly"
    assert schedule.cron_schedule == "0 3 * * 0"
    result = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=datetime.datetime(2026, 11, 29, 3, tzinfo=datetime.UTC)
        )
    )
    assert len(result.run_requests) == 1
