"""Operations: ingestion jobs and schedules, CRM change sensors, declarative automation, the
weekly profile rebuild, the marts' freshness, alerts.

One module per idea: ``jobs`` (one job per source, and the profile's full rebuild), ``schedules``
(yesterday daily, staggered; the weekly rebuild), ``crm_sensors`` (today's partition when the CRM
changed), ``conditions`` (cleansed follows raw, the profile follows the completed day),
``freshness`` (the marts' freshness policies and checks), ``alerts`` (run failures to a webhook).
:func:`automation_definitions` assembles them from the settings; the freshness policies are set on
the marts where the whole code location is assembled (``cdp_platform.definitions``).

Schedules, CRM sensors and the automation sensor start running by themselves in production only:
locally the bundled sandbox's day is already complete, so a CRM sensor would see "changes" on every
tick, and the automation sensor would launch runs of its own for the partitions a newcomer's
"Materialize all" is still landing (measured: a second backfill of cleansed partitions the first
one was in the middle of writing, racing it for the warehouse writer). Switch them on in the UI
when wanted. The run-failure alert runs wherever a webhook is configured.
"""

from __future__ import annotations

import dagster as dg

from cdp_platform.automation.alerts import (
    ALERT_RESOURCE_KEY,
    alert_webhook_resource,
    run_failure_alert_sensor,
)
from cdp_platform.automation.conditions import (
    PROFILE,
    automation_sensor,
    follow_dependencies,
    with_automation,
)
from cdp_platform.automation.crm_sensors import CRM_SOURCES, crm_change_sensor
from cdp_platform.automation.freshness import (
    mart_freshness_checks,
    mart_freshness_sensor,
    with_mart_freshness_policies,
)
from cdp_platform.automation.jobs import (
    ingestion_job_name,
    ingestion_jobs,
    profile_rebuild_job,
    raw_asset_keys,
)
from cdp_platform.automation.schedules import daily_ingestion_schedule, weekly_schedule
from cdp_platform.settings import Settings
from cdp_platform.webhooks.intraday import intraday_job, webhook_profile_sensor
from cdp_platform.webhooks.refresh import webhook_refresh_sensor
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS


def read_by_id_cleansed(specs) -> dict[dg.AssetKey, list[dg.AssetKey]]:
    """Raw key of each stream a webhook declaration reads objects of by id -> its cleansed assets
    (the entity and its quarantine)."""
    import cdp_platform.cleansed as cleansed

    streams = {
        dg.AssetKey(["raw", spec.source, stream])
        for spec in specs.values()
        if spec.fetch is not None
        for stream in spec.refreshes.values()
    }
    out: dict[dg.AssetKey, list[dg.AssetKey]] = {key: [] for key in sorted(streams, key=str)}
    for entity in cleansed.ENTITIES:
        key = dg.AssetKey(entity.raw_path)
        if key in out:
            out[key] += [dg.AssetKey(entity.asset_path), dg.AssetKey(entity.rejected_path)]
    return {key: keys for key, keys in out.items() if keys}


def automation_definitions(settings: Settings) -> dg.Definitions:
    """Jobs, schedules and sensors of the platform (the assets and resources come from the layers)."""
    production = settings.env == "production"
    schedule_status = dg.DefaultScheduleStatus.RUNNING if production else dg.DefaultScheduleStatus.STOPPED
    sensor_status = dg.DefaultSensorStatus.RUNNING if production else dg.DefaultSensorStatus.STOPPED
    jobs = ingestion_jobs()
    schedules = [
        daily_ingestion_schedule(source, job, settings.partitions_start, schedule_status)
        for source, job in jobs.items()
    ]
    sensors: list[dg.SensorDefinition] = [
        crm_change_sensor(source, jobs[source], default_status=sensor_status) for source in CRM_SOURCES
    ]
    sensors.append(automation_sensor(default_status=sensor_status))
    # Webhook events of today refresh today's partition of the streams they announce changes in.
    raw_keys = {source: {key.path[-1]: key for key in raw_asset_keys(source)} for source in jobs}
    sensors.append(webhook_refresh_sensor(WEBHOOK_SPECS, jobs, raw_keys, default_status=sensor_status))
    # Objects read by id (the landing job) refresh their cleansed partitions and the profile.
    cleansed_of = read_by_id_cleansed(WEBHOOK_SPECS)
    intraday = intraday_job(cleansed_of, PROFILE)
    sensors.append(webhook_profile_sensor(intraday, cleansed_of, PROFILE, default_status=sensor_status))
    rebuild = profile_rebuild_job()
    schedules.append(weekly_schedule(rebuild, default_status=schedule_status))
    freshness_checks = mart_freshness_checks(settings)
    sensors.append(mart_freshness_sensor(freshness_checks, default_status=sensor_status))
    resources = {}
    if settings.alert_webhook_set:
        sensors.append(run_failure_alert_sensor())
        resources[ALERT_RESOURCE_KEY] = alert_webhook_resource()
    return dg.Definitions(
        jobs=[*jobs.values(), rebuild, intraday],
        schedules=schedules,
        sensors=sensors,
        asset_checks=freshness_checks,
        resources=resources,
    )


__all__ = [
    "automation_definitions",
    "follow_dependencies",
    "ingestion_job_name",
    "weekly_schedule",
    "with_automation",
    "with_mart_freshness_policies",
]
