"""Request spans reach a real OTLP/HTTP receiver on loopback; with no endpoint nothing is set up."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from cdp_platform.http import CircuitBreaker, Pacer, RequestSpec, VendorClient, telemetry
from cdp_platform.http.auth import Auth
from cdp_platform.settings import load_settings

from .conftest import SleepRecorder


class OtlpReceiver:
    """A minimal OTLP/HTTP collector: decodes every protobuf POST to /v1/traces."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                if self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf":
                    message = ExportTraceServiceRequest()
                    message.ParseFromString(body)
                    receiver.requests.append(message)
                    reply = ExportTraceServiceResponse().SerializeToString()
                    self.send_response(200)
                else:
                    reply = b""
                    self.send_response(404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[Span, dict[str, object], dict[str, object]]]:
        """(span, its attributes, its resource's attributes) of everything received."""
        out = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append((span, {a.key: _value(a.value) for a in span.attributes}, resource))
        return out


def _value(value) -> object:
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        telemetry.shutdown()
        receiver.server.shutdown()
        receiver.server.server_close()


def _flaky_transport() -> httpx.MockTransport:
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"total": 3, "results": []})

    return httpx.MockTransport(answer)


async def _one_logical_request(hooks) -> None:
    async with VendorClient(
        "hubspot",
        "http://api.hubspot.test",
        Auth(),
        pacer=Pacer("hubspot"),
        transport=_flaky_transport(),
        breaker=CircuitBreaker("hubspot"),
        sleep=SleepRecorder(),
        hooks=hooks,
    ) as client:
        await client.send(
            RequestSpec(
                "POST", "/crm/v3/objects/contacts/search", params={"access_token": "tok-SECRET-123456"}
            )
        )


def test_each_attempt_arrives_at_the_collector_as_a_client_span_with_its_attributes(receiver):
    settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint + "/"})
    hooks = telemetry.request_hooks(settings.otlp_endpoint)
    assert len(hooks) == 1

    asyncio.run(_one_logical_request(hooks))
    assert telemetry.flush()

    assert set(receiver.paths) == {"/v1/traces"}
    spans = sorted(receiver.spans(), key=lambda item: item[1]["cdp.attempt"])
    assert [span.name for span, _, _ in spans] == ["HTTP POST hubspot", "HTTP POST hubspot"]
    (first, first_attrs, resource), (second, second_attrs, _) = spans
    assert resource["service.name"] == "cdp_platform"
    assert all(span.kind == Span.SpanKind.SPAN_KIND_CLIENT for span, _, _ in spans)
    assert first_attrs["cdp.vendor"] == "hubspot"
    assert first_attrs["http.request.method"] == "POST"
    assert first_attrs["http.response.status_code"] == 503
    assert first_attrs["error.type"] == "503"
    assert first.status.code == Status.StatusCode.STATUS_CODE_ERROR
    assert second_attrs["http.response.status_code"] == 200
    assert second_attrs["cdp.attempt"] == 2 and second_attrs["http.request.resend_count"] == 1
    assert "error.type" not in second_attrs
    assert second.status.code == Status.StatusCode.STATUS_CODE_UNSET
    assert isinstance(second_attrs["cdp.quota_wait_seconds"], float)
    # The URL is the client's redacted one: the token in the query never leaves the process.
    assert second_attrs["url.full"].startswith("http://api.hubspot.test/crm/v3/objects/contacts/search?")
    assert "SECRET" not in second_attrs["url.full"] and "REDACTED" in second_attrs["url.full"]
    # Times come from the exchange: the retry starts after the first attempt ended.
    assert 0 < first.start_time_unix_nano <= first.end_time_unix_nano <= second.start_time_unix_nano
    assert second.end_time_unix_nano >= second.start_time_unix_nano


def test_a_transport_failure_span_carries_the_error_kind(receiver):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def run() -> None:
        async with VendorClient(
            "twitter",
            "http://api.twitter.test",
            pacer=Pacer("twitter"),
            transport=httpx.MockTransport(refuse),
            breaker=CircuitBreaker("twitter"),
            sleep=SleepRecorder(),
            hooks=telemetry.request_hooks(receiver.endpoint),
        ) as client:
            from cdp_platform.http import RetryPolicy

            client.retry = RetryPolicy(max_attempts=1)
            with pytest.raises(Exception, match="connect_error"):
                await client.send(RequestSpec("GET", "/2/users/1/mentions"))

    asyncio.run(run())
    assert telemetry.flush()
    [(span, attributes, _)] = receiver.spans()
    assert span.name == "HTTP GET twitter"
    assert attributes["error.type"] == "connect_error"
    assert "http.response.status_code" not in attributes
    assert span.status.code == Status.StatusCode.STATUS_CODE_ERROR


def test_without_an_endpoint_no_hook_provider_or_exporter_exists(monkeypatch):
    created = []
    from opentelemetry.exporter.otlp.proto.http import trace_exporter

    monkeypatch.setattr(trace_exporter, "OTLPSpanExporter", lambda *a, **k: created.append(k))
    settings = load_settings({})
    assert settings.otlp_endpoint is None
    hooks = telemetry.request_hooks(settings.otlp_endpoint)
    assert hooks == ()
    asyncio.run(_one_logical_request(hooks))
    assert created == []
    assert telemetry.active_endpoints() == ()


def test_an_endpoint_that_is_not_http_is_refused_at_start_up():
    from cdp_platform.settings import SettingsError

    with pytest.raises(SettingsError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"})
