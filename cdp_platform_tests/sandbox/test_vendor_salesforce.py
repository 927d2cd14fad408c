"""Salesforce emulation against API_FACTS: OAuth grants, SOQL paging, errors, limits, Bulk API 2.0."""

from __future__ import annotations

import csv
import datetime
import io
import re

import httpx
import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.credentials import SandboxCredentials
from cdp_platform.sandbox.ratelimit import RateLimitSettings
from cdp_platform_tests.sandbox.conftest import salesforce_token

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
WINDOW = "WHERE SystemModstamp >= 2026-06-01T00:00:00Z AND SystemModstamp < 2026-11-27T00:00:00Z"


async def query(
    client: httpx.AsyncClient, token: dict, soql: str, batch: int | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    if batch is not None:
        headers["Sforce-Query-Options"] = f"batchSize={batch}"
    return await client.get(
        f"{token['instance_url']}/services/data/v62.0/query", params={"q": soql}, headers=headers
    )


async def follow(client: httpx.AsyncClient, token: dict, first: httpx.Response) -> list[dict]:
    pages = [first.json()]
    while not pages[-1]["done"]:
        url = token["instance_url"] + pages[-1]["nextRecordsUrl"]
        response = await client.get(url, headers={"Authorization": f"Bearer {token['access_token']}"})
        assert response.status_code == 200, response.text
        pages.append(response.json())
    return pages


@pytest.mark.parametrize(
    "grant",
    [
        {
            "grant_type": "client_credentials",
            "client_id": creds.SALESFORCE_CLIENT_ID,
            "client_secret": creds.SALESFORCE_CLIENT_SECRET,
        },
        {
            "grant_type": "refresh_token",
            "client_id": creds.SALESFORCE_CLIENT_ID,
            "client_secret": creds.SALESFORCE_CLIENT_SECRET,
            "refresh_token": creds.SALESFORCE_REFRESH_TOKEN,
        },
        {
            "grant_type": "password",
            "client_id": creds.SALESFORCE_CLIENT_ID,
            "client_secret": creds.SALESFORCE_CLIENT_SECRET,
            "username": creds.SALESFORCE_USERNAME,
            "password": creds.SALESFORCE_PASSWORD,
        },
    ],
)
async def test_token_grants_return_the_documented_fields(client, grant, clock):
    response = await client.post("/salesforce/services/oauth2/token", data=grant)
    assert response.status_code == 200
    body = response.json()
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(body)
    assert body["token_type"] == "Bearer"
    assert body["issued_at"] == str(int(clock.now * 1000))
    assert body["instance_url"] == "http://sandbox.test/salesforce"


@pytest.mark.parametrize("field,value", [("client_secret", "nope"), ("refresh_token", "stale")])
async def test_a_wrong_grant_is_invalid_grant(client, field, value):
    grant = {
        "grant_type": "refresh_token",
        "client_id": creds.SALESFORCE_CLIENT_ID,
        "client_secret": creds.SALESFORCE_CLIENT_SECRET,
        "refresh_token": creds.SALESFORCE_REFRESH_TOKEN,
        field: value,
    }
    response = await client.post("/salesforce/services/oauth2/token", data=grant)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert value not in response.text


async def test_sessions_expire_with_invalid_session_id(make_client, clock):
    async with make_client(credentials=SandboxCredentials(salesforce_session_seconds=60)) as client:
        token = await salesforce_token(client)
        assert (await query(client, token, "SELECT Id FROM Account LIMIT 1")).status_code == 200
        clock.advance(61)
        expired = await query(client, token, "SELECT Id FROM Account LIMIT 1")
        assert expired.status_code == 401
        assert expired.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]
        fresh = await salesforce_token(client)
        assert (await query(client, fresh, "SELECT Id FROM Account LIMIT 1")).status_code == 200


