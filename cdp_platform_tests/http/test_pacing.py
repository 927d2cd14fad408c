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
    QuotaExhausted,
    RollingWindowPacer,
    VendorClient,
    pacer_for,
)
from cdp_platform.http.pacing import Pacer, budget_from_usage, declare_budget, reset_pacers
from cdp_platform_tests.support.pacers import declared_pacer

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
    pacer = declared_pacer("twitter")
    assert pacer.key_for("GET", "http://x/twitter/2/users/2244994945/mentions") == "/2/users/:id/mentions"
    assert pacer.key_for("GET", "https://api.twitter.com/2/tweets/search/recent") == "/2/tweets/search/recent"


def test_twitter_spreads_remaining_calls_until_reset_then_refills():
    clock = FakeClock()
    pacer = declared_pacer("twitter", clock=clock, limits={"k": (10, 60.0)}, reset_margin=0.5)
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


def test_twitter_first_answer_replaces_the_default_budget():
    """Issue 17: the first 200 reported 1800 calls with 1795 left, and the pacer kept its default
    (450 per window, 449 left), pacing the first window four times slower than allowed."""
    clock = FakeClock(1_800_000_000.0)
    pacer = declared_pacer("twitter", clock=clock)
    key = "/2/users/:id/mentions"
    assert pacer.reserve(key) == 0
    pacer.observe(key, response(twitter_headers(1800, 1795, clock.now + 900)))
    pacer.release(key)
    window = pacer._windows[key]
    assert (window.limit, window.remaining, window.reset_at) == (1800, 1795, clock.now + 900)
    # The slot booked under the default (900 s / 450) is re-booked at the reported rate.
    first = pacer.reserve(key)
    second = pacer.reserve(key)
    assert first == pytest.approx(900 / 1795, rel=0.01)
    assert second - first == pytest.approx(900 / 1794, rel=0.01)


def test_twitter_out_of_order_responses_keep_the_lowest_remaining_and_429_empties_the_window():
    clock = FakeClock()
    pacer = declared_pacer("twitter", clock=clock, limits={"k": (100, 900.0)})
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
    pacer = declared_pacer("hubspot", clock=clock)
    assert pacer.key_for("POST", "http://h/hubspot/crm/v3/objects/contacts/search") == "search"
    assert pacer.key_for("GET", "http://h/hubspot/crm/v3/objects/contacts") == "default"
    assert pacer.spacing("default") == pytest.approx(10 * 1.02 / 100)  # documented 100 per 10 s
    headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Remaining": "189",
        "X-HubSpot-RateLimit-Daily-Remaining": "240000",
    }
    pacer.reserve("default")
    pacer.observe("default", response(headers))
    pacer.release("default")
    assert pacer.others == 0
    assert pacer.spacing("default") == pytest.approx(10 * 1.02 / 190)
    # 40 calls used in the window and only one of them ours: other apps spend 39, and our rate
    # leaves them room within the same 2 % margin.
    pacer.observe("default", response({**headers, "X-HubSpot-RateLimit-Remaining": "150"}))
    assert pacer.others == 39
    assert pacer.spacing("default") == pytest.approx(10 / (190 / 1.02 - 39))
    # Search: documented 4/s, whatever the general headers say.
    assert pacer.reserve("search") == 0
    assert pacer.reserve("search") == pytest.approx(1.02 / 4)


class RollingServer:
    """A fake rolling-window vendor on a fake clock: accepts at most ``limit`` calls (ours and
    another app's) in any ``window`` seconds. The other app has called at its steady rate for a
    window already when we start, as on a live account."""

    def __init__(self, limit: int, window: float, clock: FakeClock, others_per_window: int) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.accepted: list[float] = []
        self.rejected = 0
        self.other_every = window / others_per_window if others_per_window else math.inf
        self.next_other = clock.now - window + (self.other_every if others_per_window else 0.0)

    def call(self) -> int:
        """One of our calls arrives now: the calls in the window after it (over ``limit``: rejected)."""
        now = self.clock.now
        while self.next_other <= now:
            self._arrive(self.next_other)
            self.next_other += self.other_every
        return self._arrive(now)

    def _arrive(self, at: float) -> int:
        while self.accepted and self.accepted[0] <= at - self.window:
            self.accepted.pop(0)
        if len(self.accepted) >= self.limit:
            self.rejected += 1
            return self.limit + 1
        self.accepted.append(at)
        return len(self.accepted)


