"""The Dagster side of webhooks: the ``raw/<source>/webhook_events`` assets, the landing job, and
the sensor that starts it every 30 seconds while events wait.

The assets are daily-partitioned like every raw asset, but a landing run is not one partition: a
batch holds today's events and, around midnight or after a vendor's retries, earlier days'. So the
job is an op that reports one materialization per (source, day) it wrote, with the counts and
latencies as metadata (plotted in the UI across materializations), and one observation per source
with the receivers' counters (received, refused by reason, duplicates) and the queue depth.

For each vendor whose declaration reads objects by id (``WebhookSpec.fetch``), the job has a second
op after the landing, ``fetch_<source>_objects``: it reads the objects the new events name and
appends them to the raw partitions of their streams (:mod:`cdp_platform.webhooks.fetch`), reporting
one materialization per raw partition it wrote. It takes the vendor's pool, as the source's
ingestion does, and uses the source's vendor resource (``<source>_api``).
"""

import asyncio
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import dagster as dg

from cdp_platform.io.resources import LakeResource
from cdp_platform.sources.raw_assets import vendor_pool
from cdp_platform.webhooks.fetch import BY_ID_TRIGGER, FetchReport, fetch_pending, mark_pending, pending_days
from cdp_platform.webhooks.landing import STREAM, LandingReport, drain
from cdp_platform.webhooks.queue import (
    DEAD,
    DEFAULT_BROKER_URL,
    DEFAULT_VISIBILITY_TIMEOUT,
    EXCHANGE,
    STATS,
    EventQueue,
    message_json,
)
from cdp_platform.webhooks.spec import WebhookSpec
from cdp_platform.webhooks.tracing import flush, webhook_tracer

if TYPE_CHECKING:
    from cdp_platform.webhooks.config import WebhookConfig

JOB_NAME = "land_webhook_events"
SENSOR_INTERVAL_SECONDS = 30
POOL = "webhook_landing"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class WebhookQueueResource(dg.ConfigurableResource):
    """The durable event queue (see :mod:`cdp_platform.webhooks.queue`). ``broker_url`` is an
    ``EnvVar`` when ``CDP_EVENTS_BROKER_URL`` is set (it may hold a password)."""

    broker_url: str = DEFAULT_BROKER_URL
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT
    namespace: str = EXCHANGE
    otlp_endpoint: str | None = None

    def open(self) -> EventQueue:
        return EventQueue(
            self.broker_url, namespace=self.namespace, visibility_timeout=self.visibility_timeout
        )


def webhook_asset_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source, STREAM])


def webhook_sources(specs: dict[str, WebhookSpec]) -> list[str]:
    return sorted({spec.source for spec in specs.values()})


