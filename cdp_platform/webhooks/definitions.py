"""The Dagster side of webhooks: the ``raw/<source>/webhook_events`` assets, the landing job, and
the sensor that starts it every 30 seconds while events wait.

The assets are daily-partitioned like every raw asset, but a landing run is not one partition: a
batch holds today's events and, around midnight or after a vendor's retries, earlier days'. So the
job is an op that reports one materialization per (source, day) it wrote, with the counts and
latencies as metadata (plotted in the UI across materializations), and one observation per source
with the receivers' counters (received, refused by reason, duplicates) and the queue depth.
"""

import statistics
from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from cdp_platform.io.resources import LakeResource
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


def landing_job(sources: list[str], first_day: date) -> dg.JobDefinition:
    @dg.op(name="land_webhook_events_op", pool=POOL)
    def land(context: dg.OpExecutionContext, lake: LakeResource, webhook_queue: WebhookQueueResource) -> None:
        with webhook_queue.open() as queue:
            stat_messages = queue.take(STATS, limit=10_000)
            stats = _sum_stats([message_json(m) for m in stat_messages])
            tracer = webhook_tracer(webhook_queue.otlp_endpoint)
            report = drain(queue, lake.lake(), first_day=first_day, tracer=tracer)
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

    return dg.JobDefinition(
        name=JOB_NAME,
        graph_def=dg.GraphDefinition(name=JOB_NAME, node_defs=[land]),
        description="Land the queued webhook events in raw/<source>/webhook_events (exactly once).",
    )


def landing_sensor(
    job: dg.JobDefinition,
    interval: int = SENSOR_INTERVAL_SECONDS,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="webhook_events_sensor",
        job=job,
        minimum_interval_seconds=interval,
        default_status=default_status,
        description="Starts land_webhook_events when events or receiver counters wait in the queue.",
    )
    def sensor(context: dg.SensorEvaluationContext, webhook_queue: WebhookQueueResource):
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
            return dg.SkipReason("no webhook events waiting")
        return dg.RunRequest(tags={"cdp/webhook_events_waiting": str(waiting)})

    return sensor


def webhook_definitions(
    partitions: dg.DailyPartitionsDefinition,
    config: "WebhookConfig | None" = None,
    specs: dict[str, WebhookSpec] | None = None,
    *,
    production: bool = False,
    otlp_endpoint: str | None = None,
) -> dg.Definitions:
    """The assets, job, sensor and queue resource. The sensor runs from the start in production and
    waits to be switched on locally, like the CRM sensors (a laptop may have no broker). Without a ``config`` (tests, a laptop) the queue
    is the local Redis; with ``CDP_EVENTS_BROKER_URL`` set the URL is an ``EnvVar`` (it may hold a
    password), resolved by Dagster at run time and never shown in the UI."""
    from cdp_platform.webhooks.queue import BROKER_URL_VAR
    from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

    specs = WEBHOOK_SPECS if specs is None else specs
    sources = webhook_sources(specs)
    job = landing_job(sources, partitions.start.date())
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
            )
        ],
        resources={"webhook_queue": resource},
    )
