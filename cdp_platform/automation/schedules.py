"""Schedules: yesterday's partition of every source, once a day, staggered per vendor.

Partition D is complete once D has ended, so each source ingests yesterday shortly after
midnight UTC. The sources start at different minutes past the hour (each declares its own): a
vendor's budget (a rolling ten-second window, a Graph app's hourly usage shared by two sources, a
daily request allowance) is spent by one run at a time, not by all runs starting together.

The weekly full rebuild of the profile (``profile_full_rebuild``, see ``jobs``) is
:func:`weekly_schedule`, on Sundays at 03:00 UTC, once the day's profile has been built.
"""

from __future__ import annotations

import datetime

import dagster as dg

from cdp_platform.sources.registry import declaration, declarations

# Each source's daily run starts at its declared minute past DAILY_HOUR_UTC (its declaration's
# ``schedule.minute``): sources sharing a budget (one app's hourly usage spent by two sources) are
# declared furthest apart.
DAILY_HOUR_UTC = 1
WEEKLY_CRON = "0 3 * * 0"  # Sundays 03:00 UTC, after every source's daily run has landed


def daily_minute() -> dict[str, int]:
    """Minutes past ``DAILY_HOUR_UTC`` of every source's daily run, from the declarations."""
    return {name: d.schedule.minute for name, d in declarations().items()}


def daily_cron(source: str) -> str:
    return f"{declaration(source).schedule.minute} {DAILY_HOUR_UTC} * * *"


def yesterday(moment: datetime.datetime) -> str:
    """The partition key of the UTC day before ``moment``."""
    utc = moment.astimezone(datetime.UTC) if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return (utc.date() - datetime.timedelta(days=1)).isoformat()


def daily_ingestion_schedule(
    source: str,
    job: dg.UnresolvedAssetJobDefinition,
    first_partition: str,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
    cron_schedule: str | None = None,
) -> dg.ScheduleDefinition:
    """``cron_schedule`` replaces the staggered daily time (a deployment drill ticks every minute)."""
    cron = cron_schedule or daily_cron(source)

    @dg.schedule(
        name=f"{job.name}_daily",
        cron_schedule=cron,
        execution_timezone="UTC",
        job=job,
        default_status=default_status,
        description=f"Yesterday's partition of {source}, at {cron} UTC.",
    )
    def _daily(context: dg.ScheduleEvaluationContext):
        partition = yesterday(context.scheduled_execution_time)
        if partition < first_partition:
            return dg.SkipReason(f"{partition} is before the first partition {first_partition}")
        # The run key makes a re-evaluated tick (daemon restart) request the same run, not a second.
        return dg.RunRequest(
            run_key=f"{job.name}:{partition}",
            partition_key=partition,
            tags={"cdp/trigger": "daily_schedule"},
        )

    return _daily


def weekly_schedule(
    job: dg.UnresolvedAssetJobDefinition | dg.JobDefinition,
    cron_schedule: str = WEEKLY_CRON,
    default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED,
) -> dg.ScheduleDefinition:
    """The weekly run of ``job``, without a partition (the profile's full rebuild); the job's tags
    (``cdp/full_refresh``) go on every run it starts."""
    return dg.ScheduleDefinition(
        name=f"{job.name}_weekly",
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        job=job,
        default_status=default_status,
        tags={"cdp/trigger": "weekly_schedule"},
        description=f"Weekly rebuild of {job.name} at {cron_schedule} UTC.",
    )