def webhook_asset_specs(sources: list[str], partitions: dg.PartitionsDefinition) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            webhook_asset_key(source),
            partitions_def=partitions,
            group_name="raw",
            kinds={"parquet"},
            description=(
                f"{source}'s webhook events as received (verified, deduplicated on the vendor's event "
                "id), one file per day of the vendor's event time; landed by the land_webhook_events "
                "job within a minute of receipt."
            ),
            metadata={"dagster/uri": f"raw/{source}/{STREAM}/<day>.parquet"},
        )
        for source in sources
    ]


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def _sum_stats(bodies: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for body in bodies:
        for source, metrics in body.get("counters", {}).items():
            for metric, count in metrics.items():
                totals[source][metric] += int(count)
    return totals


def landing_events(
    report: LandingReport, stats: dict[str, dict[str, int]], depth: int, dead: int, sources: list[str]
) -> list[dg.AssetMaterialization | dg.AssetObservation]:
    """The materializations (one per source and day written) and observations (one per source with
    receiver counters) a landing run reports."""
    out: list[dg.AssetMaterialization | dg.AssetObservation] = []
    for p in report.partitions:
        metadata: dict[str, Any] = {
            "landed": dg.MetadataValue.int(p.landed),
            "duplicates_at_landing": dg.MetadataValue.int(p.duplicates),
            "row_count": dg.MetadataValue.int(p.rows_in_partition),
            "uri": dg.MetadataValue.path(p.uri),
            "event_types": dg.MetadataValue.json(p.event_types),
        }
        if p.latencies:
            metadata["event_to_lake_seconds_p50"] = dg.MetadataValue.float(
                round(_percentile(p.latencies, 50), 3)
            )
            metadata["event_to_lake_seconds_p95"] = dg.MetadataValue.float(
                round(_percentile(p.latencies, 95), 3)
            )
        out.append(
            dg.AssetMaterialization(asset_key=webhook_asset_key(p.source), partition=p.day, metadata=metadata)
        )
    for source in sources:
        counters = stats.get(source, {})
        metadata = {
            "received": dg.MetadataValue.int(counters.get("received", 0)),
            "duplicates_at_receiver": dg.MetadataValue.int(counters.get("duplicates", 0)),
            "refused": dg.MetadataValue.int(sum(v for k, v in counters.items() if k.startswith("refused:"))),
            "landed": dg.MetadataValue.int(sum(p.landed for p in report.partitions if p.source == source)),
            "duplicates_at_landing": dg.MetadataValue.int(
                sum(p.duplicates for p in report.partitions if p.source == source)
            ),
            # Shared by all sources: one queue.
            "queue_depth": dg.MetadataValue.int(depth),
            "dead_letter_depth": dg.MetadataValue.int(dead),
        }
        for key, count in sorted(counters.items()):
            if key.startswith("refused:"):
                metadata[f"refused_{key.removeprefix('refused:')}"] = dg.MetadataValue.int(count)
        out.append(dg.AssetObservation(asset_key=webhook_asset_key(source), metadata=metadata))
    return out


def fetch_metadata(report: FetchReport) -> dict[str, Any]:
    return {
        "events": dg.MetadataValue.int(report.events),
        "days": dg.MetadataValue.json(report.days),
        "records_read": dg.MetadataValue.int(sum(len(ids) for ids in report.record_ids.values())),
        "not_found": dg.MetadataValue.int(sum(len(ids) for ids in report.missing.values())),
        "requests": dg.MetadataValue.int(report.requests),
        "dead_letters": dg.MetadataValue.int(report.dead_letters),
        "suppressed_records": dg.MetadataValue.int(report.suppressed),
    }


def fetch_op(spec: WebhookSpec, first_day: date) -> dg.OpDefinition:
    """The op reading by id the objects of ``spec.source``'s landed events (see the module docstring)."""
    from cdp_platform.sources import SOURCES, resource_key

    source = spec.source
    fetch = spec.fetch
    assert fetch is not None, source
    streams = {stream.name: stream for stream in SOURCES[source].STREAMS}
    key = resource_key(source)

    @dg.op(
        name=f"fetch_{source}_objects",
        ins={"landed": dg.In(dg.Nothing)},
        out=dg.Out(dg.Nothing),
        pool=vendor_pool(source),
        required_resource_keys={"lake", key},
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
        description=f"Reads by id the {source} objects that landed webhook events name, into their raw partitions.",
    )
    def fetch_objects(context: dg.OpExecutionContext) -> None:
        lake = context.resources.lake.lake()
        if not pending_days(lake, source):
            return
        vendor = getattr(context.resources, key)
        vendor.require_credentials()
        client = vendor.client(auth=vendor.auth())
        try:
            report = fetch_pending(
                lake,
                source,
                spec.refreshes,
                fetch,
                streams,
                client,
                first_day=first_day,
                today=datetime.now(UTC).date(),
            )
        finally:
            asyncio.run(client.aclose())
        for stream, days in report.written.items():
            for day, rows in days.items():
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=dg.AssetKey(streams[stream].asset_path),
                        partition=day,
                        metadata={"row_count": dg.MetadataValue.int(rows), "trigger": BY_ID_TRIGGER},
                    )
                )
        context.add_output_metadata(fetch_metadata(report), output_name="result")
        context.log.info(
            f"{source}: read {sum(len(v) for v in report.record_ids.values())} objects by id "
            f"({report.requests} requests) for {report.events} events of {len(report.days)} day(s)"
        )

    return fetch_objects


def landing_job(
    sources: list[str], first_day: date, fetching: dict[str, WebhookSpec] | None = None
) -> dg.JobDefinition:
    """``fetching``: the declarations of the sources whose objects the job reads by id after landing."""
    fetching = fetching or {}

    @dg.op(name="land_webhook_events_op", pool=POOL, out=dg.Out(dg.Nothing))
    def land(context: dg.OpExecutionContext, lake: LakeResource, webhook_queue: WebhookQueueResource) -> None:
        the_lake = lake.lake()

        def before_write(source: str, day: str, rows: int) -> None:
            if source in fetching:
                mark_pending(the_lake, source, day, rows)

        with webhook_queue.open() as queue:
            stat_messages = queue.take(STATS, limit=10_000)
            stats = _sum_stats([message_json(m) for m in stat_messages])
            tracer = webhook_tracer(webhook_queue.otlp_endpoint)
            report = drain(queue, the_lake, first_day=first_day, tracer=tracer, before_write=before_write)
            if tracer is not None:
                flush()
            events = landing_events(report, stats, queue.depth(), queue.depth(DEAD), sources)
            for event in events:
                context.log_event(event)
            # After the observations are recorded: a crash before this counts them again, never loses them.
            for message in stat_messages:
                message.ack()
        context.log.info(
            f"landed {report.landed} webhook events ({report.duplicates} duplicates, "
            f"{sum(report.dead_letters.values())} dead letters) from {report.taken} messages"
        )

    fetch_ops = [fetch_op(spec, first_day) for _, spec in sorted(fetching.items())]
    return dg.JobDefinition(
        name=JOB_NAME,
        graph_def=dg.GraphDefinition(
            name=JOB_NAME,
            node_defs=[land, *fetch_ops],
            dependencies={op.name: {"landed": dg.DependencyDefinition(land.name)} for op in fetch_ops},
        ),
        description="Land the queued webhook events in raw/<source>/webhook_events (exactly once), then "
        "read the objects they name by id into the raw partitions of their streams.",
    )


