"""The assembled app: routing, reproducible bytes, stateless cursors, stats, and serving on a real port."""

from __future__ import annotations

import httpx
import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.app import create_app
from cdp_platform.sandbox.credentials import SandboxCredentials
from cdp_platform.sandbox.faults import FaultProfile
from cdp_platform_tests.sandbox.conftest import CONFIG, GA4, GRAPH, HUBSPOT, TWITTER, serve_on_port

pytestmark = pytest.mark.anyio


async def tour(client: httpx.AsyncClient, data) -> list[tuple[int, list, bytes]]:
    """One request to every endpoint family; returns (status, headers, body) of each."""
    token = await client.post(
        "/salesforce/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": creds.SALESFORCE_CLIENT_ID,
            "client_secret": creds.SALESFORCE_CLIENT_SECRET,
            "refresh_token": creds.SALESFORCE_REFRESH_TOKEN,
        },
    )
    sf = {"Authorization": f"Bearer {token.json()['access_token']}"}
    calls = [
        client.get(
            "/salesforce/services/data/v62.0/query", params={"q": "SELECT Id, Name FROM Account"}, headers=sf
        ),
        client.get(
            "/hubspot/crm/v3/objects/contacts",
            params={"limit": "20", "associations": "companies"},
            headers=HUBSPOT,
        ),
        client.post("/hubspot/crm/v3/objects/deals/search", json={"limit": 20}, headers=HUBSPOT),
        client.post(
            f"/ga4/v1beta/properties/{data.ga4_property_id}:runReport",
            headers=GA4,
            json={
                "dimensions": [{"name": "date"}, {"name": "customUser:ga_client_id"}],
                "metrics": [{"name": "sessions"}],
                "dateRanges": [{"startDate": "30daysAgo", "endDate": "today"}],
            },
        ),
        client.get(f"/facebook/v21.0/{data.facebook_lead_form_ids[0]}/leads", headers=GRAPH),
        client.get(
            f"/instagram/v21.0/{data.instagram_user_id}/media", params={"fields": "id,caption"}, headers=GRAPH
        ),
        client.get(
            f"/twitter/2/users/{data.twitter_user_id}/mentions",
            params={"expansions": "author_id"},
            headers=TWITTER,
        ),
    ]
    out = [(token.status_code, sorted(token.headers.items()), token.content)]
    for call in calls:
        response = await call
        assert response.status_code == 200, response.text
        out.append((response.status_code, sorted(response.headers.items()), response.content))
    return out


async def test_one_seed_gives_identical_bytes_twice(make_client, data):
    async with make_client() as first_client:
        first = await tour(first_client, data)
    async with make_client() as second_client:
        second = await tour(second_client, data)
    assert first == second


async def test_cursors_are_stateless_across_app_instances(make_client, data):
    async with make_client() as a:
        page = (
            await a.get("/hubspot/crm/v3/objects/contacts", params={"limit": "7"}, headers=HUBSPOT)
        ).json()
        graph = (
            await a.get(
                f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"limit": "3"}, headers=GRAPH
            )
        ).json()
    async with make_client() as b:
        nxt = await b.get(page["paging"]["next"]["link"], headers=HUBSPOT)
        assert nxt.status_code == 200 and nxt.json()["results"][0]["id"] not in {
            r["id"] for r in page["results"]
        }
        assert (await b.get(graph["paging"]["next"], headers=GRAPH)).status_code == 200


async def test_cursor_from_another_query_is_refused(client, data):
    graph = (
        await client.get(
            f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"limit": "3"}, headers=GRAPH
        )
    ).json()
    other = await client.get(
        f"/facebook/v21.0/{data.facebook_page_id}/posts",
        params={"limit": "3", "since": "1700000000", "after": graph["paging"]["cursors"]["after"]},
        headers=GRAPH,
    )
    assert other.status_code == 400 and other.json()["error"]["code"] == 100


