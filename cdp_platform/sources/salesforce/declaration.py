"""Salesforce (REST API v62.0) as data: four sObjects read by SOQL on ``SystemModstamp``."""

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

API_VERSION = "v62.0"

# Stream -> the sObject its query reads.
OBJECTS: dict[str, str] = {
    "accounts": "Account",
    "contacts": "Contact",
    "leads": "Lead",
    "opportunities": "Opportunity",
}

_DESCRIPTIONS = {
    "accounts": "Salesforce Accounts created or changed in the partition's day.",
    "contacts": "Salesforce Contacts created or changed in the partition's day.",
    "leads": "Salesforce Leads created or changed in the partition's day.",
    "opportunities": "Salesforce Opportunities (purchases when won), by change day.",
}


def _stream(name: str) -> StreamDeclaration:
    return StreamDeclaration(
        name=name,
        description=_DESCRIPTIONS[name],
        endpoint=Endpoint("GET", f"/services/data/{API_VERSION}/query"),
        record_path="records",
        id_field="Id",
        # SystemModstamp moves on every change, system-made ones included: it misses nothing.
        change_time_field="SystemModstamp",
        pagination=Pagination("next_url", {"url_path": "nextRecordsUrl", "done_path": "done"}),
        window=DailyWindow("SystemModstamp", "SystemModstamp", "soql", location="filter"),
    )


SOURCE = SourceDeclaration(
    name="salesforce",
    position=1,
    title="Salesforce",
    description="Salesforce CRM: accounts, contacts, leads and opportunities.",
    auth="oauth2_refresh_token",
    credentials=(
        Credential(
            "client_id",
            "set it to the connected app's consumer key",
            description="Connected app consumer key.",
        ),
        Credential(
            "client_secret",
            "set it to the connected app's consumer secret",
            description="Connected app consumer secret.",
        ),
        Credential(
            "refresh_token",
            "set it to an OAuth refresh token of the integration user (connected app scopes api and refresh_token)",
            description="OAuth refresh token.",
        ),
    ),
    streams=tuple(_stream(name) for name in OBJECTS),
    # Sforce-Limit-Info is a 24 h allowance shared with the org's other integrations.
    quota=Quota(
        pacer="daily_allowance",
        signals=("Sforce-Limit-Info",),
        settings={"usage_pattern": r"api-usage=(\d+)/(\d+)"},
    ),
    # A list of {message, errorCode}: the session expired (renew the token), or the org's 24 h
    # API allowance is spent (nothing refills it within a run).
    errors=(
        ErrorRule("expired_credentials", equals={"0.errorCode": ("INVALID_SESSION_ID",)}),
        ErrorRule("quota_exhausted", equals={"0.errorCode": ("REQUEST_LIMIT_EXCEEDED",)}),
    ),
    schedule=Schedule(minute=5, change_sensor=True),
    page_size=(2000, 200, 2000),
)
