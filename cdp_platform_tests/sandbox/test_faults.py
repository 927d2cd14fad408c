"""Fault injection: rates, determinism, retries that succeed, and faults a careful client can undo."""

from __future__ import annotations

import math
import re

import httpx
import pytest

from cdp_platform.sandbox.app import sandbox_stats
from cdp_platform.sandbox.faults import (
    DATA_KINDS,
    PROFILES,
    TRANSPORT_KINDS,
    FaultInjector,
    FaultProfile,
    SandboxStats,
)
from cdp_platform_tests.sandbox.conftest import GRAPH, HUBSPOT, TWITTER, salesforce_token

pytestmark = pytest.mark.anyio
STORM = PROFILES["storm"]
HS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def within(count: int, n: int, rate: float, sigmas: float = 4.5) -> bool:
    return abs(count - n * rate) <= sigmas * math.sqrt(n * rate * (1 - rate)) + 1


class Sleeps:
    """Records injected slow-response delays instead of waiting them out."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def test_storm_profile_meets_the_issue_minimums():
    assert STORM.rate("rate_limited") + STORM.rate("retry_after_zero") >= 0.20
    assert sum(STORM.rate(k) for k in ("http_500", "http_502", "http_503", "http_504")) >= 0.05
    # Expired credentials are the tempest's: the storm predates them and its rate tests count
    # every transport fault on requests with static tokens, which never expire.
    assert all(STORM.rate(kind) > 0 for kind in TRANSPORT_KINDS + DATA_KINDS if kind != "expired_token")
    assert all(
        PROFILES["tempest"].rate(kind) > 0 for kind in TRANSPORT_KINDS + DATA_KINDS if kind != "slow_response"
    )
    assert not PROFILES["none"].rates


def test_profile_validation():
    with pytest.raises(ValueError):
        FaultProfile("x", {"rate_limited": 0.7, "http_500": 0.7})
    with pytest.raises(ValueError):
        FaultProfile("x", {"gremlins": 0.1})


def test_planned_rates_match_the_profile_over_many_identities():
    injector = FaultInjector(STORM, seed=7, stats=SandboxStats())
    n = 5000
    plans = [injector.plan("hubspot", f"request-{i}") for i in range(n)]
    for kind in TRANSPORT_KINDS:
        assert within(sum(p.transport == kind for p in plans), n, STORM.rate(kind)), kind
    clean = [p for p in plans if p.transport is None]
    for kind in DATA_KINDS:
        assert within(sum(p.wants(kind) for p in clean), len(clean), STORM.rate(kind)), kind


def test_a_faulted_identity_is_answered_cleanly_within_the_attempt_cap():
    injector = FaultInjector(STORM, seed=7, stats=SandboxStats())
    for i in range(300):
        for _ in range(STORM.max_consecutive_faults + 1):
            plan = injector.plan("twitter", f"r{i}")
            plan.applied.update(plan.data)  # as a handler would: every planned data fault applied
            injector.settle(plan)
            if plan.transport is None and not plan.data:
                break
        else:
            pytest.fail("an identity stayed faulted past the cap")


def test_bursts_repeat_throttling_for_the_same_request():
    injector = FaultInjector(
        FaultProfile("t", {"rate_limited": 0.5}, burst_max=3), seed=1, stats=SandboxStats()
    )
    lengths = []
    for i in range(400):
        length = 0
        while (plan := injector.plan("ga4", f"q{i}")).transport == "rate_limited":
            injector.settle(plan)
            length += 1
        injector.settle(plan)
        lengths.append(length)
    assert max(lengths) >= 3 and sum(length >= 2 for length in lengths) > 40


async def test_each_kind_occurs_at_its_rate_over_1500_requests(make_client):
    sleeps = Sleeps()
    n = 1500
    async with make_client(faults="storm", rate_limits=False, sleep=sleeps) as client:
        statuses: list[int | str] = []
        for i in range(n):
            try:
                response = await client.get(
                    "/hubspot/crm/v3/objects/companies", params={"limit": "2", "n": str(i)}, headers=HUBSPOT
                )
                statuses.append(response.status_code)
            except httpx.ReadError:
                statuses.append("cut")
        stats = sandbox_stats(client.app)
    faults = stats["faults"]["hubspot"]
    assert stats["requests"]["hubspot"]["data"] == n
    for kind in TRANSPORT_KINDS:
        assert within(faults.get(kind, 0), n, STORM.rate(kind)), (kind, faults)
    assert statuses.count("cut") == faults["cut_connection"]
    assert len(sleeps.calls) == faults["slow_response"] and set(sleeps.calls) == {STORM.slow_seconds}
    assert statuses.count(429) / n >= 0.20
    assert sum(s in (500, 502, 503, 504) for s in statuses) / n >= 0.05
    clean = n - sum(faults.get(kind, 0) for kind in TRANSPORT_KINDS)
    expected = {
        **{kind: STORM.rate(kind) for kind in DATA_KINDS},
        "duplicate_record": STORM.rate("duplicate_record") * (1 - STORM.rate("repeated_cursor")),
        "empty_last_page": 0.0,  # every page here has a next page; the fault only bends last pages
    }
    for kind in DATA_KINDS:
        assert within(faults.get(kind, 0), clean, expected[kind]), (kind, faults)


async def test_same_seed_same_bytes_even_in_a_storm(make_client, data):
    async def transcript():
        out = []
        async with make_client(faults="storm", sleep=Sleeps()) as client:
            token = await salesforce_token(client)
            requests = [("GET", "/hubspot/crm/v3/objects/contacts", {"limit": "5"}, HUBSPOT, None)] * 6 + [
                ("POST", "/hubspot/crm/v3/objects/deals/search", {}, HUBSPOT, {"limit": 7}),
                ("GET", f"/facebook/v21.0/{data.facebook_page_id}/posts", {"limit": "4"}, GRAPH, None),
                (
                    "GET",
                    f"/twitter/2/users/{data.twitter_user_id}/mentions",
                    {"expansions": "author_id"},
                    TWITTER,
                    None,
                ),
                (
                    "GET",
                    "/salesforce/services/data/v62.0/query",
                    {"q": "SELECT Id, Email FROM Contact LIMIT 300"},
                    {"Authorization": f"Bearer {token['access_token']}"},
                    None,
                ),
            ] * 5
            for method, url, params, headers, body in requests:
                try:
                    response = await client.request(method, url, params=params, headers=headers, json=body)
                    out.append((response.status_code, sorted(response.headers.items()), response.content))
                except httpx.ReadError:
                    out.append(("cut",))
        return out

    first, second = await transcript(), await transcript()
    assert first == second
    assert len({entry[0] for entry in first}) > 2, "the storm changed some answers"


async def test_different_seeds_fault_differently():
    a = FaultInjector(STORM, seed=1, stats=SandboxStats())
    b = FaultInjector(STORM, seed=2, stats=SandboxStats())
    assert [a.plan("hubspot", str(i)).transport for i in range(200)] != [
        b.plan("hubspot", str(i)).transport for i in range(200)
    ]


async def test_cut_connection_in_process_is_a_read_error(make_client):
    async with make_client(faults=FaultProfile("cut", {"cut_connection": 1.0})) as client:
        with pytest.raises(httpx.ReadError):
            await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)


async def test_gateway_errors_are_html_and_500_is_vendor_json(make_client, data):
    async with make_client(faults=FaultProfile("gw", {"http_502": 0.5, "http_500": 0.5})) as client:
        seen = {}
        for i in range(20):
            response = await client.get(
                f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"n": str(i)}, headers=GRAPH
            )
            seen[response.status_code] = response
        assert seen[502].headers["content-type"].startswith("text/html") and "Bad Gateway" in seen[502].text
        assert seen[500].json()["error"]["type"] == "OAuthException"


async def test_retry_after_zero_and_reset_in_the_past(make_client, data, clock):
    async with make_client(faults=FaultProfile("r0", {"retry_after_zero": 1.0})) as client:
        hub = await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
        assert hub.status_code == 429 and hub.headers["Retry-After"] == "0" and hub.json()["policyName"]
        tw = await client.get(f"/twitter/2/users/{data.twitter_user_id}/mentions", headers=TWITTER)
        assert tw.status_code == 429 and int(tw.headers["x-rate-limit-reset"]) < clock.now


async def test_graph_throttle_faults_use_graph_codes(make_client, data):
    async with make_client(faults=FaultProfile("t", {"rate_limited": 1.0})) as client:
        codes = set()
        for i in range(40):
            response = await client.get(
                f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"n": str(i)}, headers=GRAPH
            )
            codes.add(response.json()["error"]["code"])
        assert codes == {4, 17, 32, 613}


async def test_duplicate_record_repeats_the_last_record_on_the_next_page(make_client):
    async with make_client(faults=FaultProfile("d", {"duplicate_record": 1.0})) as client:
        first = (
            await client.get("/hubspot/crm/v3/objects/companies", params={"limit": "5"}, headers=HUBSPOT)
        ).json()
        second = (await client.get(first["paging"]["next"]["link"], headers=HUBSPOT)).json()
        assert second["results"][0]["id"] == first["results"][-1]["id"]


async def test_repeated_cursor_and_self_link(make_client, data):
    async with make_client(faults=FaultProfile("loop", {"repeated_cursor": 1.0})) as client:
        url = f"/facebook/v21.0/{data.facebook_page_id}/posts"
        first = (await client.get(url, params={"limit": "3"}, headers=GRAPH)).json()
        cursor = first["paging"]["cursors"]["after"]
        again = (await client.get(url, params={"limit": "3", "after": cursor}, headers=GRAPH)).json()
        assert again["paging"]["cursors"]["after"] == cursor
    async with make_client(faults=FaultProfile("self", {"self_link": 1.0})) as client:
        response = await client.get(
            "/hubspot/crm/v3/objects/contacts", params={"limit": "3"}, headers=HUBSPOT
        )
        assert response.json()["paging"]["next"]["link"] == str(response.request.url)
        token = await salesforce_token(client)
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        page = (
            await client.get(
                f"{token['instance_url']}/services/data/v62.0/query",
                params={"q": "SELECT Id FROM Contact"},
                headers={**auth, "Sforce-Query-Options": "batchSize=200"},
            )
        ).json()
        looped = (await client.get(token["instance_url"] + page["nextRecordsUrl"], headers=auth)).json()
        assert [r["Id"] for r in looped["records"]] == [r["Id"] for r in page["records"]]


async def test_malformed_and_drifted_records(make_client):
    async with make_client() as clean_client:
        clean = (
            await clean_client.get(
                "/hubspot/crm/v3/objects/contacts", params={"limit": "10"}, headers=HUBSPOT
            )
        ).json()["results"]
    async with make_client(faults=FaultProfile("m", {"malformed_record": 1.0})) as client:
        damaged = (
            await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "10"}, headers=HUBSPOT)
        ).json()["results"]
    changed = [(a, b) for a, b in zip(clean, damaged, strict=True) if a != b]
    assert len(changed) == 1
    assert not valid_hubspot(changed[0][1]) and valid_hubspot(changed[0][0])
    async with make_client(faults=FaultProfile("s", {"schema_drift": 1.0})) as client:
        drifted = (
            await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "10"}, headers=HUBSPOT)
        ).json()["results"]
    assert all(any(isinstance(v, int | float) for v in r["properties"].values()) for r in drifted)


def valid_hubspot(record: dict) -> bool:
    properties = record.get("properties", {})
    email = properties.get("email")
    return (
        isinstance(record.get("id"), str)
        and HS_TIME.match(str(record.get("updatedAt", ""))) is not None
        and all(v is None or isinstance(v, str) for v in properties.values())
        and (email is None or "@" in email)
    )


async def careful_hubspot_list(client: httpx.AsyncClient, object_type: str) -> tuple[list[str], int]:
    """A client that retries transport faults and re-reads pages that look wrong; returns ids and requests."""
    url = f"/hubspot/crm/v3/objects/{object_type}?limit=20"
    ids: dict[str, None] = {}
    requests = 0
    while url:
        requests += 1
        assert requests < 2000
        try:
            response = await client.get(url, headers=HUBSPOT)
        except httpx.ReadError:
            continue
        if response.status_code != 200:
            assert response.status_code in (429, 500, 502, 503, 504)
            continue
        body = response.json()
        if not all(valid_hubspot(r) for r in body["results"]):
            continue  # a malformed or drifted record: read the page again
        link = body.get("paging", {}).get("next", {}).get("link")
        if link is not None and (
            link == str(response.request.url)
            or body["paging"]["next"]["after"] == response.request.url.params.get("after")
        ):
            continue  # a loop: ask again for the same page
        ids.update(dict.fromkeys(r["id"] for r in body["results"]))
        url = link
    return list(ids), requests


async def test_storm_never_makes_data_unrecoverable(make_client, data):
    async with make_client(faults="storm", rate_limits=False, sleep=Sleeps()) as client:
        ids, requests = await careful_hubspot_list(client, "contacts")
        stats = sandbox_stats(client.app)
    expected = [data.record_id("hubspot/contacts", p) for p in data.all_positions("hubspot/contacts")]
    assert ids == expected
    assert requests > len(expected) / 20 * 1.2, "the storm really did get in the way"
    assert sum(stats["faults"]["hubspot"].values()) > 10


async def test_faults_can_be_configured_per_vendor(make_client, data):
    async with make_client(faults={"twitter": FaultProfile("t", {"http_503": 1.0})}) as client:
        tw = await client.get(f"/twitter/2/users/{data.twitter_user_id}/mentions", headers=TWITTER)
        hub = await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
        assert (tw.status_code, hub.status_code) == (503, 200)
    with pytest.raises(ValueError):
        FaultInjector({"myspace": "storm"}, seed=1, stats=SandboxStats())


async def test_empty_last_page_keeps_a_cursor_that_leads_nowhere(make_client, data):
    async with make_client(faults=FaultProfile("e", {"empty_last_page": 1.0})) as client:
        url = f"/twitter/2/users/{data.twitter_user_id}/mentions"
        params = {"start_time": "2026-11-20T00:00:00Z", "max_results": "100"}
        last = (await client.get(url, params=params, headers=TWITTER)).json()
        assert 0 < last["meta"]["result_count"] < 100 and "next_token" in last["meta"]
        after = await client.get(
            url, params={**params, "pagination_token": last["meta"]["next_token"]}, headers=TWITTER
        )
        assert after.json() == {"meta": {"result_count": 0}}


async def test_salesforce_bursts_are_503_not_the_daily_limit_code(make_client):
    async with make_client(faults={"salesforce": FaultProfile("t", {"rate_limited": 1.0})}) as client:
        token = await salesforce_token(client)
        response = await client.get(
            f"{token['instance_url']}/services/data/v62.0/query",
            params={"q": "SELECT Id FROM Lead"},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert response.status_code == 503
        assert response.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
        assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


async def test_an_expired_session_is_answered_once_and_the_renewed_one_is_honoured(make_client):
    """Salesforce answers a live session 401 INVALID_SESSION_ID on a request's first attempt; the
    request sent again (with a new session, as a client would) is answered. Static tokens are never
    answered as expired, and the fault is not counted for them."""
    async with make_client(faults=FaultProfile("exp", {"expired_token": 1.0})) as client:
        token = await salesforce_token(client)
        url = f"{token['instance_url']}/services/data/v62.0/query"
        params = {"q": "SELECT Id FROM Account"}
        expired = await client.get(
            url, params=params, headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
        renewed = await salesforce_token(client)
        again = await client.get(
            url, params=params, headers={"Authorization": f"Bearer {renewed['access_token']}"}
        )
        assert again.status_code == 200
        static = await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "2"}, headers=HUBSPOT)
        assert static.status_code == 200
        stats = sandbox_stats(client.app)
    assert stats["faults"] == {"salesforce": {"expired_token": 1}}
    assert stats["fault_totals"]["expired_token"] == 1 and stats["fault_totals"]["http_500"] == 0


async def test_page_max_shortens_pages_whatever_the_client_asked(make_client):
    async with make_client(faults=FaultProfile("short", page_max=3)) as client:
        page = (
            await client.get("/hubspot/crm/v3/objects/contacts", params={"limit": "50"}, headers=HUBSPOT)
        ).json()
        following = (await client.get(page["paging"]["next"]["link"], headers=HUBSPOT)).json()
    assert len(page["results"]) == 3 and len(following["results"]) == 3
    assert not {r["id"] for r in page["results"]} & {r["id"] for r in following["results"]}
