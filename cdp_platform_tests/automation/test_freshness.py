"""Freshness of the marts: a policy and a check on each, from one setting; a stale mart fails its
check, a fresh one passes, one never built fails; the sensor runs what is due and nothing else."""

from __future__ import annotations

import dataclasses
import datetime
import time

import dagster as dg
import pytest

from cdp_platform.automation.freshness import (
    FRESHNESS_CHECK_NAME,
    FRESHNESS_SENSOR_NAME,
    MART_KEYS,
    mart_freshness_checks,
    mart_freshness_sensor,
)
from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings

SETTINGS = load_settings({"CDP_PARTITIONS_START": "2026-11-01"})
LAST_UPDATED = "dagster/last_updated_timestamp"  # when the data was last updated, if not the event's time


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(SETTINGS)


def test_every_mart_has_a_freshness_policy_and_a_freshness_check_from_the_setting(defs):
    assert SETTINGS.mart_max_age_hours == 26
    graph = defs.resolve_asset_graph()
    window = datetime.timedelta(hours=26)
    for key in MART_KEYS:
        assert graph.get(key).freshness_policy == dg.FreshnessPolicy.time_window(fail_window=window)
        assert dg.AssetCheckKey(key, FRESHNESS_CHECK_NAME) in graph.asset_check_keys
    # Only the marts: the models feeding them have neither.
    assert graph.get(dg.AssetKey("int_client_purchases")).freshness_policy is None
    assert {k.asset_key for k in graph.asset_check_keys if k.name == FRESHNESS_CHECK_NAME} == set(MART_KEYS)
    check = defs.get_asset_checks_def(dg.AssetCheckKey(MART_KEYS[0], FRESHNESS_CHECK_NAME))
    [spec] = [s for s in check.check_specs if s.asset_key == MART_KEYS[0]]
    assert spec.metadata["dagster/freshness_params"].data["lower_bound_delta_seconds"] == window.total_seconds()

    repository = defs.get_repository_def()
    sensor = repository.get_sensor_def(FRESHNESS_SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # locally, like the schedules
    production = build_definitions(dataclasses.replace(SETTINGS, env="production", mart_max_age_hours=30))
    assert production.get_repository_def().get_sensor_def(FRESHNESS_SENSOR_NAME).default_status == (
        dg.DefaultSensorStatus.RUNNING
    )
    assert production.resolve_asset_graph().get(MART_KEYS[0]).freshness_policy == (
        dg.FreshnessPolicy.time_window(fail_window=datetime.timedelta(hours=30))
    )


def test_the_age_comes_from_the_environment():
    assert load_settings({"CDP_MART_MAX_AGE_HOURS": "48"}).mart_max_age_hours == 48
    with pytest.raises(ValueError, match="CDP_MART_MAX_AGE_HOURS"):
        load_settings({"CDP_MART_MAX_AGE_HOURS": "0"})


def test_a_stale_mart_fails_its_check_a_fresh_one_passes_and_the_sensor_runs_only_what_is_due():
    instance = dg.DagsterInstance.ephemeral()
    checks = mart_freshness_checks(SETTINGS)
    sensor = mart_freshness_sensor(checks)
    defs = dg.Definitions(
        assets=[dg.AssetSpec(key) for key in MART_KEYS],
        asset_checks=checks,
        sensors=[sensor],
        jobs=[dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*checks))],
    )
    now = time.time()
    updated = {  # hours since each mart's data was last updated; client_scores never was
        dg.AssetKey("client_360"): 27,
        dg.AssetKey("client_identities"): 1,
        dg.AssetKey("client_interactions"): 25.5,
    }
    for key, hours in updated.items():
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=key, metadata={LAST_UPDATED: dg.MetadataValue.timestamp(now - hours * 3600)}
            )
        )

    # Never run: the sensor asks for all four.
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    first = sensor(context)
    assert isinstance(first, dg.RunRequest)
    assert set(first.asset_check_keys) == {dg.AssetCheckKey(k, FRESHNESS_CHECK_NAME) for k in MART_KEYS}

    result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    evaluations = {e.asset_key.path[0]: e for e in result.get_asset_check_evaluations()}
    assert {name: e.passed for name, e in evaluations.items()} == {
        "client_360": False,
        "client_identities": True,
        "client_interactions": True,
        "client_scores": False,
    }
    assert evaluations["client_360"].severity == dg.AssetCheckSeverity.ERROR
    assert "overdue" in evaluations["client_360"].description
    assert "never" in evaluations["client_scores"].description

    # Failed checks wait for their mart's next update; passed ones are fresh for hours yet.
    second = sensor(dg.build_sensor_context(instance=instance, definitions=defs, cursor=context.cursor))
    assert isinstance(second, dg.SkipReason)
