"""Declarative automation: a cleansed partition follows its raw partition, and the profile waits
until every source of the day is in.

Cleansed. ``AutomationCondition.eager()`` (Dagster 1.13) requests an asset partition when a dependency
partition updated since it was last handled, or when it newly goes missing, and never while a
dependency is missing or in progress, nor while the asset itself is in progress (the guard that
keeps one partition from being requested again while its run is queued or running).

Eager looks only at the latest time partition, which with ``end_offset=1`` is today: the daily
schedule lands yesterday, and a backfill older days. So the latest-window clause is removed and
every partition follows its own raw partition, whichever process updated it.

Profile. Day D is complete once every source has landed it, which the daily schedules do from 01:05
UTC on D+1 (the CRM sensors only ever refresh today). So the profile's models are rebuilt once a day:
after the 01:00 tick, a staging model waits until its cleansed table's partition D was updated since
that tick, and every later model (identity resolution, scores, marts) until each of its inputs was
rebuilt since then or is requested with it. Through the chain, nothing past staging runs before the
last source of the day is in, and then all of it runs in one request. The incremental timeline
rebuilds the window of D once the models it reads were rebuilt after D ended. A source that never
lands holds the profile back, which the marts' freshness checks then report. Inputs from outside
the profile (anything not cleansed nor in its groups) are not waited for.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import dagster as dg

from cdp_platform.automation.schedules import DAILY_HOUR_UTC

AUTOMATION_SENSOR_NAME = "automation_conditions"
# The tick after which the day that just ended is being ingested (the first daily run is at 01:05).
DAY_TICK_CRON = f"0 {DAILY_HOUR_UTC} * * *"
CLEANSED = dg.AssetSelection.key_prefixes("cleansed")
# The profile: the dbt models by folder and the Python steps between them (cdp_platform.profile).
PROFILE_GROUPS = ("staging", "intermediate", "profile")
PROFILE = dg.AssetSelection.groups(*PROFILE_GROUPS)
# The dbt seeds (ISO countries) staging reads: not part of the daily chain, loaded when missing or
# changed (cdp_platform.profile.translator.seed_automation_condition) and by the full rebuild.
REFERENCE_GROUP = "reference"


def follow_dependencies() -> dg.AutomationCondition:
    return dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window())


def completed_day() -> dg.AutomationCondition:
    """Yesterday's partition: daily partitions end one day ahead, so the latest one is today."""
    return (
        dg.AutomationCondition.in_latest_time_window(datetime.timedelta(days=2))
        & ~dg.AutomationCondition.in_latest_time_window()
    ).with_label("completed_day")


def profile_after_the_day() -> dg.AutomationCondition:
    """For the unpartitioned profile assets: once a day, after every source of the day is in."""
    tick = dg.AutomationCondition.cron_tick_passed(DAY_TICK_CRON, "UTC")
    day_landed = (completed_day() & dg.AutomationCondition.newly_updated().since(tick)).with_label(
        "day_landed_since_tick"
    )
    inputs_rebuilt = (
        dg.AutomationCondition.newly_updated().since(tick) | dg.AutomationCondition.will_be_requested()
    ).with_label("rebuilt_since_tick")
    return (
        tick.since_last_handled()
        & dg.AutomationCondition.all_deps_match(day_landed).allow(CLEANSED)
        & dg.AutomationCondition.all_deps_match(inputs_rebuilt).allow(PROFILE)
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("profile_after_the_day")


def day_landed_everywhere() -> dg.AutomationCondition:
    """For ``sources_landed``: yesterday's partition, once every source's cleansed tables hold it
    (again when one of them is updated later)."""
    return (follow_dependencies() & completed_day()).with_label("day_landed_everywhere")


def timeline_after_the_day() -> dg.AutomationCondition:
    """For the daily-partitioned timeline: the completed day's window, once what it reads was rebuilt
    after that day ended (a day's rollover alone requests nothing)."""
    handled = (
        completed_day().newly_true()
        | dg.AutomationCondition.newly_requested()
        | dg.AutomationCondition.newly_updated()
    )
    return (
        completed_day()
        # Its cleansed deps (the tables it reads through the intermediate models, declared so a
        # backfill of chosen partitions includes it) land all day long: only the rebuilt models
        # it reads mean the day is complete.
        & dg.AutomationCondition.any_deps_updated().ignore(CLEANSED).since(handled)
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("timeline_after_the_day")


def with_automation(
    assets: Iterable[dg.AssetsDefinition], condition: dg.AutomationCondition | None = None
) -> list[dg.AssetsDefinition]:
    """The same assets with ``condition`` (default :func:`follow_dependencies`) on every spec."""
    chosen = condition or follow_dependencies()
    return [
        asset.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=chosen))
        for asset in assets
    ]


def automation_sensor(
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition (cleansed, then the profile)."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=default_status,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Requests asset partitions whose automation condition is true (cleansed follows raw, "
        "the profile follows the completed day).",
    )