def landing_sensor(
    job: dg.JobDefinition,
    interval: int = SENSOR_INTERVAL_SECONDS,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    fetching: list[str] | None = None,
) -> dg.SensorDefinition:
    """``fetching``: sources whose landed events may still have objects to read (a run that failed
    after landing): a run starts for them too, though nothing waits in the queue."""
    fetching = fetching or []

    @dg.sensor(
        name="webhook_events_sensor",
        job=job,
        minimum_interval_seconds=interval,
        default_status=default_status,
        description="Starts land_webhook_events when events or receiver counters wait in the queue, or "
        "landed events still have objects to read by id.",
    )
    def sensor(context: dg.SensorEvaluationContext, webhook_queue: WebhookQueueResource, lake: LakeResource):
        in_flight = context.instance.get_run_records(
            dg.RunsFilter(job_name=JOB_NAME, statuses=IN_FLIGHT), limit=1
        )
        if in_flight:
            return dg.SkipReason("a landing run is in flight; it or the next one takes the new events")
        with webhook_queue.open() as queue:
            # A killed run's messages sit invisible on Redis; past their timeout they count again.
            queue.restore_expired()
            waiting, stats = queue.depth(), queue.depth(STATS)
        if not waiting and not stats:
            the_lake = lake.lake()
            unread = [source for source in fetching if pending_days(the_lake, source)]
            if not unread:
                return dg.SkipReason("no webhook events waiting")
            return dg.RunRequest(tags={"cdp/webhook_objects_unread": ",".join(unread)})
        return dg.RunRequest(tags={"cdp/webhook_events_waiting": str(waiting)})

    return sensor


def webhook_definitions(
    partitions: dg.DailyPartitionsDefinition,
    config: "WebhookConfig | None" = None,
    specs: dict[str, WebhookSpec] | None = None,
    *,
    production: bool = False,
    otlp_endpoint: str | None = None,
    vendor_sources: list[str] | None = None,
) -> dg.Definitions:
    """The assets, job, sensor and queue resource. The sensor runs from the start in production and
    waits to be switched on locally, like the CRM sensors (a laptop may have no broker). Without a ``config`` (tests, a laptop) the queue
    is the local Redis; with ``CDP_EVENTS_BROKER_URL`` set the URL is an ``EnvVar`` (it may hold a
    password), resolved by Dagster at run time and never shown in the UI. ``vendor_sources``: the
    sources with a vendor resource in the same definitions; those whose declaration reads objects by
    id get their fetch op (none when not given)."""
    from cdp_platform.webhooks.queue import BROKER_URL_VAR
    from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

    specs = WEBHOOK_SPECS if specs is None else specs
    sources = webhook_sources(specs)
    fetching = {
        name: spec
        for name, spec in specs.items()
        if spec.fetch is not None and spec.source in (vendor_sources or [])
    }
    job = landing_job(sources, partitions.start.date(), fetching)
    if config is None:
        resource = WebhookQueueResource(otlp_endpoint=otlp_endpoint)
    else:
        resource = WebhookQueueResource(
            broker_url=dg.EnvVar(BROKER_URL_VAR) if config.broker_url_set else config.broker_url,
            visibility_timeout=config.visibility_timeout,
            otlp_endpoint=otlp_endpoint,
        )
    return dg.Definitions(
        assets=webhook_asset_specs(sources, partitions),
        jobs=[job],
        sensors=[
            landing_sensor(
                job,
                default_status=dg.DefaultSensorStatus.RUNNING
                if production
                else dg.DefaultSensorStatus.STOPPED,
                fetching=sorted(fetching),
            )
        ],
        resources={"webhook_queue": resource},
    )
