"""Instagram Graph API as data: the business account's media and the comments on them."""

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
    name="instagram",
    position=5,
    title="Instagram",
    description="Instagram business account: media and comments.",
    auth="graph_token",
    credentials=(
        Credential(
            "access_token",
            "set it to a token with instagram_basic and instagram_manage_comments",
            description="Access token.",
        ),
        Credential(
            "app_secret",
            optional=True,
            description="Secret of the Meta app the token belongs to; when set, every call carries appsecret_proof.",
        ),
    ),
    options=(AccountOption("user_id", "The Instagram business account id."),),
    streams=(
        StreamDeclaration(
            name="media",
            description="The account's media published in the partition's day.",
            endpoint=Endpoint("GET", f"/{GRAPH_VERSION}/{{user_id}}/media"),
            record_path="data",
            id_field="id",
            change_time_field="timestamp",
            pagination=_NEXT,
            window=_SINCE_UNTIL,
        ),
        StreamDeclaration(
            name="media_comments",
            description="Comments made in the partition's day on the account's recent media.",
            endpoint=Endpoint("GET", f"/{GRAPH_VERSION}/{{parent}}/comments"),
            record_path="data",
            id_field="id",
            change_time_field="timestamp",
            pagination=_NEXT,
            window=_SINCE_UNTIL,
            fan_out="media",
            hook="parent_listing",
        ),
    ),
    # One Meta app's hourly usage is shared by the Graph sources: one pacer (GRAPH_APP_BUDGET) spends it.
    quota=Quota(
        pacer="usage_percent",
        signals=("X-App-Usage", "X-Business-Use-Case-Usage"),
        budget=GRAPH_APP_BUDGET,
        settings=USAGE_SETTINGS,
    ),
    errors=GRAPH_ERRORS,
    schedule=Schedule(minute=55),
    page_size=(100, 1, 100),
    # A commenter is a username and nothing else (Graph gives no name, no email).
    profile_identifier=ProfileIdentifier(
        "instagram_username",
        "handle",
        priority=5,
        profile_hosts=("instagram.com",),
        description="The person's Instagram username, bare and lower-cased: a commenter's, or what a CRM "
        "record holds for them.",
    ),
)
