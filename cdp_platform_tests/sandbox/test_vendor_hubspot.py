"""HubSpot emulation against API_FACTS: lists, search windows, the 10,000 cap, v4 association batch
reads, auth, OAuth, rate limits."""

from __future__ import annotations

import datetime
import re

import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.faults import FaultProfile
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


# ---- v4 associations batch read ----------------------------------------------------------------

ASSOCIATIONS = "/hubspot/crm/v4/associations/{}/{}/batch/read"


def declared(data, stream: str, count: int) -> dict[str, dict]:
    """The first ``count`` records of a stream by id, with the associations the sandbox gave them."""
    records = (data.record(stream, p) for p in range(count))
    return {
        r["id"]: {k: [t["id"] for t in v["results"]] for k, v in r["associations"].items()} for r in records
    }


async def read(client, from_type: str, to_type: str, ids, headers=HUBSPOT):
    inputs = [{"id": i} for i in ids]
    return await client.post(
        ASSOCIATIONS.format(from_type, to_type), json={"inputs": inputs}, headers=headers
    )


@pytest.mark.parametrize(
    ("stream", "from_type", "to_type", "type_ids"),
    [
        ("hubspot/deals", "deals", "contacts", [(3, None)]),
        ("hubspot/deals", "deals", "companies", [(5, "Primary"), (341, None)]),
        ("hubspot/contacts", "contacts", "companies", [(1, "Primary"), (279, None)]),
    ],
)
async def test_associations_batch_read_returns_each_records_links(
    client, data, stream, from_type, to_type, type_ids
):
    records = declared(data, stream, 120)
    response = await read(client, from_type, to_type, list(records))
    body = response.json()
    linked = {rid: links[to_type] for rid, links in records.items() if links.get(to_type)}
    unlinked = [rid for rid in records if rid not in linked]
    assert response.status_code == (207 if unlinked else 200)
    assert body["status"] == "COMPLETE"
    assert HS_TIME.match(body["startedAt"]) and HS_TIME.match(body["completedAt"])
    assert int(response.headers["X-HubSpot-RateLimit-Max"]) == 100
    got = {}
    for result in body["results"]:
        assert isinstance(result["from"]["id"], str)
        for target in result["to"]:
            assert isinstance(target["toObjectId"], int)
            assert [(t["typeId"], t["label"]) for t in target["associationTypes"]] == type_ids
            assert {t["category"] for t in target["associationTypes"]} == {"HUBSPOT_DEFINED"}
        got[result["from"]["id"]] = [str(t["toObjectId"]) for t in result["to"]]
    assert got == linked
    assert sorted(e["context"]["fromObjectId"][0] for e in body.get("errors", [])) == sorted(unlinked)
    assert body.get("numErrors", 0) == len(unlinked)


async def test_deals_without_a_company_are_reported_under_errors(client, data):
    records = declared(data, "hubspot/deals", 300)
    without = [rid for rid, links in records.items() if "companies" not in links]
    assert without, "the sandbox gives some deals no company (15 % of companies are not in HubSpot)"
    response = await read(client, "deals", "companies", list(records))
    assert response.status_code == 207
    error = next(e for e in response.json()["errors"] if e["context"]["fromObjectId"] == [without[0]])
    assert error == {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "context": {"fromObjectId": [without[0]], "fromObjectType": ["deal"], "toObjectType": ["company"]},
        "links": {},
        "message": f"No company is associated with deal {without[0]}.",
    }


async def test_unknown_ids_are_not_found_and_duplicates_answered_once(client, data):
    deal = data.record_id("hubspot/deals", 0)
    contact = data.record_id("hubspot/contacts", 0)  # a real id, but of another object
    unknown = ["1", "not-a-number", f"0{deal}", contact, "39999999999"]
    response = await read(client, "deal", "contact", [deal, *unknown, deal])
    assert response.status_code == 207
    body = response.json()
    assert [r["from"]["id"] for r in body["results"]] == [deal]
    assert [e["context"]["fromObjectId"][0] for e in body["errors"]] == unknown
    assert body["numErrors"] == len(unknown)
    assert all(e["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND" for e in body["errors"])


async def test_associations_need_a_valid_token(client, data):
    deal = data.record_id("hubspot/deals", 0)
    for headers in ({}, {"Authorization": "Bearer pat-na1-wrong"}):
        response = await read(client, "deals", "contacts", [deal], headers=headers)
        assert response.status_code == 401
        assert response.json()["category"] == "INVALID_AUTHENTICATION"
        assert "pat-na1-wrong" not in response.text


async def test_associations_batch_limit_and_validation(client, data):
    ids = [str(30_000_000_000 + i) for i in range(1001)]
    refused = await read(client, "deals", "contacts", ids)
    assert refused.status_code == 400
    assert refused.json()["category"] == "VALIDATION_ERROR" and "1000" in refused.json()["message"]
    accepted = await read(client, "deals", "contacts", ids[:1000])  # every deal has its buyer
    assert accepted.status_code == 200 and len(accepted.json()["results"]) == 1000
    url = ASSOCIATIONS.format("deals", "contacts")
    for body in (
        {},
        {"inputs": {"id": "1"}},
        {"inputs": [{"after": "x"}]},
        {"inputs": [{"id": "1", "after": "x"}]},
    ):
        response = await client.post(url, json=body, headers=HUBSPOT)
        assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR", body
    not_json = await client.post(url, content=b"{inputs", headers=HUBSPOT)
    assert not_json.status_code == 400 and not_json.json()["message"].startswith("Invalid input JSON")
    for from_type, to_type in (("deals", "widgets"), ("companies", "deals")):
        response = await read(client, from_type, to_type, ["1"])
        assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"
    assert (await read(client, "0-3", "0-1", [data.record_id("hubspot/deals", 0)])).status_code == 200


async def test_associations_spend_the_ten_secondly_budget(make_client, data, clock):
    deal = data.record_id("hubspot/deals", 0)
    async with make_client(rate_limits=RateLimitSettings(hubspot_requests_per_ten_seconds=2)) as client:
        assert [(await read(client, "deals", "contacts", [deal])).status_code for _ in range(2)] == [200, 200]
        limited = await read(client, "deals", "contacts", [deal])
        assert limited.status_code == 429 and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        clock.advance(10)
        assert (await read(client, "deals", "contacts", [deal])).status_code == 200


async def test_association_faults_change_types_a_client_must_read_as_ids(make_client, data):
    records = declared(data, "hubspot/deals", 20)
    profile = FaultProfile("data", {"schema_drift": 1.0, "malformed_record": 1.0})
    async with make_client(faults=profile) as client:
        body = (await read(client, "deals", "contacts", list(records))).json()
    assert all(isinstance(t["toObjectId"], str) for r in body["results"] for t in r["to"])
    assert sum(isinstance(r["from"]["id"], int) for r in body["results"]) == 1
    assert {str(r["from"]["id"]): [str(t["toObjectId"]) for t in r["to"]] for r in body["results"]} == {
        rid: links["contacts"] for rid, links in records.items()
    }
    throttled = FaultProfile("throttle", {"rate_limited": 1.0}, burst_max=1, max_consecutive_faults=1)
    async with make_client(faults=throttled) as client:
        first = await read(client, "deals", "contacts", list(records))
        assert first.status_code == 429 and first.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert "X-HubSpot-RateLimit-Max" in first.headers
        assert (await read(client, "deals", "contacts", list(records))).status_code == 200
