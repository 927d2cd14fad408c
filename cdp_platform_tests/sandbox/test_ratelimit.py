"""Quota windows: fixed and rolling semantics, time_scale on the real clock, and switching limits off."""

from __future__ import annotations

import asyncio
import time

import pytest

from cdp_platform.sandbox.ratelimit import FixedWindow, RateLimiter, RateLimitSettings, RollingWindow
from cdp_platform_tests.sandbox.conftest import HUBSPOT, TWITTER, ManualClock


def test_fixed_window_resets_on_aligned_boundaries():
    clock = ManualClock(1000.0)
    window = FixedWindow(limit=2, window_seconds=900, clock=clock)
    assert [window.acquire().allowed for _ in range(3)] == [True, True, False]
    usage = window.peek()
    assert usage.reset_at == 1800.0 and usage.remaining == 0
    clock.now = 1799.9
    assert not window.acquire().allowed
    clock.now = 1800.0
    assert window.acquire().allowed


def test_rolling_window_frees_units_one_window_after_they_were_spent():
    clock = ManualClock(0.0)
    window = RollingWindow(limit=3, window_seconds=10, clock=clock)
    for t in (0.0, 4.0, 8.0):
        clock.now = t
        assert window.acquire().allowed
    clock.now = 9.0
    denied = window.acquire()
    assert not denied.allowed and denied.reset_at == 10.0 and denied.retry_after(9.0) == 1.0
    clock.now = 10.0
    assert window.acquire().allowed
    assert not window.acquire().allowed  # the unit spent at 4.0 is still in the window


def test_costs_and_percent():
    window = FixedWindow(limit=200, window_seconds=60, clock=ManualClock(0.0))
    assert window.acquire(cost=50).percent == 25
    assert not window.acquire(cost=151).allowed and window.peek().used == 50


def test_time_scale_divides_windows_and_disabled_limits_never_deny():
    limiter = RateLimiter(RateLimitSettings(), ManualClock(0.0), time_scale=100, enabled=True)
    usage = limiter.acquire("x", "k", limit=1, nominal_seconds=10, rolling=True)
    assert usage.window_seconds == pytest.approx(0.1)  # ten seconds in a tenth of a second
    off = RateLimiter(RateLimitSettings(), ManualClock(0.0), time_scale=1, enabled=False)
    assert all(off.acquire("x", "k", limit=1, nominal_seconds=10, rolling=True).allowed for _ in range(5))
    with pytest.raises(ValueError):
        RateLimiter(RateLimitSettings(), ManualClock(0.0), time_scale=0, enabled=True)


@pytest.mark.anyio
async def test_hubspot_ten_seconds_pass_in_half_a_second_at_scale_20(make_client):
    async with make_client(
        clock=time.time, time_scale=20, rate_limits=RateLimitSettings(hubspot_requests_per_ten_seconds=3)
    ) as client:
        responses = [
            await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "1"}, headers=HUBSPOT)
            for _ in range(4)
        ]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "500"
        await asyncio.sleep(0.55)
        again = await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "1"}, headers=HUBSPOT)
        assert again.status_code == 200


@pytest.mark.anyio
async def test_twitter_reset_header_follows_the_scaled_clock(make_client, data):
    async with make_client(
        clock=time.time, time_scale=900, rate_limits=RateLimitSettings(twitter_mentions_per_15_minutes=2)
    ) as client:
        url = f"/twitter/2/users/{data.twitter_user_id}/mentions"
        await client.get(url, headers=TWITTER)
        await client.get(url, headers=TWITTER)
        limited = await client.get(url, headers=TWITTER)
        if limited.status_code == 200:  # the one-second window rolled over between calls; spend it again
            await client.get(url, headers=TWITTER)
            limited = await client.get(url, headers=TWITTER)
        assert limited.status_code == 429
        reset = int(limited.headers["x-rate-limit-reset"])
        assert 0 <= reset - time.time() <= 1.0 + 1e-3, (
            "a 15-minute window at scale 900 resets within a second"
        )
        await asyncio.sleep(max(0.0, reset - time.time()) + 0.01)
        assert (await client.get(url, headers=TWITTER)).status_code == 200


@pytest.mark.anyio
async def test_rate_limits_off_never_throttle(make_client):
    async with make_client(rate_limits=False) as client:
        statuses = {
            (
                await client.post(
                    "/hubspot/crm/v3/objects/contacts/search", json={"limit": 1}, headers=HUBSPOT
                )
            ).status_code
            for _ in range(20)
        }
        assert statuses == {200}
        listed = await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
        assert listed.headers["X-HubSpot-RateLimit-Remaining"] == listed.headers["X-HubSpot-RateLimit-Max"]
