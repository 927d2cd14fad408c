"""Cleansed follows raw: a raw partition's update requests that cleansed partition, old days too."""

from __future__ import annotations

import dagster as dg
import pytest

from cdp_platform.automation import with_automation
from cdp_platform.automation.conditions import follow_dependencies
from cdp_platform.cleansed import ENTITIES, cleansed_assets
from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings
from cdp_platform.sources import SOURCES
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.sources.raw_assets import build_raw_assets

SETTINGS = load_settings({"CDP_PARTITIONS_START": "2026-11-01"})
PARTITIONS = daily_partitions(SETTINGS.partitions_start)


@pytest.fixture(scope="module")
def assets() -> list[dg.AssetsDefinition]:
    raw = [
        build_raw_assets(name, module.STREAMS, f"{name}_api", PARTITIONS) for name, module in SOURCES.items()
    ]
    return raw + with_automation(cleansed_assets(PARTITIONS, "US"))


def test_every_cleansed_table_and_quarantine_gets_the_condition_and_raw_none(assets):
    conditions = {key: c for a in assets for key, c in a.automation_conditions_by_key.items()}
    cleansed = {key for a in assets for key in a.keys if key.path[0] == "cleansed"}
    # Every declared entity's table and quarantine (17 entities of seven sources today).
    assert set(conditions) == cleansed and len(cleansed) == 2 * len(ENTITIES) >= 34
    # Never while the partition or a dependency of it is being materialized; never with a raw gap.
    rendered = str(follow_dependencies())
    assert (
        "any_deps_in_progress" in rendered and "'in_progress'" in rendered and "any_deps_missing" in rendered
    )
    assert "in_latest_time_window" not in rendered


def test_a_raw_update_of_an_old_day_requests_that_day_of_its_cleansed_entity_only(assets):
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(assets=assets, resources=build_definitions(SETTINGS).resources)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing was handled yet: the first evaluation only records state

    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=["raw", "hubspot", "contacts"], partition="2026-11-03")
    )
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    table = dg.AssetKey(["cleansed", "hubspot", "contacts"])
    quarantine = dg.AssetKey(["cleansed", "hubspot", "contacts_rejected"])
    assert second.get_requested_partitions(table) == {"2026-11-03"}
    assert second.get_requested_partitions(quarantine) == {"2026-11-03"}
    assert second.total_requested == 2  # no other entity, no other day

    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0  # handled: requested once, not on every tick