def test_hubspot_spends_almost_all_of_a_rolling_window_and_leaves_other_apps_their_share():
    clock = FakeClock()
    pacer = declared_pacer("hubspot", clock=clock)
    server = RollingServer(100, 10.0, clock, others_per_window=30)
    ours, started = 0, clock.now
    while clock.now - started < 120:
        clock.advance(pacer.reserve("default"))
        used = server.call()
        headers = {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Remaining": str(max(0, 100 - used)),
        }
        pacer.observe("default", response(headers, status=429 if used > 100 else 200))
        pacer.release("default")
        ours += 1
    assert server.rejected == 0
    # Our share of what the other app leaves (70 per 10 s), over 12 windows.
    assert ours / (70 * 12) >= 0.95


def test_hubspot_counts_a_call_in_the_window_until_a_window_after_its_answer():
    clock = FakeClock()
    pacer = declared_pacer("hubspot", clock=clock)
    start = clock.now
    assert pacer.reserve("search") == 0
    clock.advance(0.1)  # a slow first answer (a new connection): it may have arrived this late
    pacer.observe("search", response({}))
    pacer.release("search")
    booked = [start + 0.1 + pacer.reserve("search") for _ in range(3)]
    assert [t - start for t in booked] == pytest.approx([0.255, 0.51, 0.765])  # 4/s less 2 %
    # The fifth call would be 1.02 s after the first was sent, but only 0.92 s after it may have
    # landed: it waits until a full second after that answer.
    assert start + 0.1 + pacer.reserve("search") == pytest.approx(start + 1.1)


