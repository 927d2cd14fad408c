"""Instagram Graph API: the business account's media and the comments on them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cdp_platform.http import Auth
from cdp_platform.sources.graph import (
    GRAPH_VERSION,
    ParentFields,
    comment_slices,
    edge_request,
    landed_parents,
)
from cdp_platform.sources.graph_auth import GraphTokenAuth
from cdp_platform.sources.instagram.declaration import SOURCE
from cdp_platform.sources.stream import declared_stream, single
from cdp_platform.sources.vendor import VendorResource

MEDIA_FIELDS = "id,caption,media_type,permalink,timestamp,like_count,comments_count"
COMMENT_FIELDS = "id,text,timestamp,username,like_count"
# A medium's listing gives its comments_count; IG Media has no last-activity time (no
# updated_time), so a deletion and a new comment between two reads look unchanged: the one case a
# skip can miss a comment (see cdp_platform/sources/parent_state.py).
MEDIA_ACTIVITY = ParentFields(
    "id,timestamp,comments_count", created_path="timestamp", count_path="comments_count"
)


class InstagramResource(VendorResource):
    """Instagram: a token with instagram_basic and instagram_manage_comments."""

    source = "instagram"
    http_vendor = "instagram"

    access_token: str | None = Field(default=None, description="Access token (CDP_INSTAGRAM_ACCESS_TOKEN).")
    app_secret: str | None = Field(
        default=None,
        description="Secret of the Meta app the token belongs to (CDP_INSTAGRAM_APP_SECRET); when set, "
        "every call carries appsecret_proof, which an app requiring it refuses calls without.",
    )

    def auth(self) -> Auth:
        return GraphTokenAuth(
            self.access_token,
            app_secret=self.app_secret,
            graph_version=GRAPH_VERSION,
            env_var="CDP_INSTAGRAM_ACCESS_TOKEN",
        )


def with_media(record: dict[str, Any], _body: Any, media_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return record, {"media_id": media_id}


STREAMS = (
    declared_stream(
        SOURCE,
        "media",
        single(
            lambda ctx: edge_request(
                ctx.options["user_id"],
                "media",
                MEDIA_FIELDS,
                ctx.window.start,
                ctx.window.end,
                ctx.size(*SOURCE.page_size),
            )
        ),
    ),
    declared_stream(
        SOURCE,
        "media_comments",
        comment_slices("user_id", "media", COMMENT_FIELDS, parent_fields=MEDIA_ACTIVITY),
        shape=with_media,
        landed=landed_parents,
    ),
)
