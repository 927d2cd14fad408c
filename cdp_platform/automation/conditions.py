"""Declarative automation of the cleansed layer: a cleansed partition follows its raw partition.

``AutomationCondition.eager()`` (Dagster 1.13) requests an asset partition when a dependency
partition updated since it was last handled, or when it newly goes missing, and never while a
dependency is missing or in progress, nor while the asset itself is in progress (the guard that
keeps one partition from being requested again while its run is queued or running).

Eager looks only at the latest time partition, which with ``end_offset=1`` is today: the daily
schedule lands yesterday, and a backfill older days. So the latest-window clause is removed and
every partition follows its own raw partition, whichever process updated it.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

AUTOMATION_SENSOR_NAME = "automation_conditions"


def follow_dependencies() -> dg.AutomationCondition:
    return dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


def with_automation(
    assets: Iterable[dg.AssetsDefinition], condition: dg.AutomationCondition | None = None
) -> list[dg.AssetsDefinition]:
    """The same assets with ``condition`` (default :func:`follow_dependencies`) on every spec."""
    chosen = condition or follow_dependencies()
    return [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=chosen))
        for asset in assets
    ]


def automation_sensor(minimum_interval_seconds: int = 30) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition (cleansed now, the dbt models later)."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Requests asset partitions whose automation condition is true (cleansed follows raw).",
    )
