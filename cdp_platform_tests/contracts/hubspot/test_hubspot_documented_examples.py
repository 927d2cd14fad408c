"""HubSpot's documented example bodies (no recording exists with a usable licence) through the
platform's own search extractor, client, pacer, error classification, raw rows and cleanser."""

from __future__ import annotations

import datetime
import json

import httpx
import polars as pl

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.http import (
    BearerAuth,
    InMemoryCheckpointStore,
)
from cdp_platform.sources.hubspot import STREAMS, properties
from cdp_platform.sources.hubspot.cleansed.contacts import ENTITY
from cdp_platform.sources.hubspot.search import extract_search
from cdp_platform_tests.contracts.recordings import HERE, day_window, land, served
from cdp_platform_tests.http.conftest import SleepRecorder
from cdp_platform_tests.support.pacers import declared_pacer

DOCUMENTED = HERE / "hubspot"
CONTACTS = next(s for s in STREAMS if s.name == "contacts")
EXAMPLE = json.loads((DOCUMENTED / "search_contacts_example.json").read_bytes())
LAST_PAGE = {key: value for key, value in EXAMPLE.items() if key != "paging"}


def test_documented_search_pages_a_429_and_the_example_contact_cleansed():
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if "after" not in body:
            return httpx.Response(200, content=(DOCUMENTED / "search_contacts_example.json").read_bytes())
        if sum("after" in asked for asked in seen) == 1:
            return httpx.Response(429, content=(DOCUMENTED / "rate_limit_example.json").read_bytes())
        return httpx.Response(200, json=LAST_PAGE)

    sleep = SleepRecorder()
    api = served(
        "hubspot",
        "https://api.hubapi.com",
        BearerAuth("pat-na1-test"),
        declared_pacer("hubspot", sleep=sleep),
        answer,
        sleep,
    )
    window = day_window("2019-12-07")

    def fetch(on_page):
        return extract_search(
            api.client,
            "contacts",
            window.start,
            window.end,
            checkpoint_store=InMemoryCheckpointStore(),
            checkpoint_key="hubspot/contacts/2019-12-07",
            on_page=on_page,
            properties=properties("contacts"),
        )

    landed = land(api.client, CONTACTS, window, fetch)
    result, rows = landed.result, landed.rows
    # The window's first page tells its total (under search's 10,000-result cap) and is kept as the
    # extraction's first page: no separate probe.
    first, throttled, retried = seen
    assert first["limit"] == 200 and "after" not in first
    # The search asks the day on lastmodifieddate, ascending, with the properties the cleanser reads.
    assert first["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"
    assert "email" in first["properties"] and first["sorts"][0]["direction"] == "ASCENDING"
    # The documented cursor goes back in the next search body; the documented 429 is waited out.
    assert throttled["after"] == retried["after"] == "NTI1Cg%3D%3D"
    assert sleep.calls and result.complete
    assert rows["record_id"].to_list() == ["512"]
    assert rows["updated_at"].to_list() == [
        datetime.datetime(2019, 12, 7, 16, 50, 6, 678000, tzinfo=datetime.UTC)
    ]
    clean = cleanse(rows, ENTITY, window.day).clean
    row = clean.row(0, named=True)
    assert (row["email"], row["first_name"], row["last_name"]) == ("bcooper@biglytics.net", "Bryan", "Cooper")
    assert clean.select(pl.col("full_name")).item() == "Bryan Cooper"
