"""Salesforce saved answers (restforce's fixtures) through the platform's own OAuth, client,
paginator, pacer and error classification."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import httpx
import polars as pl
import pytest

from cdp_platform.cleansed.normalize import timestamp
from cdp_platform.http import NextUrl, VendorError
from cdp_platform.http.pagination import get_path
from cdp_platform.sources.salesforce import STREAMS, query_request
from cdp_platform.sources.salesforce.auth import SalesforceOAuth
from cdp_platform_tests.contracts.recordings import HERE, day_window, land_pages, served
from cdp_platform_tests.contracts.recordings import saved as saved_answer
from cdp_platform_tests.support.pacers import declared_pacer

SAVED = HERE / "salesforce"
TOKEN = json.loads((SAVED / "auth_success_response.json").read_bytes())["access_token"]
CONTACTS = next(s for s in STREAMS if s.name == "contacts")
USAGE = {"Sforce-Limit-Info": "api-usage=18/5000"}  # not in the saved answers: API_FACTS' example


def saved(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return saved_answer(SAVED / name, status, headers)


def _extract(answer, paginator=None):
    auth = SalesforceOAuth(
        "https://login.salesforce.com", "consumer-key", "consumer-secret", refresh_token="rt-1"
    )
    pacer = declared_pacer("salesforce")
    api = served("salesforce", "https://login.salesforce.com", auth, pacer, answer)
    landed = land_pages(
        api.client,
        CONTACTS,
        day_window("2026-11-20"),
        query_request("SELECT Id, Name FROM Contact"),
        paginator=paginator,
    )
    return landed.result, landed.pages, pacer


def _router(seen: list[httpx.Request], query: httpx.Response | None = None):
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/services/oauth2/token":
            return saved("auth_success_response.json")
        if query is not None:
            return query
        if request.url.path == "/services/data/v26.0/query/01gD":
            return saved("query_paginated_last_page_response.json", headers=USAGE)
        return saved("query_paginated_first_page_response.json", headers=USAGE)

    return answer


def test_the_token_answer_sets_instance_and_bearer_and_nextrecordsurl_is_followed():
    seen: list[httpx.Request] = []
    result, pages, pacer = _extract(_router(seen))
    token, first, second = seen
    assert dict(parse_qsl(token.content.decode()))["grant_type"] == "refresh_token"
    # The saved token answer names the instance; every query goes there with its token.
    assert str(first.url).startswith("https://na1.salesforce.com/services/data/v62.0/query?q=")
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert str(second.url) == "https://na1.salesforce.com/services/data/v26.0/query/01gD"
    assert result.complete and result.pages == 2
    # Their records select no Id: the stream's paginator names them as dead letters, drops none silently.
    assert [d.error for p in pages for d in p.dead_letters] == ["record has no Id", "record has no Id"]
    assert [json.loads(d.body)["Text_Label"] for p in pages for d in p.dead_letters] == [
        "First Page",
        "Last Page",
    ]
    assert (pacer.used, pacer.allowed) == (18, 5000)


def test_parent_lookups_child_queries_and_formats_read_as_saved():
    seen: list[httpx.Request] = []
    result, pages, _ = _extract(
        _router(seen, saved("query_success_response.json")),
        NextUrl("records", url_path="nextRecordsUrl", done_path="done", id_field=None),
    )
    (record,) = pages[0].records
    assert result.complete and result.records == 1
    # The parent lookup keeps its attributes after its fields; a path reads through it either way.
    assert list(record["ParentWhizbang__r"]) == ["Name", "Text_Label", "attributes"]
    assert get_path(record, "ParentWhizbang__r.Name") == "Parent Whizbang"
    assert get_path(record, "Whizbangs__r.records")[0]["Name"] == "Child Whizbang"
    assert record["Picklist_Multiselect_Label"].split(";") == ["four", "six"]
    moments = pl.DataFrame({"t": [record["DateTime_Label"], record["Date_Label"]]}).select(
        timestamp("t").alias("t")
    )
    assert moments["t"].dt.to_string("%Y-%m-%dT%H:%M:%S%z").to_list() == [
        "2011-07-07T00:37:00+0000",
        "2010-01-01T00:00:00+0000",
    ]


def test_the_saved_error_array_is_classified_and_not_retried():
    seen: list[httpx.Request] = []
    with pytest.raises(VendorError) as raised:
        _extract(_router(seen, saved("query_error_response.json", status=400)))
    error = raised.value
    assert (error.status, error.code, error.message) == (400, "INVALID_FIELD", "error_message")
    assert not error.info.retryable and len(seen) == 2  # the token, then one query: no retry


def test_the_saved_invalid_grant_stops_at_the_token_request():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return saved("refresh_error_response.json", status=400)

    with pytest.raises(VendorError) as raised:
        _extract(answer)
    assert raised.value.status == 400 and "expired access/refresh token" in str(raised.value)
    assert "rt-1" not in str(raised.value) and "consumer-secret" not in str(raised.value)
    assert len(seen) == 1
