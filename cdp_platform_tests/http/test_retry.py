"""Retries: which failures are retried, how long the client waits, and where it gives up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    CircuitBreaker,
    Pacer,
    RetriesExhausted,
    RetryPolicy,
    VendorClient,
    VendorError,
    VendorTransportError,
)
from cdp_platform.http.errors import ErrorRule, parse_error
from cdp_platform.http.retry import server_wait_hint
from cdp_platform.sources import RESOURCE_CLASSES  # importing the sources declares their error rules
from cdp_platform_tests.support.pacers import declared_pacer

from .conftest import SleepRecorder, serve

FAST = RetryPolicy(max_attempts=4, floor_seconds=0.05, floor_jitter_seconds=0.2, backoff_multiplier=0.5)


def scripted_app(responses: list[Response]) -> tuple[Starlette, list[int]]:
    """An app answering each request with the next scripted response (the last one repeats)."""
    hits: list[int] = []

    async def endpoint(request: Request) -> Response:
        hits.append(1)
        return responses[min(len(hits) - 1, len(responses) - 1)]

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])]), hits


def make_client(
    app, vendor="hubspot", sleep=None, retry=FAST, base_url="http://vendor.test/hubspot", pacer=None
):
    return VendorClient(
        vendor,
        base_url,
        pacer=pacer or Pacer(vendor),
        transport=httpx.ASGITransport(app=app),
        retry=retry,
        breaker=CircuitBreaker(vendor, failure_threshold=100),
        sleep=sleep or SleepRecorder(),
    )


def test_retry_after_zero_waits_a_floor_not_a_hot_loop():
    app, hits = scripted_app(
        [Response(status_code=429, headers={"Retry-After": "0"}, content=b"{}")] * 2
        + [JSONResponse({"results": []})]
    )
    sleep = SleepRecorder()

    async def run():
        async with make_client(app, sleep=sleep) as client:
            response = await client.request("GET", "/crm/v3/objects/contacts")
            return response, client.stats

    response, stats = asyncio.run(run())
    assert response.status_code == 200
    assert len(hits) == 3
    assert len(sleep.calls) == 2
    assert all(0.05 <= wait <= 0.25 for wait in sleep.calls)
    assert stats.retries == 2 and stats.responses_429 == 2
    assert stats.backoff_wait_seconds == pytest.approx(sum(sleep.calls))


def test_reset_time_in_the_past_waits_the_floor_and_future_reset_is_honoured():
    now = datetime.now(UTC).timestamp()
    app, _hits = scripted_app(
        [
            Response(
                status_code=429,
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(now - 100))},
            ),
            Response(
                status_code=429,
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(now + 30))},
            ),
            JSONResponse({"data": []}),
        ]
    )
    sleep = SleepRecorder()

    async def run():
        # The reset headers are the fixed-window signals the source declares; its pacer reads them.
        pacer = declared_pacer("twitter")
        async with make_client(app, vendor="twitter", sleep=sleep, pacer=pacer) as client:
            return await client.request("GET", "/2/tweets/search/recent")

    assert asyncio.run(run()).status_code == 200
    assert 0.05 <= sleep.calls[0] <= 0.25
    assert 28 <= sleep.calls[1] <= 34


def test_5xx_uses_full_jitter_backoff_with_a_floor_and_gives_up_after_max_attempts():
    app, hits = scripted_app([Response(status_code=503, content=b"upstream down")])
    sleep = SleepRecorder()

    async def run():
        async with make_client(app, sleep=sleep) as client:
            await client.request("GET", "/x")

    with pytest.raises(RetriesExhausted) as raised:
        asyncio.run(run())
    assert len(hits) == FAST.max_attempts
    assert len(sleep.calls) == FAST.max_attempts - 1
    # Full jitter: each wait is drawn from [0, multiplier * 2^n] (floored), never above its cap.
    for attempt, wait in enumerate(sleep.calls, start=1):
        assert FAST.floor_seconds <= wait <= max(FAST.backoff_multiplier * 2**attempt, 0.25)
    assert raised.value.status == 503
    assert "after 4 attempts" in str(raised.value)


def test_non_retryable_4xx_fails_at_once_with_the_vendor_message():
    body = {
        "status": "error",
        "message": "Property values were not valid: lastmodifieddate",
        "correlationId": "abc",
        "category": "VALIDATION_ERROR",
    }
    app, hits = scripted_app([JSONResponse(body, status_code=400)])
    sleep = SleepRecorder()

    async def run():
        async with make_client(app, sleep=sleep) as client:
            await client.request("POST", "/crm/v3/objects/contacts/search", json={"limit": 1})

    with pytest.raises(VendorError) as raised:
        asyncio.run(run())
    assert len(hits) == 1 and sleep.calls == []
    error = raised.value
    assert error.status == 400 and error.code == "VALIDATION_ERROR"
    assert "Property values were not valid: lastmodifieddate" in str(error)
    assert error.request["url"] == "http://vendor.test/hubspot/crm/v3/objects/contacts/search"


@pytest.mark.parametrize(
    ("status", "body", "expected_message"),
    [
        (400, [{"message": "No such column 'Foo'", "errorCode": "INVALID_FIELD"}], "No such column 'Foo'"),
        (
            403,
            {"error": {"code": 403, "message": "User lacks access", "status": "PERMISSION_DENIED"}},
            "User lacks access",
        ),
        (
            400,
            {
                "error": {
                    "message": "Invalid parameter",
                    "type": "OAuthException",
                    "code": 100,
                    "fbtrace_id": "x",
                }
            },
            "Invalid parameter",
        ),
        (
            400,
            {"title": "Invalid Request", "detail": "One or more parameters are invalid.", "type": "x"},
            "One or more",
        ),
    ],
)
def test_each_vendor_error_shape_yields_its_message(status, body, expected_message):
    app, hits = scripted_app([JSONResponse(body, status_code=status)])

    async def run():
        async with make_client(app, vendor="any") as client:
            await client.request("GET", "/x")

    with pytest.raises(VendorError, match=expected_message):
        asyncio.run(run())
    assert len(hits) == 1


def test_facebook_throttle_codes_on_400_are_retried():
    throttle = {
        "error": {
            "message": "(#4) Application request limit reached",
            "type": "OAuthException",
            "code": 4,
            "fbtrace_id": "A",
        }
    }
    app, hits = scripted_app([JSONResponse(throttle, status_code=400), JSONResponse({"data": []})])

    async def run():
        async with make_client(app, vendor="facebook") as client:
            return await client.request("GET", "/me/posts")

    assert asyncio.run(run()).status_code == 200
    assert len(hits) == 2


@pytest.mark.parametrize(
    ("vendor", "body"),
    [
        (
            "hubspot",
            {
                "status": "error",
                "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "DAILY",
            },
        ),
        (
            "twitter",
            {
                "title": "UsageCapExceeded",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped",
            },
        ),
    ],
)
def test_quotas_that_do_not_refill_within_a_run_are_not_retried(vendor, body):
    assert vendor in {resource.http_vendor for resource in RESOURCE_CLASSES.values()}
    app, hits = scripted_app([JSONResponse(body, status_code=429)])

    async def run():
        async with make_client(app, vendor=vendor) as client:
            await client.request("GET", "/x")

    with pytest.raises(VendorError):
        asyncio.run(run())
    assert len(hits) == 1


def test_error_codes_mean_something_only_for_the_vendor_declaring_them():
    """A Graph throttle code is a throttle from a Graph source; from a client no source declared,
    the same 400 is a plain client error, failed at once."""
    throttle = {"error": {"message": "(#4) Application request limit reached", "type": "X", "code": 4}}
    app, hits = scripted_app([JSONResponse(throttle, status_code=400)])

    async def run():
        async with make_client(app, vendor="undeclared") as client:
            await client.request("GET", "/me/posts")

    with pytest.raises(VendorError) as raised:
        asyncio.run(run())
    assert len(hits) == 1 and not raised.value.info.throttled


def test_error_rules_match_values_as_found_first_rule_wins_and_need_a_condition():
    rules = (
        ErrorRule("quota_exhausted", equals={"0.errorCode": ("LIMIT",)}, contains={"0.message": "PER DAY"}),
        ErrorRule("throttled", equals={"0.errorCode": ("LIMIT",)}),
    )
    daily = json.dumps([{"message": "limit per day", "errorCode": "LIMIT"}])
    hourly = json.dumps([{"message": "limit per hour", "errorCode": "LIMIT"}])
    assert parse_error(429, daily, rules).quota_exhausted and not parse_error(429, daily, rules).throttled
    assert parse_error(429, hourly, rules).throttled and not parse_error(429, hourly, rules).quota_exhausted
    numeric = (ErrorRule("expired_credentials", equals={"error.code": (190,)}),)
    assert parse_error(400, '{"error": {"code": 190, "type": "t"}}', numeric).expired_credentials
    assert not parse_error(400, '{"error": {"code": "190", "type": "t"}}', numeric).expired_credentials
    with pytest.raises(ValueError, match="no condition"):
        ErrorRule("throttled")
    with pytest.raises(ValueError, match="means 'slow'"):
        ErrorRule("slow", equals={"code": (1,)})


def test_a_vendor_wait_longer_than_allowed_ends_the_request_instead_of_sleeping():
    app, hits = scripted_app([Response(status_code=429, headers={"Retry-After": "3600"})])
    sleep = SleepRecorder()

    async def run():
        async with make_client(app, sleep=sleep, retry=RetryPolicy(max_server_wait=600)) as client:
            await client.request("GET", "/x")

    with pytest.raises(RetriesExhausted):
        asyncio.run(run())
    assert len(hits) == 1 and sleep.calls == []


def test_server_wait_hint_reads_seconds_http_dates_resets_and_graph_regain_time():
    now = 1_800_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 120, UTC), usegmt=True)
    assert server_wait_hint(httpx.Headers({"Retry-After": "7"}), now) == 7
    assert server_wait_hint(httpx.Headers({"Retry-After": date}), now) == pytest.approx(120)
    # Quota headers are read by the pacer whose source declared them, not by every client.
    fixed_window = declared_pacer("twitter").wait_hint
    reset_in_50 = httpx.Headers({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(now + 50))})
    assert server_wait_hint(reset_in_50, now, fixed_window) == pytest.approx(50)
    assert server_wait_hint(reset_in_50, now) is None
    # Retry-After wins over the quota signals.
    assert server_wait_hint(httpx.Headers({**reset_in_50, "Retry-After": "7"}), now, fixed_window) == 7
    # A reset header while calls remain is not a request to wait.
    assert (
        server_wait_hint(
            httpx.Headers({"x-rate-limit-remaining": "5", "x-rate-limit-reset": "1"}), now, fixed_window
        )
        is None
    )
    buc = json.dumps({"123": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 3}]})
    usage_percent = declared_pacer("facebook").wait_hint
    assert server_wait_hint(httpx.Headers({"x-business-use-case-usage": buc}), now, usage_percent) == 180
    assert server_wait_hint(httpx.Headers({"x-business-use-case-usage": buc}), now, fixed_window) is None
    assert server_wait_hint(httpx.Headers({}), now, usage_percent) is None


def cut_mid_body_app():
    """Raw ASGI: the first two responses promise 1000 bytes and die after 10; then a good one."""
    calls = {"n": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        calls["n"] += 1
        if calls["n"] <= 2:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"results"', "more_body": True})
            raise RuntimeError("connection cut mid-body")
        body = json.dumps({"results": [{"id": "1"}]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app, calls


def test_connection_cut_mid_body_on_a_real_port_is_retried():
    app, calls = cut_mid_body_app()
    sleep = SleepRecorder()

    async def run(base):
        client = VendorClient(
            "hubspot",
            base,
            pacer=Pacer("hubspot"),
            retry=FAST,
            sleep=sleep,
            breaker=CircuitBreaker("hubspot"),
        )
        async with client:
            response = await client.request("GET", "/crm/v3/objects/contacts")
            return response.json(), client.stats

    with serve(app) as base:
        body, stats = asyncio.run(run(base))
    assert body == {"results": [{"id": "1"}]}
    assert calls["n"] == 3
    assert stats.errors["connection_cut"] == 2 and stats.retries == 2


def test_timeouts_on_a_real_port_are_retried_and_exhaustion_is_a_transport_error():
    calls = {"n": 0}

    async def slow(request: Request) -> Response:
        calls["n"] += 1
        await asyncio.sleep(2.0)
        return JSONResponse({})

    app = Starlette(routes=[Route("/slow", slow)])
    sleep = SleepRecorder()

    async def run(base):
        client = VendorClient(
            "ga4",
            base,
            pacer=Pacer("ga4"),
            retry=RetryPolicy(max_attempts=2),
            sleep=sleep,
            timeout=0.2,
            breaker=CircuitBreaker("ga4"),
        )
        async with client:
            await client.request("GET", "/slow")

    with serve(app) as base, pytest.raises(VendorTransportError) as raised:
        asyncio.run(run(base))
    assert calls["n"] == 2
    assert raised.value.kind == "timeout" and raised.value.attempts == 2
    assert len(sleep.calls) == 1


def test_refused_connections_are_retried_then_reported():
    sleep = SleepRecorder()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def run():
        client = VendorClient(
            "salesforce",
            "http://vendor.test",
            pacer=Pacer("salesforce"),
            transport=httpx.MockTransport(refuse),
            retry=FAST,
            sleep=sleep,
            breaker=CircuitBreaker("salesforce"),
        )
        async with client:
            await client.request("GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM Account"})

    with pytest.raises(VendorTransportError) as raised:
        asyncio.run(run())
    assert raised.value.kind == "connect_error"
    assert len(sleep.calls) == FAST.max_attempts - 1
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_other_httpx_failures_are_wrapped_and_redacted():
    async def run():
        client = VendorClient(
            "twitter",
            "ftp://vendor.test",
            pacer=Pacer("twitter"),
            breaker=CircuitBreaker("twitter"),
            sleep=SleepRecorder(),
        )
        async with client:
            await client.request("GET", "/2/tweets/search/recent", params={"access_token": "tok-abcdef-123"})

    with pytest.raises(VendorTransportError) as raised:
        asyncio.run(run())
    assert raised.value.kind == "UnsupportedProtocol" and raised.value.attempts == 1
    assert "tok-abcdef-123" not in str(raised.value) + repr(raised.value)
