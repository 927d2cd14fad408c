"""Spans from receipt to landing reach a real OTLP/HTTP collector on loopback: each landed event's
span is a child of its request's receipt span, across the queue (W3C trace context in the message
headers); refused requests are error spans; no body value is recorded."""

from __future__ import annotations

from datetime import date

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from starlette.testclient import TestClient

from cdp_platform.http import telemetry
from cdp_platform.io.lake import LocalLake
from cdp_platform.webhooks.landing import drain
from cdp_platform.webhooks.receiver import Receiver
from cdp_platform.webhooks.tracing import webhook_tracer
from cdp_platform_tests.http.test_telemetry import receiver as otlp  # noqa: F401 (the collector fixture)
from cdp_platform_tests.webhooks import signing as sign
from cdp_platform_tests.webhooks.conftest import SECRETS

pytestmark = [
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`"),
]


def test_receipt_and_landing_spans_form_one_trace(specs, queue, otlp, tmp_path):  # noqa: F811
    tracer = webhook_tracer(otlp.endpoint)
    receiver = Receiver(specs, SECRETS, queue, tracer=tracer)
    with TestClient(receiver.app(), base_url="http://testserver") as client:
        body = sign.body_of(sign.graph_leads("lead-t1", "lead-t2"))
        assert (
            client.post("/webhooks/facebook", content=body, headers=sign.graph_headers(body)).status_code
            == 200
        )
        forged = client.post("/webhooks/facebook", content=body, headers=sign.graph_headers(body, secret="x"))
        assert forged.status_code == 403
    drain(queue, LocalLake(tmp_path / "lake"), first_day=date(2026, 1, 1), tracer=tracer)
    telemetry.flush()

    spans = otlp.spans()
    receipts = [(s, a) for s, a, _ in spans if s.name == "webhook receive facebook"]
    landings = [(s, a) for s, a, _ in spans if s.name == "webhook land facebook"]
    assert len(receipts) == 2 and len(landings) == 2
    ok = next(s for s, a in receipts if a["http.response.status_code"] == 200)
    refused = next(s for s, a in receipts if a["http.response.status_code"] == 403)
    assert ok.kind == Span.SPAN_KIND_SERVER and refused.status.code == Status.STATUS_CODE_ERROR
    assert refused.status.message == "bad_signature"
    for span, attributes in landings:
        assert span.trace_id == ok.trace_id and span.parent_span_id == ok.span_id
        assert attributes["cdp.partition"] and attributes["cdp.duplicate"] is False
        assert attributes["cdp.queue_seconds"] >= 0
    assert sorted(a["cdp.event_id"] for _, a in landings) == ["lead-t1", "lead-t2"]
    recorded = repr([a for _, a, _ in spans])
    assert "form-1" not in recorded and "page-1" not in recorded  # body values are never attributes
