"""HubSpot emulation against API_FACTS: lists, search windows, the 10,000 cap, auth, OAuth, rate limits."""

from __future__ import annotations

import datetime
import re

import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.ratelimit import RateLimitSettings
from cdp_platform_tests.sandbox.conftest import HUBSPOT

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
HS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


async def test_list_pages_with_after_until_paging_is_absent(client, data):
    seen, url, params = [], "/hubspot/crm/v3/objects/companies", {"limit": "100", "properties": "name,domain"}
    pages = 0
    while True:
        response = await client.get(url, params=params, headers=HUBSPOT)
        assert response.status_code == 200
        body = response.json()
        seen += body["results"]
        pages += 1
        if "paging" not in body:
            break
        params = {**params, "after": body["paging"]["next"]["after"]}
    total = len(data.all_positions("hubspot/companies"))
    assert len(seen) == total and pages == -(-total // 100)
    assert len({r["id"] for r in seen}) == total
    first = seen[0]
    assert set(first) >= {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert isinstance(first["id"], str) and first["archived"] is False
    assert HS_TIME.match(first["createdAt"]) and HS_TIME.match(first["updatedAt"])
    assert set(first["properties"]) <= {"name", "domain", "createdate", "hs_object_id", "hs_lastmodifieddate"}
    assert all(v is None or isinstance(v, str) for r in seen for v in r["properties"].values())


async def test_next_link_is_a_working_absolute_url(client):
    body = (
        await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "3"}, headers=HUBSPOT)
    ).json()
    link = body["paging"]["next"]["link"]
    assert link.startswith("http://sandbox.test/hubspot/crm/v3/objects/contacts?")
    followed = (await client.get(link, headers=HUBSPOT)).json()
    again = (
        await client.get(
            "/hubspot/crm/v3/objects/contacts",
            params={"limit": "3", "after": body["paging"]["next"]["after"]},
            headers=HUBSPOT,
        )
    ).json()
    assert followed == again and followed["results"][0]["id"] != body["results"][0]["id"]


async def test_associations_are_included_only_when_asked(client):
    plain = (
        await client.get("/hubspot/crm/v3/objects/deals", params={"limit": "50"}, headers=HUBSPOT)
    ).json()
    assert all("associations" not in r for r in plain["results"])
    asked = (
        await client.get(
            "/hubspot/crm/v3/objects/deals",
            params={"limit": "50", "associations": "contacts"},
            headers=HUBSPOT,
        )
    ).json()
    linked = [r for r in asked["results"] if "associations" in r]
    assert linked and all(set(r["associations"]) == {"contacts"} for r in linked)
    assert linked[0]["associations"]["contacts"]["results"][0]["type"] == "deal_to_contact"


async def test_limit_is_capped_at_100(client):
    body = (
        await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "500"}, headers=HUBSPOT)
    ).json()
    assert len(body["results"]) == 100


@pytest.mark.parametrize("value_format", ["ms", "iso"])
async def test_search_window_matches_the_data(client, data, value_format):
    start, end = datetime.datetime(2026, 9, 1, tzinfo=UTC), datetime.datetime(2026, 11, 1, tzinfo=UTC)

    def value(moment):
        return str(ms(moment)) if value_format == "ms" else moment.isoformat().replace("+00:00", "Z")

    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": value(start)},
                    {"propertyName": "lastmodifieddate", "operator": "LT", "value": value(end)},
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate"],
        "limit": 200,
    }
    results, after = [], None
    while True:
        page = (
            await client.post(
                "/hubspot/crm/v3/objects/contacts/search",
                json={**body, **({"after": after} if after else {})},
                headers=HUBSPOT,
            )
        ).json()
        results += page["results"]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    expected = data.window("hubspot/contacts", start, end)
    assert page["total"] == len(expected) == len(results)
    assert [r["id"] for r in results] == [data.record_id("hubspot/contacts", p) for p in expected]
    stamps = [r["properties"]["lastmodifieddate"] for r in results]
    assert stamps == sorted(stamps)
    assert all("associations" not in r for r in results)


