"""Twitter / X API v2 as data: mentions of the brand account."""

from cdp_platform.http.errors import ErrorRule
from cdp_platform.sources.declaration import (
    AccountOption,
    Credential,
    DailyWindow,
    Endpoint,
    Pagination,
    ProfileIdentifier,
    Quota,
    Schedule,
    SourceDeclaration,
    StreamDeclaration,
)

SOURCE = SourceDeclaration(
    name="twitter",
    position=6,
    title="Twitter / X",
    description="Tweets mentioning the brand account, with their authors.",
    auth="bearer",
    credentials=(
        Credential(
            "bearer_token",
            "set it to the app's bearer token (app-only authentication)",
            description="App-only bearer token.",
        ),
    ),
    options=(AccountOption("user_id", "The brand account's user id."),),
    streams=(
        StreamDeclaration(
            name="mentions",
            description="Tweets mentioning the brand account, created in the partition's day, with their authors.",
            endpoint=Endpoint("GET", "/2/users/{user_id}/mentions"),
            record_path="data",
            id_field="id",
            change_time_field="created_at",
            pagination=Pagination(
                "page_token",
                {"token_path": "meta.next_token", "token_param": "pagination_token", "errors_path": "errors"},
            ),
            window=DailyWindow("start_time", "end_time", "iso_seconds"),
        ),
    ),
    # x-rate-limit-limit/-remaining/-reset per endpoint, fixed windows.
    quota=Quota(
        pacer="fixed_window",
        signals=("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"),
        # App-only limits per 15-minute window (they vary by plan; the first response corrects
        # them); keys start at the API version segment.
        settings={
            "limits": {"/2/tweets/search/recent": (450, 900.0), "/2/users/:id/mentions": (450, 900.0)},
            "path_root": "/2/",
        },
    ),
    # A problem document: the monthly usage cap looks like a 429 but lasts until next month.
    errors=(
        ErrorRule("quota_exhausted", contains={"type": "usage-capped"}),
        ErrorRule("quota_exhausted", equals={"title": ("UsageCapExceeded",)}),
    ),
    schedule=Schedule(minute=45),
    page_size=(100, 5, 100),
    # A handle is public and can be mistyped into a CRM: it ranks after an email.
    profile_identifier=ProfileIdentifier(
        "twitter_handle",
        "handle",
        priority=4,
        profile_hosts=("twitter.com", "x.com"),
        description="The person's X username, bare and lower-cased (@Jane_Doe and x.com/Jane_Doe are "
        "jane_doe): a mention's author, or what a CRM record holds for them.",
    ),
)
