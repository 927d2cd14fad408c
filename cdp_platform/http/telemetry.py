"""OpenTelemetry for vendor requests: one client span per HTTP exchange, exported over OTLP/HTTP.

A :class:`~cdp_platform.http.client.VendorClient` hands every exchange (each attempt, token calls
too) to its request hooks as a :class:`~cdp_platform.http.client.RequestRecord` once the exchange
is over. :class:`SpanHook` turns that record into a finished span with the record's own start and
end times, so the trace shows real network time; the pacer's wait before the request is an
attribute rather than part of the span.

Tracing is off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``, read by
:mod:`cdp_platform.settings`): :func:`request_hooks` then returns no hook, nothing of the SDK is
imported and no provider or exporter exists, so an untraced run pays nothing. With an endpoint,
one tracer provider per process and endpoint batches spans in a background thread and flushes
them when the process exits; the global tracer provider is left alone, so this never fights with
another library's telemetry set-up.

URLs arrive already redacted by the client; no header or body is ever recorded.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .client import RequestHook, RequestRecord

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

TRACER_NAME = "cdp_platform.http"
SERVICE_NAME = "cdp_platform"
TRACES_PATH = "/v1/traces"
EXPORT_TIMEOUT_SECONDS = 10.0

_providers: dict[str, TracerProvider] = {}
_providers_lock = threading.Lock()


def span_name(record: RequestRecord) -> str:
    """Low-cardinality, as OpenTelemetry asks: the method and the vendor, never the URL."""
    return f"HTTP {record.method.upper()} {record.vendor}"


def span_attributes(record: RequestRecord) -> dict[str, Any]:
    """Standard HTTP client attribute names where they exist, ``cdp.*`` for the client's own facts."""
    attributes: dict[str, Any] = {
        "http.request.method": record.method.upper(),
        "url.full": record.url,
        "cdp.vendor": record.vendor,
        "cdp.attempt": record.attempt,
        "cdp.pacer_key": record.pacer_key,
        "cdp.quota_wait_seconds": float(record.quota_wait),
    }
    if record.attempt > 1:
        attributes["http.request.resend_count"] = record.attempt - 1
    if record.status is not None:
        attributes["http.response.status_code"] = record.status
    if record.error_kind is not None:
        attributes["error.type"] = record.error_kind
    elif record.status is not None and record.status >= 400:
        attributes["error.type"] = str(record.status)
    return attributes


class SpanHook:
    """A request hook that records each exchange as a finished ``CLIENT`` span."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def __call__(self, record: RequestRecord) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        start_ns = int(record.started_at * 1_000_000_000)
        end_ns = start_ns + max(0, int(record.duration * 1_000_000_000))
        span = self._tracer.start_span(
            span_name(record), kind=SpanKind.CLIENT, start_time=start_ns, attributes=span_attributes(record)
        )
        if record.error_kind is not None or (record.status is not None and record.status >= 400):
            # A 4xx/5xx or a transport failure is an error of this exchange even when a retry saves
            # the logical request; the error kind is all the description carries (no vendor text).
            span.set_status(Status(StatusCode.ERROR, record.error_kind or f"HTTP {record.status}"))
        span.end(end_time=end_ns)


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for a base endpoint, as the OpenTelemetry specification builds it."""
    return endpoint.rstrip("/") + TRACES_PATH


def tracer_provider(endpoint: str) -> TracerProvider:
    """The process's provider for ``endpoint``, created on first use with a batching OTLP exporter."""
    with _providers_lock:
        provider = _providers.get(endpoint)
        if provider is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # Resource.create also merges OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES when set.
            provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
            exporter = OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=EXPORT_TIMEOUT_SECONDS)
            provider.add_span_processor(BatchSpanProcessor(exporter))
            _providers[endpoint] = provider
        return provider


def request_hooks(otlp_endpoint: str | None) -> tuple[RequestHook, ...]:
    """The hooks a vendor client gets: a span hook with an endpoint, none without one."""
    if not otlp_endpoint:
        return ()
    return (SpanHook(tracer_provider(otlp_endpoint).get_tracer(TRACER_NAME)),)


def flush(timeout_seconds: float = EXPORT_TIMEOUT_SECONDS) -> bool:
    """Export every finished span now (a process about to ``os._exit`` skips the exit flush)."""
    with _providers_lock:
        providers = list(_providers.values())
    return all(provider.force_flush(int(timeout_seconds * 1000)) for provider in providers)


def shutdown() -> None:
    """Flush and close every provider of this process (the next traced client starts a new one)."""
    with _providers_lock:
        providers = list(_providers.values())
        _providers.clear()
    for provider in providers:
        provider.shutdown()


def active_endpoints() -> tuple[str, ...]:
    """The endpoints with a live provider in this process (none while tracing is off)."""
    with _providers_lock:
        return tuple(_providers)
