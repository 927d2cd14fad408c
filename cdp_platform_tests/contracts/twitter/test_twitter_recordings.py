"""Twitter/X v2 recorded answers through the platform's own client, paginator, pacer and cleanser."""

from __future__ import annotations

import datetime
import json

import httpx
import polars as pl

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.cleansed.normalize import display_name
from cdp_platform.http.auth import BearerAuth
from cdp_platform.sources.stream import StreamContext
from cdp_platform.sources.twitter import STREAMS, mentions_request
from cdp_platform.sources.twitter.cleansed.mentions import ENTITY
from cdp_platform_tests.contracts.recordings import HERE, cassette, day_window, land_pages, served
from cdp_platform_tests.http.conftest import FakeClock, SleepRecorder
from cdp_platform_tests.support.pacers import declared_pacer

MENTIONS = cassette(HERE / "twitter" / "test_client_get_users_mentions.yaml")[0]
RETWEETERS = cassette(HERE / "twitter" / "test_asyncclient_get_retweeters.yaml")
RECORDED_AT = 1665182598.0  # the recording's date header, Fri, 07 Oct 2022 22:43:18 UTC
STREAM = STREAMS[0]
WINDOW = day_window("2022-10-07")


def _run():
    """The mentions stream of one day against the recording: page 1 is the recorded answer; the
    page its ``next_token`` asks for is answered with the documented empty last page."""

    def answer(request: httpx.Request) -> httpx.Response:
        if "pagination_token" not in request.url.params:
            return MENTIONS.response()
        return httpx.Response(200, json={"meta": {"result_count": 0}})

    clock = FakeClock(RECORDED_AT)
    sleep = SleepRecorder(clock)
    pacer = declared_pacer("twitter", clock=clock, sleep=sleep)
    api = served("twitter", "https://api.twitter.com", BearerAuth("recorded"), pacer, answer, sleep)
    first = mentions_request(StreamContext(api.client, WINDOW, {"user_id": "783214"}))
    return land_pages(api.client, STREAM, WINDOW, first), api.seen, pacer, sleep


def test_recorded_mentions_page_through_client_paginator_and_pacer():
    landed, seen, pacer, sleep = _run()
    assert landed.result.complete and landed.result.pages == 2 and landed.result.records == 10
    assert seen[0].url.path == "/2/users/783214/mentions"
    # The recorded next_token goes back as the mentions endpoint's pagination_token.
    assert seen[1].url.params["pagination_token"] == "7140dibdnow9c7btw423i3sy3u5zupmkcpofxcsmxj48j"
    # The pacer took the recorded quota (450 per window, 448 left, reset 1665183228) from the first
    # answer: the second call was spaced (reset - now) / remaining after it, not by its defaults.
    window = pacer._windows["/2/users/:id/mentions"]
    assert window.limit == 450 and window.reset_at == 1665183228
    assert sleep.calls and abs(sleep.calls[0] - (1665183228 - RECORDED_AT) / 448) < 0.01
    ids = landed.rows["record_id"].to_list()
    assert len(ids) == 10 and "1578516295611748353" in ids and "1578516107798884353" in ids
    emoji = landed.rows.filter(pl.col("record_id") == "1578516220231397376")["payload"].item()
    assert json.loads(emoji)["text"] == "@Twitter make 🤨 an available reaction emoji in dms"


def test_recorded_tweets_without_created_at_are_quarantined_not_guessed():
    """tweepy recorded the request without tweet.fields, so the tweets have no created_at: the
    cleanser quarantines them as missing_required rather than inventing a time."""
    landed, *_ = _run()
    result = cleanse(landed.rows, ENTITY, datetime.date(2022, 10, 7))
    assert result.clean.height == 0
    assert set(result.rejected["rule"]) == {"missing_required"}
    assert set(result.rejected["field"]) == {"created_at"}


def test_recorded_display_names_become_first_and_last_names():
    users = [u for r in RETWEETERS for u in json.loads(r.body).get("data", [])]
    emily = next(u for u in users if u["name"].startswith("Emily Waligoske"))
    assert emily["name"] == "Emily Waligoske 🏕"
    names = pl.DataFrame({"name": [u["name"] for u in users]}).select(display_name("name").alias("name"))[
        "name"
    ]
    assert "Emily Waligoske" in names.to_list()
    assert all(n is None or any(c.isalpha() for c in n.split(" ")[-1]) for n in names)
