"""Near-real-time CRM sensors: refresh today's partition when the CRM says something changed.

Each tick asks the vendor one cheap question per object: how many records changed since the
cursor? The question is the source's own ``count_changes`` (a one-result search's ``total``, a
``SELECT COUNT()``), in its folder; the sources with a sensor are those whose declaration says
``Schedule(change_sensor=True)``. Objects with changes get a run of today's partition of their raw assets; none
means no run. The cursor is the time the check started, so a change made while it ran is seen
by the next tick.

The window starts at the later of the cursor and today's midnight: today's partition holds only
today's changes, and yesterday's belong to the daily schedule. A tick skips (keeping its cursor)
while a run of today's partition of the same job is in flight, so changes pile into the next run
instead of queueing runs behind each other. A failing probe fails the tick, visibly in the UI,
with the client's redacted error, and keeps the cursor: nothing is lost.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable, Callable

import dagster as dg

from cdp_platform.automation.jobs import raw_asset_keys
from cdp_platform.http import VendorClient
from cdp_platform.sources import SOURCES, resource_key
from cdp_platform.sources.registry import declarations
from cdp_platform.sources.vendor import VendorResource

# The sources whose declarations ask for a change sensor (a CRM that answers "how many changed?").
CRM_SOURCES = tuple(name for name, source in declarations().items() if source.schedule.change_sensor)
SENSOR_INTERVAL_SECONDS = 300

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

Clock = Callable[[], datetime.datetime]
Probe = Callable[[VendorClient, datetime.datetime], Awaitable[dict[str, int]]]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def change_probe(source: str) -> Probe:
    """The source's ``count_changes(client, since) -> {stream: count}``, defined in its folder."""
    probe = getattr(SOURCES[source], "count_changes", None)
    if probe is None:
        raise TypeError(
            f"cdp_platform/sources/{source}: its declaration asks for a change sensor "
            "(Schedule(change_sensor=True)); define count_changes(client, since) in its __init__.py"
        )
    return probe


async def probe_vendor(vendor: VendorResource, probe: Probe, since: datetime.datetime) -> dict[str, int]:
    async with vendor.client() as client:
        return await probe(client, since)


def check_window_start(cursor: str | None, now: datetime.datetime) -> datetime.datetime:
    """Where this tick's window starts: the cursor, but never before today's midnight (UTC)."""
    midnight = datetime.datetime.combine(now.date(), datetime.time(), tzinfo=datetime.UTC)
    if not cursor:
        return midnight
    return max(datetime.datetime.fromisoformat(cursor), midnight)


def run_in_flight(instance: dg.DagsterInstance, job_name: str, partition: str) -> bool:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT, tags={"dagster/partition": partition}),
        limit=1,
    )
    return bool(runs)


def crm_change_sensor(
    source: str,
    job: dg.UnresolvedAssetJobDefinition,
    *,
    clock: Clock = utc_now,
    minimum_interval_seconds: int = SENSOR_INTERVAL_SECONDS,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    probe = change_probe(source)
    key = resource_key(source)
    keys_by_stream = {path.path[-1]: path for path in raw_asset_keys(source)}

    @dg.sensor(
        name=f"{source}_changes",
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        required_resource_keys={key},
        description=f"Refreshes today's partition of the {source} streams that changed since the last check.",
    )
    def _changes(context: dg.SensorEvaluationContext):
        now = clock().astimezone(datetime.UTC)
        today = now.date().isoformat()
        if run_in_flight(context.instance, job.name, today):
            return dg.SkipReason(f"a run of {today} is in flight; its changes wait for the next tick")
        since = check_window_start(context.cursor, now)
        vendor: VendorResource = getattr(context.resources, key)
        counts = asyncio.run(probe_vendor(vendor, probe, since))
        changed = sorted(stream for stream, count in counts.items() if count > 0)
        cursor = now.isoformat()
        if not changed:
            return dg.SensorResult(skip_reason=f"no {source} change since {since.isoformat()}", cursor=cursor)
        summary = ", ".join(f"{stream}={counts[stream]}" for stream in changed)
        context.log.info("%s changes since %s: %s", source, since.isoformat(), summary)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{source}:{today}:{cursor}",
                    partition_key=today,
                    asset_selection=[keys_by_stream[stream] for stream in changed],
                    tags={"cdp/trigger": "crm_changes", "cdp/changes": summary[:200]},
                )
            ],
            cursor=cursor,
        )

    return _changes