async def test_search_between_and_descending(client, data):
    start, end = datetime.datetime(2026, 10, 1, tzinfo=UTC), datetime.datetime(2026, 10, 31, tzinfo=UTC)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "BETWEEN",
                        "value": ms(start),
                        "highValue": ms(end),
                    }
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
        "limit": 5,
    }
    page = (await client.post("/hubspot/crm/v3/objects/deals/search", json=body, headers=HUBSPOT)).json()
    expected = data.window("hubspot/deals", start, end + datetime.timedelta(milliseconds=1))
    assert page["total"] == len(expected)
    assert [r["id"] for r in page["results"]] == [
        data.record_id("hubspot/deals", p) for p in expected[::-1][:5]
    ]
    assert page["paging"]["next"]["after"] == "5"


async def test_search_refuses_paging_past_10000(client):
    url = "/hubspot/crm/v3/objects/contacts/search"
    for after, limit in (("10000", 100), ("9900", 200)):
        response = await client.post(url, json={"after": after, "limit": limit}, headers=HUBSPOT)
        assert response.status_code == 400
        body = response.json()
        assert (
            body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and "correlationId" in body
        )
    last_allowed = await client.post(url, json={"after": "9800", "limit": 200}, headers=HUBSPOT)
    assert last_allowed.status_code == 200 and "paging" not in last_allowed.json()


async def test_search_validation_errors(client):
    for body in (
        {"limit": 201},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "a"}]}]},
    ):
        response = await client.post("/hubspot/crm/v3/objects/contacts/search", json=body, headers=HUBSPOT)
        assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


async def test_auth_failures_use_hubspot_body(client):
    for headers in ({}, {"Authorization": "Bearer pat-na1-wrong"}):
        response = await client.get("/hubspot/crm/v3/objects/contacts", headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert "pat-na1-wrong" not in response.text


async def test_oauth_refresh_issues_expiring_tokens(client, clock):
    form = {
        "grant_type": "refresh_token",
        "client_id": creds.HUBSPOT_CLIENT_ID,
        "client_secret": creds.HUBSPOT_CLIENT_SECRET,
        "refresh_token": creds.HUBSPOT_REFRESH_TOKEN,
    }
    token = (await client.post("/hubspot/oauth/v1/token", data=form)).json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 1800
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.get("/hubspot/crm/v3/objects/contacts", headers=auth)).status_code == 200
    clock.advance(1801)
    expired = await client.get("/hubspot/crm/v3/objects/contacts", headers=auth)
    assert expired.status_code == 401 and expired.json()["category"] == "EXPIRED_AUTHENTICATION"
    bad = await client.post("/hubspot/oauth/v1/token", data={**form, "refresh_token": "nope"})
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REFRESH_TOKEN"


async def test_ten_secondly_limit_and_headers(make_client, clock):
    async with make_client(rate_limits=RateLimitSettings(hubspot_requests_per_ten_seconds=5)) as client:
        remaining = []
        for _ in range(5):
            response = await client.get(
                "/hubspot/crm/v3/objects/contacts", params={"limit": "1"}, headers=HUBSPOT
            )
            assert response.status_code == 200
            remaining.append(int(response.headers["X-HubSpot-RateLimit-Remaining"]))
            assert response.headers["X-HubSpot-RateLimit-Max"] == "5"
            assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
            assert int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) < 250000
        assert remaining == [4, 3, 2, 1, 0]
        limited = await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
        assert limited.status_code == 429
        body = limited.json()
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        clock.advance(10)
        assert (await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)).status_code == 200


async def test_search_is_limited_per_second_without_headers(client, clock):
    statuses = []
    for _ in range(5):
        response = await client.post(
            "/hubspot/crm/v3/objects/contacts/search", json={"limit": 1}, headers=HUBSPOT
        )
        statuses.append(response.status_code)
        assert "X-HubSpot-RateLimit-Remaining" not in response.headers
    assert statuses == [200, 200, 200, 200, 429]
    assert response.json()["policyName"] == "SECONDLY"
    clock.advance(1)
    assert (
        await client.post("/hubspot/crm/v3/objects/contacts/search", json={"limit": 1}, headers=HUBSPOT)
    ).status_code == 200
