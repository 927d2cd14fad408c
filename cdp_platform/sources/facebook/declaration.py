"""Facebook Graph API as data: Lead Ads leads, Page posts and their comments."""

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
from cdp_platform.sources.graph_signals import GRAPH_APP_BUDGET, GRAPH_ERRORS, USAGE_SETTINGS

GRAPH_VERSION = "v21.0"
_NEXT = Pagination("next_url", {"url_path": "paging.next"})
_SINCE_UNTIL = DailyWindow("since", "until", "unix_seconds")

SOURCE = SourceDeclaration(
    name="facebook",
    position=4,
    title="Facebook",
    description="Facebook Page: Lead Ads leads, posts and comments.",
    auth="graph_token",
    credentials=(
        Credential(
            "access_token",
            "set it to a Page access token (leads_retrieval, pages_read_engagement)",
            description="Page access token.",
        ),
        Credential("app_id", optional=True, description="App id, to exchange an expired token."),
        Credential(
            "app_secret", optional=True, description="App secret: every call then carries appsecret_proof."
        ),
    ),
    options=(
        AccountOption("page_id", "The Facebook Page to read."),
        AccountOption("lead_form_ids", "Comma-separated Lead Ads form ids."),
    ),
    streams=(
        StreamDeclaration(
            name="leads",
            description="Lead Ads leads created in the partition's day, per form, with their field_data.",
            endpoint=Endpoint("GET", f"/{GRAPH_VERSION}/{{form_id}}/leads"),
            record_path="data",
            id_field="id",
            change_time_field="created_time",
            pagination=_NEXT,
            window=DailyWindow("time_created", "time_created", "unix_seconds", location="filter"),
        ),
        StreamDeclaration(
            name="page_posts",
            description="The Page's posts created in the partition's day.",
            endpoint=Endpoint("GET", f"/{GRAPH_VERSION}/{{page_id}}/posts"),
            record_path="data",
            id_field="id",
            change_time_field="created_time",
            pagination=_NEXT,
            window=_SINCE_UNTIL,
        ),
        StreamDeclaration(
            name="post_comments",
            description="Comments and replies made in the partition's day on the Page's recent posts.",
            endpoint=Endpoint("GET", f"/{GRAPH_VERSION}/{{parent}}/comments"),
            record_path="data",
            id_field="id",
            change_time_field="created_time",
            pagination=_NEXT,
            window=_SINCE_UNTIL,
            fan_out="page_posts",
            hook="parent_listing",
        ),
    ),
    # X-App-Usage and friends: percentages of a rolling hour of the app's budget.
    quota=Quota(
        pacer="usage_percent",
        signals=("X-App-Usage", "X-Page-Usage", "X-Business-Use-Case-Usage"),
        budget=GRAPH_APP_BUDGET,
        settings=USAGE_SETTINGS,
    ),
    errors=GRAPH_ERRORS,
    schedule=Schedule(minute=35),
    page_size=(100, 1, 100),
    # A commenter is known by the user id Graph gives them (app-scoped, stable for this Page's app).
    profile_identifier=ProfileIdentifier(
        "facebook_id",
        "user_id",
        priority=2,
        description="The commenter's Facebook user id as Graph gives it (from.id: app-scoped, stable for "
        "this Page's app).",
    ),
)
