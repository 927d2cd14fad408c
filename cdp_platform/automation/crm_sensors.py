"""Near-real-time CRM sensors: refresh today's partition when the CRM says something changed.

Each tick asks the vendor one cheap question per object: how many records changed since the
cursor? HubSpot answers a search with ``limit=1`` on the modified-date property (its ``total``);
Salesforce a ``SELECT COUNT() FROM <object> WHERE SystemModstamp >= <since>`` (its
``totalSize``). Objects with changes get a run of today's partition of their raw assets; none
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
from collections.abc import Awaitable, Callable, Mapping

import dagster as dg

from cdp_platform.automation.jobs import raw_asset_keys
from cdp_platform.http import RequestSpec, VendorClient
from cdp_platform.sources import hubspot, resource_key, salesforce
from cdp_platform.sources.hubspot.search import MODIFIED_DATE_PROPERTY, to_ms
from cdp_platform.sources.vendor import VendorResource

CRM_SOURCES = ("salesforce", "hubspot")
SENSOR_INTERVAL_SECONDS = 300

# Salesforce stream -> the sObject its query reads.
SALESFORCE_OBJECTS: dict[str, str] = {
    "accounts": "Account",
    "contacts": "Contact",
    "leads": "Lead",
    "opportunities": "Opportunity",
}

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


def hubspot_change_request(object_type: str, since: datetime.datetime) -> RequestSpec:
    prop = MODIFIED_DATE_PROPERTY[object_type]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": prop, "operator": "GTE", "value": str(to_ms(since))}]}
        ],
        "properties": ["hs_object_id"],
        "limit": 1,
    }
    return RequestSpec("POST", f"/crm/v3/objects/{object_type}/search", json=body)


async def hubspot_changes(client: VendorClient, since: datetime.datetime) -> dict[str, int]:
    """Records changed since ``since`` per HubSpot stream (one search each, its ``total``)."""
    streams = [stream.name for stream in hubspot.STREAMS]
    responses = await asyncio.gather(*(client.send(hubspot_change_request(s, since)) for s in streams))
    return {stream: int(r.json().get("total") or 0) for stream, r in zip(streams, responses, strict=True)}


async def salesforce_changes(client: VendorClient, since: datetime.datetime) -> dict[str, int]:
    """Records changed since ``since`` per Salesforce stream (one ``COUNT()`` query each)."""
    streams = [stream.name for stream in salesforce.STREAMS]
    requests = [
        salesforce.query_request(salesforce.count_query(SALESFORCE_OBJECTS[s], since)) for s in streams
    ]
    responses = await asyncio.gather(*(client.send(request) for request in requests))
    return {stream: int(r.json().get("totalSize") or 0) for stream, r in zip(streams, responses, strict=True)}


PROBES: Mapping[str, Probe] = {"hubspot": hubspot_changes, "salesforce": salesforce_changes}


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
    probe = PROBES[source]
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
