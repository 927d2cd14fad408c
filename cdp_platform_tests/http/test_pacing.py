"""Pacers: decisions from each vendor's quota signals (fake clock), and a live concurrency run."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    CircuitBreaker,
    FacebookPacer,
    GA4Pacer,
    HubSpotPacer,
    QuotaExhausted,
    SalesforcePacer,
    TwitterPacer,
    VendorClient,
    pacer_for,
)
from cdp_platform.http.pacing import facebook_spacing, facebook_usage

from .conftest import FakeClock, SleepRecorder, serve


def response(headers: dict[str, str], status: int = 200, body: dict | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=body if body is not None else {})


def twitter_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset)),
    }


def test_twitter_keys_are_per_endpoint_with_ids_normalized():
    pacer = TwitterPacer()
    assert pacer.key_for("GET", "http://x/twitter/2/users/2244994945/mentions") == "/2/users/:id/mentions"
    assert pacer.key_for("GET", "https://api.twitter.com/2/tweets/search/recent") == "/2/tweets/search/recent"


def test_twitter_spreads_remaining_calls_until_reset_then_refills():
    clock = FakeClock()
    pacer = TwitterPacer(clock=clock, limits={"k": (10, 60.0)}, reset_margin=0.5)
    assert pacer.reserve("k") == 0  # default budget before any response: 10 per 60 s
    pacer.observe("k", response(twitter_headers(10, 9, clock.now + 60)))
    pacer.release("k")
    assert pacer.reserve("k") == pytest.approx(6.0)  # 60 s / 10 calls
    clock.advance(6)
    pacer.observe("k", response(twitter_headers(10, 2, clock.now + 10)))  # another app spent most of it
    pacer.release("k")
    # The slot booked earlier (t+12) stands; the 2 calls left are spread over the 4 s to the reset.
    assert pacer.reserve("k") == pytest.approx(6.0)
    assert pacer.reserve("k") == pytest.approx(8.0)
    pacer.release("k")
    pacer.release("k")
    # Budget spent: the next call waits for the reset (plus margin) and the window refills.
    assert pacer.reserve("k") == pytest.approx(10.5)
    pacer.release("k")
    assert pacer.reserve("k") == pytest.approx(10.5 + 6.0)


def test_twitter_out_of_order_responses_keep_the_lowest_remaining_and_429_empties_the_window():
    clock = FakeClock()
    pacer = TwitterPacer(clock=clock, limits={"k": (100, 900.0)})
    for _ in range(3):
        pacer.reserve("k")
    reset = clock.now + 900
    pacer.observe("k", response(twitter_headers(100, 50, reset)))
    pacer.release("k")
    pacer.observe("k", response(twitter_headers(100, 60, reset)))  # an older answer arriving late
    pacer.release("k")
    # 50 minus the two then in flight (conservative: the late one was already counted), and the
    # late, higher count does not raise it again.
    assert pacer._windows["k"].remaining == pytest.approx(48)
    pacer.observe("k", response(twitter_headers(100, 0, clock.now + 30), status=429))
    pacer.release("k")
    assert pacer.reserve("k") == pytest.approx(30 + pacer.reset_margin)


def test_hubspot_rolling_window_spacing_from_headers():
    clock = FakeClock()
    pacer = HubSpotPacer(clock=clock)
    assert pacer.key_for("POST", "http://h/hubspot/crm/v3/objects/contacts/search") == "search"
    assert pacer.key_for("GET", "http://h/hubspot/crm/v3/objects/contacts") == "default"
    assert pacer.spacing("default") == pytest.approx(10 / 90)  # documented 100 per 10 s, at 90 %
    headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "150",
        "X-HubSpot-RateLimit-Daily-Remaining": "240000",
    }
    pacer.reserve("default")
    pacer.observe("default", response(headers))
    pacer.release("default")
    assert pacer.spacing("default") == pytest.approx(10 / (190 * 0.9))
    pacer.observe("default", response({**headers, "X-HubSpot-RateLimit-Remaining": "4"}))
    assert pacer.spacing("default") == pytest.approx(10 / 4)  # window nearly full: slow right down
    # Search: documented 4/s, whatever the general headers say.
    assert pacer.reserve("search") == 0
    assert pacer.reserve("search") == pytest.approx(0.25)


def test_hubspot_daily_reserve_stops_the_run():
    pacer = HubSpotPacer(clock=FakeClock(), daily_reserve=100)
    pacer.observe("default", response({"X-HubSpot-RateLimit-Daily-Remaining": "100"}))
    with pytest.raises(QuotaExhausted, match="hubspot quota exhausted: daily API calls remaining 100"):
        pacer.reserve("default")


def test_facebook_usage_headers_slow_down_progressively_and_pause_near_the_limit():
    headers = httpx.Headers(
        {
            "X-App-Usage": json.dumps({"call_count": 40, "total_cputime": 12, "total_time": 20}),
            "X-Page-Usage": json.dumps({"call_count": 80, "total_cputime": 5, "total_time": 9}),
        }
    )
    assert facebook_usage(headers) == (80.0, 0.0)
    settings = {"slow_from": 75, "stop_at": 95, "max_spacing": 10, "base": 0.0}
    spacings = [facebook_spacing(u, **settings) for u in (50, 75, 80, 85, 90, 95)]
    assert spacings[:2] == [0.0, 0.0]
    assert spacings == sorted(spacings) and spacings[-1] == 10
    assert spacings[2] == pytest.approx(10 * 0.25**2)

    clock = FakeClock()
    pacer = FacebookPacer(clock=clock)
    pacer.reserve("default")
    pacer.observe("default", response(dict(headers)))
    pacer.release("default")
    assert pacer.reserve("default") == pytest.approx(10 * 0.25**2)
    pacer.release("default")
    buc = {
        "111": [
            {
                "type": "pages",
                "call_count": 99,
                "total_cputime": 10,
                "total_time": 10,
                "estimated_time_to_regain_access": 4,
            }
        ]
    }
    pacer.observe("default", response({"X-Business-Use-Case-Usage": json.dumps(buc)}))
    assert pacer.reserve("default") == pytest.approx(240.0)  # paused for the 4 minutes Graph named


def test_salesforce_keeps_its_daily_reserve():
    pacer = SalesforcePacer(clock=FakeClock(), reserve_fraction=0.1)
    pacer.observe("default", response({"Sforce-Limit-Info": "api-usage=4400/5000"}))
    assert pacer.reserve("default") == 0
    pacer.release("default")
    pacer.observe("default", response({"Sforce-Limit-Info": "api-usage=4500/5000"}))
    with pytest.raises(QuotaExhausted, match=r"4500/5000; keeping 500 calls in reserve"):
        pacer.reserve("default")
    assert SalesforcePacer(reserve_calls=20).reserve_size() == 20


def ga4_body(hour_remaining: int, day_remaining: int, consumed: int = 10) -> dict:
    return {
        "rows": [],
        "propertyQuota": {
            "tokensPerDay": {"consumed": consumed, "remaining": day_remaining},
            "tokensPerHour": {"consumed": consumed, "remaining": hour_remaining},
            "concurrentRequests": {"consumed": 0, "remaining": 10},
        },
    }


def test_ga4_property_quota_pauses_to_the_next_hour_and_stops_on_the_daily_budget():
    clock = FakeClock(1_800_000_000.0)  # 08:00:00 UTC
    clock.advance(1800)
    pacer = GA4Pacer(clock=clock)
    pacer.observe("default", response({}, body=ga4_body(hour_remaining=5000, day_remaining=20000)))
    assert pacer.reserve("default") == 0
    pacer.release("default")
    pacer.observe("default", response({}, body=ga4_body(hour_remaining=15, day_remaining=20000, consumed=20)))
    delay = pacer.reserve("default")
    assert delay == pytest.approx(1800 + pacer.hour_margin)  # to 09:00 UTC
    pacer.release("default")
    pacer.observe("default", response({}, body=ga4_body(hour_remaining=5000, day_remaining=5)))
    with pytest.raises(QuotaExhausted, match="tokens per day"):
        pacer.reserve("default")


def test_ga4_concurrency_gate_caps_requests_in_flight():
    pacer = GA4Pacer(max_concurrency=2)
    active = Counter()

    async def one():
        await pacer.acquire("default")
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.01)
        active["now"] -= 1
        pacer.release("default")

    async def run():
        await asyncio.gather(*(one() for _ in range(7)))

    asyncio.run(run())
    asyncio.run(run())  # a second event loop reuses the same process-wide pacer
    assert active["max"] == 2


def test_pacer_registry_shares_one_pacer_per_vendor():
    assert pacer_for("twitter") is pacer_for("twitter")
    assert isinstance(pacer_for("hubspot"), HubSpotPacer)
    assert pacer_for("instagram") is pacer_for("facebook")
    assert pacer_for("twitter") is not pacer_for("hubspot")


def twitter_limited_app(limit: int, window: float):
    """A Twitter-style server: fixed windows aligned to the clock, 429 past the limit."""
    counts: Counter[int] = Counter()
    log: list[tuple[int, int]] = []

    async def search(request: Request) -> Response:
        index = math.floor(time.time() / window)
        counts[index] += 1
        reset = (index + 1) * window
        used = counts[index]
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": str(int(reset)),
        }
        log.append((index, 429 if used > limit else 200))
        if used > limit:
            return JSONResponse(
                {
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                },
                status_code=429,
                headers=headers,
            )
        return JSONResponse({"data": [{"id": str(used)}], "meta": {"result_count": 1}}, headers=headers)

    return Starlette(routes=[Route("/2/tweets/search/recent", search)]), log


@pytest.mark.parametrize("live", ["uvicorn", "asgi"])
def test_concurrent_tasks_share_the_budget_without_429s(live):
    limit, window = 10, 1.0
    app, log = twitter_limited_app(limit, window)
    pacer = TwitterPacer(limits={"/2/tweets/search/recent": (limit, window)}, reset_margin=0.05)

    async def worker(client: VendorClient, n: int) -> None:
        for _ in range(n):
            await client.request("GET", "/2/tweets/search/recent", params={"query": "cdp"})

    async def run(base: str, transport: httpx.AsyncBaseTransport | None):
        client = VendorClient(
            "twitter",
            base,
            pacer=pacer,
            transport=transport,
            breaker=CircuitBreaker("twitter"),
            sleep=SleepRecorder(),
        )
        async with client:
            await asyncio.gather(*(worker(client, 9) for _ in range(4)))
            return client.stats

    if live == "uvicorn":
        with serve(app) as base:
            stats = asyncio.run(run(base, None))
    else:
        stats = asyncio.run(run("http://twitter.test", httpx.ASGITransport(app=app)))

    assert stats.responses_429 == 0 and all(status == 200 for _, status in log)
    assert stats.requests == 36
    per_window = Counter(index for index, _ in log)
    full_windows = sorted(per_window)[1:-1]  # the first and last windows are partly outside the run
    used = sum(per_window[index] for index in full_windows) / (limit * len(full_windows))
    assert used >= 0.7, per_window
    assert stats.quota_wait_seconds > 0 and pacer.seconds_waited > 0


def test_ga4_client_feeds_the_response_body_quota_to_the_pacer():
    clock = FakeClock(1_800_000_000.0 + 3000)  # 08:50 UTC
    sleep = SleepRecorder(clock)
    pacer = GA4Pacer(clock=clock, sleep=sleep)

    async def run_report(request: Request) -> Response:
        return JSONResponse(
            {"rows": [], "rowCount": 0, **{"propertyQuota": ga4_body(8, 20000)["propertyQuota"]}}
        )

    app = Starlette(routes=[Route("/v1beta/properties/1:runReport", run_report, methods=["POST"])])

    async def run():
        async with VendorClient(
            "ga4",
            "http://ga.test",
            pacer=pacer,
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("ga4"),
        ) as client:
            for _ in range(2):
                await client.request(
                    "POST", "/v1beta/properties/1:runReport", json={"returnPropertyQuota": True}
                )
            return client.stats

    stats = asyncio.run(run())
    # 8 hourly tokens left and 10 used per report: the second report waits for 09:00 UTC.
    assert sleep.calls == [pytest.approx(600 + pacer.hour_margin)]
    assert stats.quota_wait_seconds == pytest.approx(600 + pacer.hour_margin)
    assert pacer.seconds_waited == pytest.approx(600 + pacer.hour_margin)


def hubspot_rolling_app(maximum: int, interval: float):
    """HubSpot-like rolling window: at most ``maximum`` calls in any ``interval`` seconds."""
    arrivals: list[float] = []
    statuses: list[int] = []

    async def contacts(request: Request) -> Response:
        now = time.monotonic()
        while arrivals and arrivals[0] <= now - interval:
            arrivals.pop(0)
        arrivals.append(now)
        headers = {
            "X-HubSpot-RateLimit-Max": str(maximum),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(interval * 1000)),
            "X-HubSpot-RateLimit-Remaining": str(max(0, maximum - len(arrivals))),
            "X-HubSpot-RateLimit-Daily-Remaining": "250000",
        }
        if len(arrivals) > maximum:
            statuses.append(429)
            return JSONResponse(
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
                status_code=429,
                headers=headers,
            )
        statuses.append(200)
        return JSONResponse({"results": []}, headers=headers)

    return Starlette(routes=[Route("/crm/v3/objects/contacts", contacts)]), statuses


def test_hubspot_concurrent_streams_stay_under_the_rolling_window():
    app, statuses = hubspot_rolling_app(maximum=30, interval=1.0)
    pacer = HubSpotPacer(max_per_interval=30, interval_seconds=1.0)

    async def worker(client: VendorClient) -> None:
        for _ in range(12):
            await client.request("GET", "/crm/v3/objects/contacts")

    async def run(base: str):
        async with VendorClient(
            "hubspot", base, pacer=pacer, breaker=CircuitBreaker("hubspot"), sleep=SleepRecorder()
        ) as client:
            await asyncio.gather(*(worker(client) for _ in range(4)))
            return client.stats

    with serve(app) as base:
        stats = asyncio.run(run(base))
    assert stats.responses_429 == 0 and statuses.count(200) == 48