async def test_missing_or_forged_token_is_invalid_session(client):
    for headers in ({}, {"Authorization": "Bearer 00DSB0000000001!AQ123.forged"}):
        response = await client.get(
            "/salesforce/services/data/v62.0/query", params={"q": "SELECT Id FROM Lead"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


async def test_query_pages_follow_next_records_url_until_done(client, data):
    token = await salesforce_token(client)
    soql = f"SELECT Id, Name, Account.Name, SystemModstamp FROM Contact {WINDOW}"
    first = await query(client, token, soql, batch=200)
    pages = await follow(client, token, first)
    expected = data.window(
        "salesforce/contacts",
        datetime.datetime(2026, 6, 1, tzinfo=UTC),
        datetime.datetime(2026, 11, 27, tzinfo=UTC),
    )
    records = [r for page in pages for r in page["records"]]
    assert len(pages) > 1 and all(len(p["records"]) == 200 for p in pages[:-1])
    assert [r["Id"] for r in records] == [data.record_id("salesforce/contacts", p) for p in expected]
    assert all(page["totalSize"] == len(expected) for page in pages)
    assert "nextRecordsUrl" not in pages[-1] and pages[-1]["done"] is True
    assert pages[0]["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
    assert pages[0]["nextRecordsUrl"].endswith("-200")
    record = records[0]
    assert list(record) == ["attributes", "Id", "Name", "Account", "SystemModstamp"]
    assert record["attributes"]["type"] == "Contact"
    assert SF_DATETIME.match(record["SystemModstamp"])
    assert record["Account"] is None or set(record["Account"]) == {"attributes", "Name"}


async def test_default_batch_is_2000_and_bounds_are_clamped(client):
    token = await salesforce_token(client)
    default = (await query(client, token, "SELECT Id FROM Opportunity")).json()
    assert len(default["records"]) == min(2000, default["totalSize"])
    clamped = (await query(client, token, "SELECT Id FROM Opportunity", batch=5)).json()
    assert len(clamped["records"]) == 200


async def test_order_by_desc_limit_and_count(client, data):
    token = await salesforce_token(client)
    desc = (
        await query(client, token, "SELECT Id FROM Account ORDER BY SystemModstamp DESC, Id DESC LIMIT 5")
    ).json()
    positions = data.all_positions("salesforce/accounts")
    assert [r["Id"] for r in desc["records"]] == [
        data.record_id("salesforce/accounts", positions[-1 - i]) for i in range(5)
    ]
    assert desc["totalSize"] == 5 and desc["done"] is True
    count = (await query(client, token, f"SELECT COUNT() FROM Lead {WINDOW}")).json()
    expected = len(
        data.window(
            "salesforce/leads",
            datetime.datetime(2026, 6, 1, tzinfo=UTC),
            datetime.datetime(2026, 11, 27, tzinfo=UTC),
        )
    )
    assert count == {"totalSize": expected, "done": True, "records": []}


async def test_strict_and_inclusive_bounds(client, data):
    token = await salesforce_token(client)
    position = data.all_positions("salesforce/accounts")[50]
    stamp = data.record("salesforce/accounts", position)["SystemModstamp"]
    literal = stamp[:19] + "Z"
    ids = {}
    for op in (">=", ">", "<=", "<"):
        pages = await follow(
            client,
            token,
            await query(client, token, f"SELECT Id FROM Account WHERE SystemModstamp {op} {literal}"),
        )
        ids[op] = {r["Id"] for p in pages for r in p["records"]}
    target = data.record_id("salesforce/accounts", position)
    assert target in ids[">="] and target in ids["<="]
    assert target not in ids[">"] and target not in ids["<"]
    assert len(ids[">="]) + len(ids["<"]) == len(data.all_positions("salesforce/accounts"))


@pytest.mark.parametrize(
    "soql,code",
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'x' OR Name = 'y'", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Account.Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Account ORDER BY Name", "MALFORMED_QUERY"),
    ],
)
async def test_unsupported_soql_gets_salesforce_errors(client, soql, code):
    token = await salesforce_token(client)
    response = await query(client, token, soql)
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code
    assert "ERROR at Row:1:Column:" in body[0]["message"]
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


async def test_bad_locator(client):
    token = await salesforce_token(client)
    response = await client.get(
        f"{token['instance_url']}/services/data/v62.0/query/01gGARBAGE-2000",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_limit_info_counts_and_daily_limit_is_request_limit_exceeded(make_client, clock):
    async with make_client(rate_limits=RateLimitSettings(salesforce_requests_per_day=3)) as client:
        token = await salesforce_token(client)
        seen = []
        for _ in range(4):
            response = await query(client, token, "SELECT Id FROM Account LIMIT 1")
            seen.append((response.status_code, response.headers["Sforce-Limit-Info"]))
        assert seen[:3] == [(200, "api-usage=1/3"), (200, "api-usage=2/3"), (200, "api-usage=3/3")]
        assert seen[3][0] == 403
        exhausted = await query(client, token, "SELECT Id FROM Account LIMIT 1")
        assert exhausted.json() == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
        clock.advance(86400)
        token = await salesforce_token(client)  # the two-hour session ended too
        assert (await query(client, token, "SELECT Id FROM Account LIMIT 1")).status_code == 200


async def test_bulk_query_job_lifecycle_and_csv_paging(client, clock, data):
    token = await salesforce_token(client)
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    base = f"{token['instance_url']}/services/data/v62.0/jobs/query"
    soql = "SELECT Id, Name, Account.Name, SystemModstamp FROM Contact"
    created = await client.post(base, json={"operation": "query", "query": soql}, headers=auth)
    assert created.status_code == 200
    job = created.json()
    assert job["state"] == "UploadComplete" and job["object"] == "Contact" and job["id"].startswith("750")
    polled = (await client.get(f"{base}/{job['id']}", headers=auth)).json()
    assert polled["state"] == "InProgress"
    early = await client.get(f"{base}/{job['id']}/results", headers=auth)
    assert early.status_code == 400
    clock.advance(5)
    polled = (await client.get(f"{base}/{job['id']}", headers=auth)).json()
    total = len(data.all_positions("salesforce/contacts"))
    assert polled["state"] == "JobComplete" and polled["numberRecordsProcessed"] == total
    rows, locator, pages = [], None, 0
    while True:
        params = {"maxRecords": "400", **({"locator": locator} if locator else {})}
        response = await client.get(f"{base}/{job['id']}/results", params=params, headers=auth)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        page = list(csv.reader(io.StringIO(response.text)))
        assert page[0] == ["Id", "Name", "Account.Name", "SystemModstamp"]
        assert int(response.headers["Sforce-NumberOfRecords"]) == len(page) - 1
        rows += page[1:]
        pages += 1
        locator = response.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert pages == -(-total // 400)
    assert [row[0] for row in rows] == [
        data.record_id("salesforce/contacts", p) for p in data.all_positions("salesforce/contacts")
    ]
    assert all(row[3].endswith("Z") for row in rows)
    assert '"Id","Name","Account.Name","SystemModstamp"' in response.text


async def test_bulk_rejects_count(client):
    token = await salesforce_token(client)
    response = await client.post(
        f"{token['instance_url']}/services/data/v62.0/jobs/query",
        json={"operation": "query", "query": "SELECT COUNT() FROM Lead"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "API_ERROR"
