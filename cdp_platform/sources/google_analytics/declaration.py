"""Google Analytics 4 Data API as data: one runReport row per visitor per day."""

from cdp_platform.http.errors import ErrorRule
from cdp_platform.sources.declaration import (
    AccountOption,
    Credential,
    DailyWindow,
    Endpoint,
    Pagination,
    Quota,
    Schedule,
    SourceDeclaration,
    StreamDeclaration,
)

SOURCE = SourceDeclaration(
    name="google_analytics",
    position=3,
    title="Google Analytics 4",
    description="GA4 user activity per visitor per day, through runReport.",
    auth="bearer",
    credentials=(
        Credential(
            "access_token",
            "set it to an OAuth2 access token with scope analytics.readonly",
            description="OAuth2 access token.",
        ),
    ),
    options=(AccountOption("property_id", "The GA4 property to report on."),),
    streams=(
        StreamDeclaration(
            name="user_daily_activity",
            description="GA4 activity per visitor per day: sessions, engagement, page views, conversions, revenue.",
            endpoint=Endpoint("POST", "/v1beta/properties/{property_id}:runReport"),
            record_path="rows",
            id_field="dimensions.date",
            change_time_field="dimensions.date",
            pagination=Pagination(
                "offset",
                # A report row has no id of its own (its dimension values are, after shaping).
                {
                    "total_path": "rowCount",
                    "offset_param": "offset",
                    "limit_param": "limit",
                    "id_field": None,
                },
            ),
            window=DailyWindow("startDate", "endDate", "date", location="body"),
        ),
    ),
    # propertyQuota in the runReport body: tokens per hour and day, concurrent requests.
    quota=Quota(pacer="body_quota_tokens", signals=("propertyQuota",), budget="ga4"),
    # {"error": {code, message, status}}: RESOURCE_EXHAUSTED is an hourly quota to wait out,
    # unless the message says it is the daily one.
    errors=(
        ErrorRule(
            "quota_exhausted",
            equals={"error.status": ("RESOURCE_EXHAUSTED",)},
            contains={"error.message": "per day"},
        ),
        ErrorRule("throttled", equals={"error.status": ("RESOURCE_EXHAUSTED",)}),
    ),
    schedule=Schedule(minute=25),
    page_size=(10_000, 1, 250_000),
)
