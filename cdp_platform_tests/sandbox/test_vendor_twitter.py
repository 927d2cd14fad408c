"""Twitter / X v2 emulation against API_FACTS: mentions, recent search, expansions, errors, rate limits."""

from __future__ import annotations

import datetime
import math
import re

import pytest

from cdp_platform.sandbox.ratelimit import RateLimitSettings
from cdp_platform_tests.sandbox.conftest import TWITTER

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
TWEET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$")
FIELDS = {
    "tweet.fields": "created_at,author_id,public_metrics,lang",
    "expansions": "author_id",
    "user.fields": "username,name",
}


async def collect(client, url, params, token_param):
    tweets, pages, token = [], [], None
    while True:
        response = await client.get(
            url, params={**params, **({token_param: token} if token else {})}, headers=TWITTER
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        tweets += body.get("data", [])
        token = body["meta"].get("next_token")
        if token is None:
            return tweets, pages


async def test_mentions_window_pages_newest_first(client, data):
    start, end = datetime.datetime(2026, 6, 1, tzinfo=UTC), datetime.datetime(2026, 11, 1, tzinfo=UTC)
    tweets, pages = await collect(
        client,
        f"/twitter/2/users/{data.twitter_user_id}/mentions",
        {
            **FIELDS,
            "max_results": "100",
            "start_time": "2026-06-01T00:00:00Z",
            "end_time": "2026-11-01T00:00:00Z",
        },
        "pagination_token",
    )
    expected = data.window("twitter/mentions", start, end)
    assert [t["id"] for t in tweets] == [data.record_id("twitter/mentions", p) for p in reversed(expected)]
    assert "next_token" not in pages[-1]["meta"]
    tweet = tweets[0]
    assert set(tweet) == {
        "id",
        "text",
        "edit_history_tweet_ids",
        "author_id",
        "created_at",
        "public_metrics",
        "lang",
    }
    assert TWEET_TIME.match(tweet["created_at"]) and isinstance(tweet["id"], str)
    meta = pages[0]["meta"]
    assert meta["newest_id"] == pages[0]["data"][0]["id"] and meta["oldest_id"] == pages[0]["data"][-1]["id"]
    assert meta["result_count"] == len(pages[0]["data"])


async def test_expansions_include_users_and_partial_errors(client, data):
    tweets, pages = await collect(
        client,
        f"/twitter/2/users/{data.twitter_user_id}/mentions",
        {**FIELDS, "max_results": "100"},
        "pagination_token",
    )
    users = {u["id"]: u for p in pages for u in p.get("includes", {}).get("users", [])}
    errors = [e for p in pages for e in p.get("errors", [])]
    authors = {t["author_id"] for t in tweets}
    assert users and errors, "some authors are suspended, most are not"
    assert authors == set(users) | {e["resource_id"] for e in errors}
    assert all(set(u) == {"id", "name", "username"} for u in users.values())
    error = errors[0]
    assert error["title"] == "Not Found Error" and error["resource_type"] == "user"
    assert error["type"] == "https://api.twitter.com/2/problems/resource-not-found"
    assert any("data" in p and "errors" in p for p in pages)


async def test_default_fields_without_expansions(client, data):
    body = (await client.get(f"/twitter/2/users/{data.twitter_user_id}/mentions", headers=TWITTER)).json()
    assert len(body["data"]) == 10 and "includes" not in body
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids"}


async def test_no_results_has_no_data(client, data):
    body = (
        await client.get(
            f"/twitter/2/users/{data.twitter_user_id}/mentions",
            params={"start_time": "2010-01-01T00:00:00Z", "end_time": "2010-01-02T00:00:00Z"},
            headers=TWITTER,
        )
    ).json()
    assert body == {"meta": {"result_count": 0}}


async def test_recent_search_only_covers_seven_days(client, data):
    now = data.config.history_end
    tweets, _ = await collect(
        client,
        "/twitter/2/tweets/search/recent",
        {"query": "@northwindoutfit", "max_results": "10"},
        "next_token",
    )
    expected = data.window("twitter/mentions", now - datetime.timedelta(days=7), now)
    assert [t["id"] for t in tweets] == [data.record_id("twitter/mentions", p) for p in reversed(expected)]
    old = await client.get(
        "/twitter/2/tweets/search/recent",
        params={"query": "x", "start_time": "2026-01-01T00:00:00Z"},
        headers=TWITTER,
    )
    assert old.status_code == 400 and old.json()["title"] == "Invalid Request"


@pytest.mark.parametrize("path,value", [("mentions", "4"), ("mentions", "101"), ("search", "5")])
async def test_max_results_bounds(client, data, path, value):
    url = (
        f"/twitter/2/users/{data.twitter_user_id}/mentions"
        if path == "mentions"
        else "/twitter/2/tweets/search/recent"
    )
    response = await client.get(url, params={"query": "x", "max_results": value}, headers=TWITTER)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["parameters"] == {"max_results": [value]}
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"


async def test_unauthorized_body(client, data):
    response = await client.get(
        f"/twitter/2/users/{data.twitter_user_id}/mentions", headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }


async def test_unknown_user_is_a_partial_error(client):
    body = (await client.get("/twitter/2/users/12345/mentions", headers=TWITTER)).json()
    assert "data" not in body and body["errors"][0]["parameter"] == "id"


async def test_fifteen_minute_window_headers_and_429(make_client, clock, data):
    async with make_client(rate_limits=RateLimitSettings(twitter_mentions_per_15_minutes=3)) as client:
        url = f"/twitter/2/users/{data.twitter_user_id}/mentions"
        responses = [await client.get(url, headers=TWITTER) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["2", "1", "0", "0"]
        reset = int(responses[0].headers["x-rate-limit-reset"])
        assert reset == math.ceil((clock.now // 900 + 1) * 900)
        assert all(r.headers["x-rate-limit-limit"] == "3" for r in responses)
        assert responses[3].json() == {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        other = await client.get("/twitter/2/tweets/search/recent", params={"query": "x"}, headers=TWITTER)
        assert other.status_code == 200, "each endpoint has its own window"
        clock.now = reset
        assert (await client.get(url, headers=TWITTER)).status_code == 200


def test_a_plain_text_429_is_waited_out_by_the_platform_client():
    """Older deployments answer 429 with text/plain "Rate limit exceeded"; the sandbox serves it
    for half its throttles, and the platform's client still waits to the reset and retries."""
    import asyncio
    import time

    import httpx
    from starlette.responses import JSONResponse

    from cdp_platform.http import CircuitBreaker, VendorClient
    from cdp_platform.http.auth import BearerAuth
    from cdp_platform.sandbox.vendors.twitter import plain_rate_limit
    from cdp_platform_tests.http.conftest import FakeClock, SleepRecorder
    from cdp_platform_tests.support.pacers import declared_pacer

    clock = FakeClock(time.time())  # the retry policy reads reset times against the real clock
    sleep = SleepRecorder(clock)
    reset = int(clock.now) + 30
    answers = []

    async def app(scope, receive, send):
        limited = not answers
        answers.append(limited)
        headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0" if limited else "449"}
        headers["x-rate-limit-reset"] = str(reset if limited else reset + 900)
        answer = (
            plain_rate_limit(headers)
            if limited
            else JSONResponse({"meta": {"result_count": 0}}, headers=headers)
        )
        await answer(scope, receive, send)

    async def run():
        client = VendorClient(
            "twitter",
            "http://twitter.test",
            BearerAuth("t"),
            declared_pacer("twitter", clock=clock, sleep=sleep),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("twitter-plain-429"),
            sleep=sleep,
        )
        async with client:
            return await client.request("GET", "/2/users/1/mentions")

    response = asyncio.run(run())
    assert response.status_code == 200 and answers == [True, False]
    # Waited about to the reported reset (30 s less the real seconds passed), not a blind backoff (< 1 s).
    assert sum(sleep.calls) > 20
