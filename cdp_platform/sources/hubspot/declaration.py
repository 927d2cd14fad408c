"""HubSpot CRM v3 as data: contacts, companies and deals by search on the last-modified property."""

from cdp_platform.http.errors import ErrorRule
from cdp_platform.sources.declaration import (
    Credential,
    DailyWindow,
    Endpoint,
    Pagination,
    Quota,
    Schedule,
    SourceDeclaration,
    StreamDeclaration,
)

# The property whose change time selects a record into partition D.
MODIFIED_DATE_PROPERTY: dict[str, str] = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

_DESCRIPTIONS = {
    "contacts": "HubSpot contacts created or changed in the partition's day (search API), with their companies.",
    "companies": "HubSpot companies created or changed in the partition's day (search API).",
    "deals": "HubSpot deals created or changed in the partition's day (search API), with their contacts and companies.",
}


def _stream(name: str) -> StreamDeclaration:
    prop = MODIFIED_DATE_PROPERTY[name]
    return StreamDeclaration(
        name=name,
        description=_DESCRIPTIONS[name],
        endpoint=Endpoint("POST", f"/crm/v3/objects/{name}/search"),
        record_path="results",
        id_field="id",
        # The record's own change time; the search filters on the property, which moves with it.
        change_time_field="updatedAt",
        pagination=Pagination(
            "cursor_in_body", {"cursor_path": "paging.next.after", "cursor_param": "after"}
        ),
        window=DailyWindow(prop, prop, "unix_millis", location="filter"),
        # One search pages through at most 10,000 results: a busier window is split in time.
        hook="search_split",
    )


SOURCE = SourceDeclaration(
    name="hubspot",
    position=2,
    title="HubSpot",
    description="HubSpot CRM: contacts, companies and deals, with their associations.",
    auth="bearer",
    credentials=(
        Credential(
            "access_token",
            "set it to the private app's access token "
            "(scopes crm.objects.contacts.read, crm.objects.companies.read, crm.objects.deals.read)",
            description="Private app or OAuth access token.",
        ),
    ),
    streams=tuple(_stream(name) for name in MODIFIED_DATE_PROPERTY),
    quota=Quota(
        pacer="rolling_window",
        signals=(
            "X-HubSpot-RateLimit-Max",
            "X-HubSpot-RateLimit-Remaining",
            "X-HubSpot-RateLimit-Interval-Milliseconds",
            "X-HubSpot-RateLimit-Daily-Remaining",
        ),
        # CRM search has its own documented limit (about 4 requests a second) and often no headers.
        settings={"search_path_suffix": "/search", "search_calls": 4, "search_window_seconds": 1.0},
    ),
    # {"status": "error", "errorType", "policyName", ...}: a DAILY policy 429 will not clear within
    # a run; any other rate limit is waited out.
    errors=(
        ErrorRule("quota_exhausted", equals={"status": ("error",), "policyName": ("DAILY",)}),
        ErrorRule("throttled", equals={"status": ("error",), "errorType": ("RATE_LIMIT",)}),
    ),
    schedule=Schedule(minute=15, change_sensor=True),
    page_size=(200, 1, 200),
)