def test_hubspot_429_costs_one_slot_not_the_estimate_of_other_apps():
    clock = FakeClock()
    pacer = declared_pacer("hubspot", clock=clock)
    pacer.reserve("default")
    throttled = {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0"}
    pacer.observe("default", response(throttled, status=429))
    pacer.release("default")
    # "0 remaining" on a 429 may be a burst or an outage, not other apps' steady use.
    assert pacer.others == 0
    assert pacer.reserve("default") == pytest.approx(pacer.spacing("default"))


def test_hubspot_daily_reserve_stops_the_run():
    pacer = declared_pacer("hubspot", clock=FakeClock(), daily_reserve=100)
    pacer.observe("default", response({"X-HubSpot-RateLimit-Daily-Remaining": "100"}))
    with pytest.raises(QuotaExhausted, match="hubspot quota exhausted: daily API calls remaining 100"):
        pacer.reserve("default")


def test_facebook_usage_is_the_highest_header_percentage_and_the_budget_a_lower_bound():
    headers = httpx.Headers(
        {
            "X-App-Usage": json.dumps({"call_count": 40, "total_cputime": 12, "total_time": 20}),
            "X-Page-Usage": json.dumps({"call_count": 80, "total_cputime": 5, "total_time": 9}),
        }
    )
    assert declared_pacer("facebook").usage_of(headers) == (80.0, 0.0)
    # 80 of our calls at 39 %: the allowance is over 200 (80 / 0.40), so 97 % of it is over 194.
    assert budget_from_usage(80, 39, 97) == pytest.approx(194.0)
    # Floored percentages: the bound tightens as usage grows.
    assert budget_from_usage(480, 95, 97) == pytest.approx(485.0)


def graph_headers(percent: int, regain_minutes: int = 0) -> dict[str, str]:
    entry = {"type": "pages", "call_count": percent, "total_cputime": 1, "total_time": 1}
    entry["estimated_time_to_regain_access"] = regain_minutes
    return {
        "X-App-Usage": json.dumps({"call_count": percent, "total_cputime": 1, "total_time": 1}),
        "X-Business-Use-Case-Usage": json.dumps({"111": [entry]}),
    }


@pytest.mark.parametrize("others_per_window", [0, 200])
def test_facebook_settles_just_under_an_allowance_it_is_never_told(others_per_window):
    clock = FakeClock()
    window, allowance = 60.0, 500
    pacer = declared_pacer("facebook", clock=clock, window_seconds=window)
    server = RollingServer(allowance, window, clock, others_per_window)
    ours, started = [], clock.now
    while clock.now - started < 12 * window:
        clock.advance(pacer.reserve("default"))
        used = server.call()
        percent = min(100, math.floor(100 * used / allowance))
        pacer.observe("default", response(graph_headers(percent), status=403 if used > allowance else 200))
        pacer.release("default")
        ours.append(clock.now)
    assert server.rejected == 0
    # Once the estimate has ramped up, the allowance is spent at 95 % or more, ours and theirs.
    # (Each estimate is a lower bound proportional to our calls, so the ramp takes longer the more
    # of the allowance others hold: about six windows when they hold 40 %.)
    steady = [t for t in ours if t >= started + 7 * window]
    windows = (clock.now - started - 7 * window) / window
    assert 0.95 <= (len(steady) / windows + others_per_window) / allowance <= 1.0


def test_facebook_sends_freely_while_usage_is_low():
    clock = FakeClock()
    pacer = declared_pacer("facebook", clock=clock)
    for percent in (0, 1, 12, 49):
        # A handful of calls at low usage bounds the allowance only loosely: no crawl on it.
        assert pacer.reserve("default") == 0
        pacer.observe("default", response(graph_headers(percent)))
        pacer.release("default")
    pacer.observe("default", response(graph_headers(60)))
    assert pacer.spacing() == pytest.approx(3600 / budget_from_usage(4, 60, 98))


def test_facebook_throttle_pauses_for_the_regain_time_at_most_a_window():
    clock = FakeClock()
    for window, pause in ((3600.0, 240.0), (60.0, 60.0)):
        pacer = declared_pacer("facebook", clock=clock, window_seconds=window)
        for _ in range(10):
            pacer.reserve("default")  # ten calls at 5 %: the budget is not what holds the next back
        pacer.observe("default", response(graph_headers(5, regain_minutes=4)))
        pacer.release("default")
        # The 4 minutes Graph named, but never longer than the rolling window takes to forget.
        assert pacer.reserve("default") == pytest.approx(pause)


def test_salesforce_keeps_its_daily_reserve():
    pacer = declared_pacer("salesforce", clock=FakeClock(), reserve_fraction=0.1)
    pacer.observe("default", response({"Sforce-Limit-Info": "api-usage=4400/5000"}))
    assert pacer.reserve("default") == 0
    pacer.release("default")
    pacer.observe("default", response({"Sforce-Limit-Info": "api-usage=4500/5000"}))
    with pytest.raises(QuotaExhausted, match=r"4500/5000; keeping 500 calls in reserve"):
        pacer.reserve("default")
    assert declared_pacer("salesforce", reserve_calls=20).reserve_size() == 20


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
    pacer = declared_pacer("google_analytics", clock=clock)
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
    pacer = declared_pacer("google_analytics", max_concurrency=2)
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


def test_ga4_late_answers_neither_stretch_the_pause_nor_outlive_their_hour():
    clock = FakeClock(1_800_000_000.0 + 3590)  # 08:59:50 UTC
    pacer = declared_pacer("google_analytics", clock=clock, hour_margin=1.0)
    for _ in range(3):
        pacer.reserve("default")
    pacer.observe("default", response({}, body=ga4_body(hour_remaining=5, day_remaining=20000)))
    pacer.release("default")
    assert pacer.reserve("default") == pytest.approx(10 + 1.0)  # to 09:00:01
    # Two more answers of the spent hour arrive: the booked slot stays at the turn of the hour.
    for remaining in (3, 0):
        pacer.observe("default", response({}, body=ga4_body(hour_remaining=remaining, day_remaining=20000)))
        pacer.release("default")
    assert pacer.reserve("default") == pytest.approx(10 + 1.0)
    pacer.release("default")
    clock.advance(12)
    # A new hour: the old count no longer holds anything back.
    assert pacer.reserve("default") == 0


def test_twitter_learns_the_window_length_from_consecutive_resets():
    clock = FakeClock(1_800_000_000.0)
    pacer = declared_pacer("twitter", clock=clock, limits={"k": (450, 900.0)}, reset_margin=0.0)
    pacer.reserve("k")
    pacer.observe("k", response(twitter_headers(180, 179, clock.now + 6)))
    pacer.release("k")
    clock.advance(6)
    pacer.reserve("k")
    pacer.observe("k", response(twitter_headers(180, 179, clock.now + 6)))
    pacer.release("k")
    assert pacer._windows["k"].length == pytest.approx(6.0)
    assert pacer._windows["k"].limit == 180


def test_twitter_throttle_resets_do_not_shorten_the_window():
    clock = FakeClock(1_800_000_000.0)
    pacer = declared_pacer("twitter", clock=clock, limits={"k": (450, 900.0)})
    pacer.reserve("k")
    pacer.observe("k", response(twitter_headers(450, 449, clock.now + 600)))
    pacer.release("k")
    clock.advance(601)
    pacer.reserve("k")
    pacer.observe("k", response(twitter_headers(450, 0, clock.now + 2), status=429))
    pacer.release("k")
    assert pacer._windows["k"].length == 900.0


def test_pacer_registry_shares_one_pacer_per_declared_budget():
    reset_pacers()
    declare_budget("crm_a", "crm_a", "rolling_window", ("Max", "Remaining", "Interval"))
    declare_budget("graph_page", "shared_app", "usage_percent", ("X-App-Usage", "X-Page-Usage"))
    declare_budget("graph_media", "shared_app", "usage_percent", ("X-App-Usage",))
    assert pacer_for("crm_a") is pacer_for("crm_a")
    assert isinstance(pacer_for("crm_a"), RollingWindowPacer)
    assert pacer_for("graph_media") is pacer_for("graph_page")
    assert pacer_for("crm_a") is not pacer_for("graph_page")
    assert type(pacer_for("undeclared")) is Pacer
    # One budget's pacer reads every header its sources declared.
    assert pacer_for("graph_media").signals == ("X-App-Usage", "X-Page-Usage")
    with pytest.raises(ValueError, match="pacer kind 'leaky' does not exist"):
        declare_budget("x", "x", "leaky")
    with pytest.raises(ValueError, match=r"reads the signals \(max, remaining, interval_milliseconds"):
        declare_budget("crm_b", "crm_b", "rolling_window", ("Max",))
    with pytest.raises(ValueError, match="sources sharing a budget declare one pacer"):
        declare_budget("graph_other", "shared_app", "usage_percent", ("X-App-Usage",), {"window_seconds": 60})


def test_the_shipped_sources_declare_their_budgets():
    import cdp_platform.sources  # noqa: F401 - declares the budgets

    reset_pacers()
    assert isinstance(pacer_for("hubspot"), RollingWindowPacer)
    assert pacer_for("instagram") is pacer_for("facebook")


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
    pacer = declared_pacer("twitter", limits={"/2/tweets/search/recent": (limit, window)}, reset_margin=0.05)

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
    pacer = declared_pacer("google_analytics", clock=clock, sleep=sleep)

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
    pacer = declared_pacer("hubspot", max_per_interval=30, interval_seconds=1.0)

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
