"""GA4 runReport bodies assembled from the documentation (no recording exists with a usable
licence) through the platform's own request, offset paginator, GA4 pacer, row shape and errors."""

from __future__ import annotations

import json

import pytest

from cdp_platform.http import (
    BearerAuth,
    VendorError,
)
from cdp_platform.sources.google_analytics import STREAMS, report_request
from cdp_platform.sources.stream import StreamContext
from cdp_platform_tests.contracts.recordings import HERE, day_window, land_pages, saved, served
from cdp_platform_tests.support.pacers import declared_pacer

DOCUMENTED = HERE / "google_analytics"
STREAM = STREAMS[0]


def _run(answer):
    pacer = declared_pacer("google_analytics")
    api = served("ga4", "https://analyticsdata.googleapis.com", BearerAuth("ya29.test"), pacer, answer)
    window = day_window("2026-11-20")
    first = report_request(StreamContext(api.client, window, {"property_id": "1234"}))
    landed = land_pages(api.client, STREAM, window, first)
    return landed.result, api.seen, landed.rows, pacer


def test_documented_report_is_one_page_its_row_keyed_by_header_and_its_quota_read():
    result, seen, rows, pacer = _run(lambda request: saved(DOCUMENTED / "run_report_example.json"))
    (request,) = seen  # rowCount 1 with offset 0: no second page
    body = json.loads(request.content)
    assert request.url.path == "/v1beta/properties/1234:runReport" and body["returnPropertyQuota"] is True
    assert body["dateRanges"] == [{"startDate": "2026-11-20", "endDate": "2026-11-20"}]
    assert result.complete and result.records == 1
    payload = json.loads(rows["payload"].item())
    assert payload == {
        "dimensions": {"eventName": "in_app_purchase", "countryId": "JP"},
        "metrics": {"eventCount": "15"},
    }
    # The pacer reads propertyQuota: 39,990 tokens left this hour, 199,990 today, 10 concurrent requests.
    assert (pacer.hourly_remaining, pacer.daily_remaining, pacer.max_concurrency) == (39990, 199990, 10)
    assert pacer.tokens_per_request == 10


def test_documented_permission_denied_fails_at_once():
    with pytest.raises(VendorError) as raised:
        _run(lambda request: saved(DOCUMENTED / "permission_denied_example.json", status=403))
    error = raised.value
    assert error.status == 403 and "sufficient permissions" in error.message
    assert not error.info.retryable and error.attempts == 1