async def test_credentials_can_be_overridden(make_client):
    async with make_client(credentials=SandboxCredentials(hubspot_private_app_token="pat-custom")) as client:
        assert (await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)).status_code == 401
        ok = await client.get(
            "/hubspot/crm/v3/objects/contacts", headers={"Authorization": "Bearer pat-custom"}
        )
        assert ok.status_code == 200


async def test_stats_endpoint_counts_requests_and_faults(make_client):
    async with make_client(faults=FaultProfile("t", {"http_503": 1.0})) as client:
        for _ in range(3):
            await client.get("/hubspot/crm/v3/objects/contacts", headers=HUBSPOT)
        await client.post("/hubspot/oauth/v1/token", data={"grant_type": "refresh_token"})
        stats = (await client.get("/_sandbox/stats")).json()
    assert stats["requests"]["hubspot"] == {"total": 4, "data": 3}
    assert stats["faults"]["hubspot"] == {"http_503": 3}


async def test_unknown_paths_are_404(client):
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.get("/hubspot/crm/v4/objects/contacts", headers=HUBSPOT)).status_code == 404


def test_real_port_serves_pages_and_cuts_connections(data):
    app = create_app(
        CONFIG, data=data, faults=FaultProfile("cut", {"cut_connection": 0.5}), rate_limits=False
    )
    with serve_on_port(app) as root, httpx.Client(base_url=root, timeout=10) as client:
        outcomes = []
        for i in range(30):
            try:
                response = client.get(
                    f"/facebook/v21.0/{data.facebook_page_id}/posts",
                    params={"limit": "50", "n": str(i)},
                    headers=GRAPH,
                )
                outcomes.append(response.status_code)
                if response.status_code == 200 and "next" in response.json().get("paging", {}):
                    assert response.json()["paging"]["next"].startswith(f"{root}/facebook/v21.0/")
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                outcomes.append(type(exc).__name__)
        stats = client.get("/_sandbox/stats").json()
    cuts = [o for o in outcomes if o != 200]
    assert cuts and 200 in outcomes
    assert len(cuts) == stats["faults"]["facebook"]["cut_connection"]


def test_real_port_token_flow_uses_the_port_as_instance_url(data):
    app = create_app(CONFIG, data=data)
    with serve_on_port(app) as root, httpx.Client(timeout=10) as client:
        token = client.post(
            f"{root}/salesforce/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.SALESFORCE_CLIENT_ID,
                "client_secret": creds.SALESFORCE_CLIENT_SECRET,
            },
        ).json()
        assert token["instance_url"] == f"{root}/salesforce"
        auth = {"Authorization": f"Bearer {token['access_token']}", "Sforce-Query-Options": "batchSize=200"}
        page = client.get(
            f"{token['instance_url']}/services/data/v62.0/query",
            params={"q": "SELECT Id FROM Contact"},
            headers=auth,
        ).json()
        total = len(page["records"])
        while not page["done"]:
            page = client.get(token["instance_url"] + page["nextRecordsUrl"], headers=auth).json()
            total += len(page["records"])
        assert total == page["totalSize"] == len(data.all_positions("salesforce/contacts"))


def test_data_must_match_the_config(data):
    import dataclasses

    with pytest.raises(ValueError):
        create_app(dataclasses.replace(CONFIG, seed=8), data=data)


async def test_a_big_page_does_not_hold_up_other_requests(client, data):
    import asyncio

    finished: list[str] = []

    async def big_report():
        response = await client.post(
            f"/ga4/v1beta/properties/{data.ga4_property_id}:runReport",
            headers=GA4,
            json={
                "dimensions": [{"name": "date"}, {"name": "customUser:ga_client_id"}],
                "metrics": [{"name": "sessions"}],
                "dateRanges": [{"startDate": "365daysAgo", "endDate": "today"}],
                "limit": "2000",
            },
        )
        assert len(response.json()["rows"]) == 2000
        finished.append("report")

    async def stats():
        await asyncio.sleep(0)  # let the report start building first
        assert (await client.get("/_sandbox/stats")).status_code == 200
        finished.append("stats")

    await asyncio.gather(big_report(), stats())
    assert finished == ["stats", "report"]
