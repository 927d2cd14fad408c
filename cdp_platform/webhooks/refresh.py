"""The first part of the fast path: when webhook events of today land, refresh today's partition of
the streams that hold the changed objects, so they reach the raw and cleansed layers within minutes
instead of the next day.

The sensor reads the landing's materializations of ``raw/<source>/webhook_events`` for today (their
``event_types`` metadata), maps event types to streams through the vendor's declaration
(``WebhookSpec.refreshes``) and requests a run of the source's ingestion job for today with only those
streams, as the CRM change sensors do. The cleansed partitions follow by their automation condition.

Only for the vendors whose declaration has no read by id (``WebhookSpec.fetch``): the others' objects
are read by id by the landing job itself (:mod:`cdp_platform.webhooks.fetch`). Events of earlier
days trigger nothing; the daily schedule has read, or will read, their day.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Mapping

import dagster as dg

from cdp_platform.automation.crm_sensors import run_in_flight, utc_now
from cdp_platform.webhooks.definitions import webhook_asset_key
from cdp_platform.webhooks.spec import WebhookSpec

SENSOR_NAME = "webhook_refresh_sensor"


def _streams_landed(
    instance: dg.DagsterInstance, spec: WebhookSpec, today: str, after: int | None
) -> tuple[set[str], int | None]:
    """Streams to refresh from today's landings after storage id ``after``; the newest storage id."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=webhook_asset_key(spec.source), asset_partitions=[today], after_storage_id=after
        ),
        limit=1000,
        ascending=True,
    ).records
    event_types: set[str] = set()
    newest = after
    for record in records:
        newest = max(newest or 0, record.storage_id)
        materialization = record.asset_materialization
        value = materialization.metadata.get("event_types") if materialization else None
        if value is not None:
            event_types.update(value.value if hasattr(value, "value") else value)
    return spec.streams_to_refresh(event_types), newest


def webhook_refresh_sensor(
    specs: Mapping[str, WebhookSpec],
    jobs: Mapping[str, dg.UnresolvedAssetJobDefinition],
    raw_keys: Mapping[str, Mapping[str, dg.AssetKey]],
    *,
    clock: Callable[[], datetime.datetime] = utc_now,
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """``jobs``: each source's ingestion job; ``raw_keys``: source -> stream -> raw asset key. Sources
    without a job (a declared webhook whose source is not ingested) are left out."""
    refreshable = {
        spec.source: spec
        for spec in specs.values()
        if spec.refreshes and spec.fetch is None and spec.source in jobs
    }
    # What each declaration refreshes, e.g. "crm contacts", read from the declarations themselves.
    announced = ", ".join(
        f"{source} {stream}"
        for source, spec in refreshable.items()
        for stream in dict.fromkeys(spec.refreshes.values())
    )

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[jobs[source] for source in refreshable],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Refreshes today's partition of the streams whose objects today's landed webhook events "
            f"announce ({announced or 'no declared webhook refreshes a stream'})."
        ),
    )
    def _refresh(context: dg.SensorEvaluationContext):
        today = clock().astimezone(datetime.UTC).date().isoformat()
        cursor: dict[str, int | None] = json.loads(context.cursor) if context.cursor else {}
        requests = []
        for source, spec in refreshable.items():
            job = jobs[source]
            if run_in_flight(context.instance, job.name, today):
                continue  # its events stay after the cursor: the next tick requests them
            streams, newest = _streams_landed(context.instance, spec, today, cursor.get(source))
            if newest is not None:
                cursor[source] = newest
            if not streams:
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"webhooks:{source}:{today}:{newest}",
                    job_name=job.name,
                    partition_key=today,
                    asset_selection=[raw_keys[source][stream] for stream in sorted(streams)],
                    tags={"cdp/trigger": "webhooks", "cdp/changes": ",".join(sorted(streams))},
                )
            )
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if requests else "no webhook events of today landed since the last tick",
        )

    return _refresh
