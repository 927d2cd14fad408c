"""GA4 runReport emulation against API_FACTS: headers, rows, rowCount, offset paging, quota, errors."""

from __future__ import annotations

import datetime

import pytest

from cdp_platform.sandbox.ratelimit import RateLimitSettings
from cdp_platform_tests.sandbox.conftest import GA4

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
USER_DIMENSIONS = [
    {"name": "date"},
    {"name": "customUser:crm_contact_id"},
    {"name": "customUser:ga_client_id"},
]
METRICS = [{"name": "sessions"}, {"name": "purchaseRevenue"}]


def report(**overrides):
    body = {
        "dimensions": USER_DIMENSIONS,
        "metrics": METRICS,
        "dateRanges": [{"startDate": "2026-11-01", "endDate": "2026-11-20"}],
        "limit": "100",
    }
    return {**body, **overrides}


async def run(client, data, body, property_id=None, headers=GA4):
    return await client.post(
        f"/ga4/v1beta/properties/{property_id or data.ga4_property_id}:runReport", json=body, headers=headers
    )


async def test_user_level_rows_page_by_offset_until_row_count(client, data):
    rows, offset = [], 0
    while True:
        body = (await run(client, data, report(offset=str(offset)))).json()
        assert body["kind"] == "analyticsData#runReport"
        assert body["dimensionHeaders"] == USER_DIMENSIONS
        assert body["metricHeaders"] == [
            {"name": "sessions", "type": "TYPE_INTEGER"},
            {"name": "purchaseRevenue", "type": "TYPE_CURRENCY"},
        ]
        assert body["metadata"] == {"currencyCode": "USD", "timeZone": "Etc/UTC"}
        rows += body.get("rows", [])
        offset += 100
        if offset >= body["rowCount"]:
            break
    expected = data.window(
        "google_analytics/user_daily_activity",
        datetime.datetime(2026, 11, 1, tzinfo=UTC),
        datetime.datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert len(rows) == len(expected) == body["rowCount"]
    first = data.record("google_analytics/user_daily_activity", expected[0])
    assert rows[0]["dimensionValues"] == [
        {"value": first["dimensions"]["date"]},
        {"value": first["dimensions"]["customUser:crm_contact_id"]},
        {"value": first["dimensions"]["customUser:ga_client_id"]},
    ]
    assert all(isinstance(v["value"], str) for r in rows for v in r["dimensionValues"] + r["metricValues"])
    assert {r["dimensionValues"][0]["value"] for r in rows} <= {f"202611{d:02d}" for d in range(1, 21)}


async def test_empty_report_has_no_rows_and_no_row_count(client, data):
    body = (
        await run(client, data, report(dateRanges=[{"startDate": "2020-01-01", "endDate": "2020-01-02"}]))
    ).json()
    assert "rows" not in body and "rowCount" not in body and body["kind"] == "analyticsData#runReport"


async def test_offset_past_the_end_keeps_row_count(client, data):
    body = (await run(client, data, report(offset="1000000"))).json()
    assert "rows" not in body and body["rowCount"] > 0


async def test_fewer_dimensions_are_aggregated(client, data):
    body = (
        await run(
            client, data, report(dimensions=[{"name": "date"}], metrics=[{"name": "sessions"}], limit="1000")
        )
    ).json()
    assert body["rowCount"] == 20 == len(body["rows"])
    detailed = []
    offset = 0
    while True:
        page = (await run(client, data, report(offset=str(offset), limit="1000"))).json()
        detailed += page.get("rows", [])
        offset += 1000
        if offset >= page["rowCount"]:
            break
    total = sum(int(r["metricValues"][0]["value"]) for r in detailed)
    assert sum(int(r["metricValues"][0]["value"]) for r in body["rows"]) == total


async def test_relative_dates_and_property_quota(client, data):
    body = (
        await run(
            client,
            data,
            report(dateRanges=[{"startDate": "7daysAgo", "endDate": "today"}], returnPropertyQuota=True),
        )
    ).json()
    days = {r["dimensionValues"][0]["value"] for r in body.get("rows", [])}
    assert days <= {(data.config.today - datetime.timedelta(days=d)).strftime("%Y%m%d") for d in range(8)}
    quota = body["propertyQuota"]
    assert quota["tokensPerHour"]["consumed"] > 0
    assert quota["tokensPerHour"]["remaining"] == 40000 - quota["tokensPerHour"]["consumed"]
    assert set(quota) >= {"tokensPerDay", "tokensPerHour", "concurrentRequests"}


async def test_errors(client, data):
    unknown = await run(client, data, report(dimensions=[{"name": "customUser:shoe_size"}]))
    assert unknown.status_code == 400
    assert unknown.json()["error"]["status"] == "INVALID_ARGUMENT" and unknown.json()["error"]["code"] == 400
    denied = await run(client, data, report(), property_id="123")
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"
    unauthenticated = await run(client, data, report(), headers={"Authorization": "Bearer ya29.wrong"})
    assert (
        unauthenticated.status_code == 401 and unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
    )
    too_big = await run(client, data, report(limit="250001"))
    assert too_big.status_code == 400


async def test_tokens_per_hour_exhaustion_is_resource_exhausted(make_client, data, clock):
    async with make_client(rate_limits=RateLimitSettings(ga4_tokens_per_hour=25)) as client:
        assert [(await run(client, data, report())).status_code for _ in range(3)] == [200, 200, 429]
        body = (await run(client, data, report())).json()
        assert body["error"]["status"] == "RESOURCE_EXHAUSTED" and body["error"]["code"] == 429
        assert body["error"]["message"].startswith("Exhausted property tokens per hour")
        clock.advance(3600)
        assert (await run(client, data, report())).status_code == 200


@pytest.mark.parametrize("date", ["2026-13-01", "last week", "2026/11/01"])
async def test_invalid_dates_are_invalid_argument(client, data, date):
    response = await run(client, data, report(dateRanges=[{"startDate": date, "endDate": "today"}]))
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"
