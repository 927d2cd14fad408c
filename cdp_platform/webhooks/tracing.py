"""OpenTelemetry spans from a webhook's receipt to its landing, in one trace per request.

The receiver opens a ``SERVER`` span per request and writes its context (W3C ``traceparent``) into
the headers of every message it enqueues; the landing opens, per event, a span whose parent is that
context, so a trace shows the request, and later each of its events reaching the lake, with the
queue wait between them visible as the gap. Only ids, counts, vendor names and reasons are recorded,
never a body or a header value.

Off unless an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``): the provider is the
project's one per process and endpoint (:mod:`cdp_platform.http.telemetry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

TRACER_NAME = "cdp_platform.webhooks"


def webhook_tracer(otlp_endpoint: str | None) -> Tracer | None:
    if not otlp_endpoint:
        return None
    from cdp_platform.http.telemetry import tracer_provider

    return tracer_provider(otlp_endpoint).get_tracer(TRACER_NAME)


def inject(span: Any) -> dict[str, str]:
    """The ``traceparent`` (and ``tracestate``) headers naming ``span`` as the parent."""
    from opentelemetry.trace import set_span_in_context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=set_span_in_context(span))
    return carrier


def extract(headers: Mapping[str, Any] | None) -> Any:
    """The parent context carried by a message's headers (an empty context when there is none)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {k: str(v) for k, v in (headers or {}).items() if k in ("traceparent", "tracestate")}
    return TraceContextTextMapPropagator().extract(carrier)


def flush() -> None:
    from cdp_platform.http import telemetry

    telemetry.flush()
