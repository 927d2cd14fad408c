"""Google Analytics 4 Data API: one row per visitor per day, through ``runReport``.

Partition D is ``dateRanges: [{startDate: D, endDate: D}]``. Rows are paged by ``offset`` and
``limit`` up to ``rowCount``. User-level data comes through a user-scoped custom dimension holding
the CRM contact id (set when the visitor was logged in) and one holding the GA client id.

A report row is a list of values whose meaning is in the response's headers, so each row is
stored with its headers applied: ``{"dimensions": {name: value}, "metrics": {name: value}}``, a
lossless reshaping that keeps every value exactly as sent (strings).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cdp_platform.http import Auth, BearerAuth, RequestSpec
from cdp_platform.sources.google_analytics.declaration import SOURCE
from cdp_platform.sources.stream import StreamContext, declared_stream, single
from cdp_platform.sources.vendor import VendorResource

DIMENSIONS = ("date", "customUser:crm_contact_id", "customUser:ga_client_id", "sessionSourceMedium")
METRICS = ("sessions", "engagedSessions", "screenPageViews", "conversions", "purchaseRevenue")
PAGE_SIZE = 10_000


class GoogleAnalyticsResource(VendorResource):
    """GA4: an OAuth access token with ``analytics.readonly`` and the property id."""

    source = "google_analytics"
    http_vendor = "ga4"

    access_token: str | None = Field(
        default=None, description="OAuth2 access token (CDP_GOOGLE_ANALYTICS_ACCESS_TOKEN)."
    )

    def auth(self) -> Auth:
        return BearerAuth(self.access_token)


def report_request(ctx: StreamContext) -> RequestSpec:
    day = ctx.window.day.isoformat()
    return RequestSpec(
        "POST",
        f"/v1beta/properties/{ctx.options['property_id']}:runReport",
        json={
            "dimensions": [{"name": name} for name in DIMENSIONS],
            "metrics": [{"name": name} for name in METRICS],
            "dateRanges": [{"startDate": day, "endDate": day}],
            "offset": "0",
            "limit": str(ctx.size(PAGE_SIZE, 1, 250_000)),
            "returnPropertyQuota": True,
        },
    )


def shape_row(row: dict[str, Any], body: Any, _slice: str) -> tuple[dict[str, Any], None]:
    dims = [h.get("name") for h in (body or {}).get("dimensionHeaders", [])]
    mets = [h.get("name") for h in (body or {}).get("metricHeaders", [])]
    return (
        {
            "dimensions": {
                n: v.get("value") for n, v in zip(dims, row.get("dimensionValues", []), strict=False)
            },
            "metrics": {n: v.get("value") for n, v in zip(mets, row.get("metricValues", []), strict=False)},
        },
        None,
    )


def row_id(payload: dict[str, Any]) -> str:
    """A row's identity is its dimension values: the same visitor, day and channel is one row."""
    dims = payload.get("dimensions", {})
    return ":".join(
        str(dims.get(name))
        for name in ("date", "customUser:ga_client_id", "customUser:crm_contact_id", "sessionSourceMedium")
    )


STREAMS = (
    declared_stream(SOURCE, "user_daily_activity", single(report_request), shape=shape_row, record_id=row_id),
)
