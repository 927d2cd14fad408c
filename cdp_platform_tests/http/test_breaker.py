"""Circuit breaker: opens after N failed requests, fails fast, recovers through half-open."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    BreakerRegistry,
    CircuitBreaker,
    Pacer,
    RetryPolicy,
    VendorClient,
    VendorError,
    VendorUnavailable,
    breaker_for,
)
from cdp_platform.http.breaker import CLOSED, HALF_OPEN, OPEN

from .conftest import FakeClock, SleepRecorder


def test_state_machine_opens_after_threshold_and_recovers_through_one_probe():
    clock = FakeClock()
    breaker = CircuitBreaker("hubspot", failure_threshold=3, cooldown_seconds=30, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure("hubspot HTTP 503: down")
    assert breaker.state == CLOSED
    breaker.before_call()
    breaker.record_failure("hubspot HTTP 503: still down")
    assert breaker.state == OPEN
    with pytest.raises(VendorUnavailable) as raised:
        breaker.before_call()
    assert str(raised.value) == "hubspot unavailable since 2027-01-15T08:00:00Z: hubspot HTTP 503: still down"

    clock.advance(30)
    assert breaker.state == HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(VendorUnavailable):
        breaker.before_call()  # only one probe at a time
    breaker.record_failure("hubspot HTTP 503: again")
    assert breaker.state == OPEN  # a failed probe re-opens at once

    clock.advance(30)
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.consecutive_failures == 0
    breaker.before_call()


def test_a_success_resets_the_consecutive_count():
    breaker = CircuitBreaker("twitter", failure_threshold=2, clock=FakeClock())
    breaker.record_failure("x")
    breaker.record_success()
    breaker.record_failure("x")
    assert breaker.state == CLOSED


def test_registry_shares_per_vendor_and_isolates_vendors():
    registry = BreakerRegistry()
    assert registry.get("hubspot") is registry.get("hubspot")
    assert registry.get("hubspot") is not registry.get("twitter")
    assert breaker_for("ga4") is breaker_for("ga4")


def failing_app():
    hits = {"down": 0, "up": 0}

    async def down(request: Request) -> Response:
        hits["down"] += 1
        return Response("bad gateway", status_code=502)

    async def up(request: Request) -> Response:
        hits["up"] += 1
        return JSONResponse({"ok": True})

    async def bad(request: Request) -> Response:
        return JSONResponse([{"message": "malformed query", "errorCode": "MALFORMED_QUERY"}], status_code=400)

    app = Starlette(routes=[Route("/down", down), Route("/up", up), Route("/bad", bad)])
    return app, hits


def test_client_breaker_opens_fails_fast_and_other_vendor_is_unaffected():
    clock = FakeClock()
    registry = BreakerRegistry(clock=clock)
    app, hits = failing_app()
    policy = RetryPolicy(max_attempts=2)

    def client(vendor):
        return VendorClient(
            vendor,
            "http://vendor.test",
            pacer=Pacer(vendor),
            transport=httpx.ASGITransport(app=app),
            retry=policy,
            breaker=registry.get(vendor, failure_threshold=3, cooldown_seconds=60),
            sleep=SleepRecorder(),
        )

    async def run():
        hubspot, twitter = client("hubspot"), client("twitter")
        for _ in range(3):
            with pytest.raises(VendorError):
                await hubspot.request("GET", "/down")
        assert hits["down"] == 6  # 3 requests x 2 attempts
        with pytest.raises(VendorUnavailable) as raised:
            await hubspot.request("GET", "/up")
        assert hits["up"] == 0  # failed fast, nothing sent
        # A second client of the same vendor shares the open breaker.
        with pytest.raises(VendorUnavailable):
            await client("hubspot").request("GET", "/up")
        # Another vendor is untouched.
        assert (await twitter.request("GET", "/up")).status_code == 200
        clock.advance(60)
        assert (await hubspot.request("GET", "/up")).status_code == 200  # half-open probe succeeds
        assert registry.get("hubspot").state == CLOSED
        for each in (hubspot, twitter):
            await each.aclose()
        return raised.value

    error = asyncio.run(run())
    assert re.fullmatch(
        r"hubspot unavailable since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: hubspot HTTP 502: bad gateway "
        r"\(GET http://vendor.test/down\) after 2 attempts",
        str(error),
    )


def test_deliberate_client_errors_do_not_open_the_breaker():
    app, _ = failing_app()
    breaker = CircuitBreaker("salesforce", failure_threshold=2, clock=FakeClock())

    async def run():
        async with VendorClient(
            "salesforce",
            "http://vendor.test",
            pacer=Pacer("salesforce"),
            transport=httpx.ASGITransport(app=app),
            breaker=breaker,
        ) as client:
            for _ in range(3):
                with pytest.raises(VendorError, match="malformed query"):
                    await client.request("GET", "/bad")

    asyncio.run(run())
    assert breaker.state == CLOSED
