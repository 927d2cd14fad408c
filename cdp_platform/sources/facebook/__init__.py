"""Facebook Graph API: Lead Ads leads, Page posts and their comments.

Leads of partition D are asked per form with ``filtering`` on ``time_created`` (Lead Ads' own
filter); posts with ``since``/``until``; comments per recent post (see :mod:`.graph`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import Field

from cdp_platform.http import Auth, RequestSpec
from cdp_platform.sources.facebook.declaration import SOURCE
from cdp_platform.sources.graph import (
    GRAPH_VERSION,
    PAGE_LIMIT,
    ParentFields,
    comment_slices,
    edge_request,
    landed_parents,
    unix,
)
from cdp_platform.sources.graph_auth import GraphTokenAuth
from cdp_platform.sources.stream import Slice, StreamContext, declared_stream, single
from cdp_platform.sources.vendor import VendorResource

LEAD_FIELDS = "id,created_time,ad_id,form_id,field_data"
POST_FIELDS = "id,message,created_time"
# ``parent{id}``: a reply names the comment it answers (absent on top-level comments).
COMMENT_FIELDS = "id,message,created_time,from,parent{id}"
# Graph's comments edge returns top-level comments only unless asked for the whole stream; in a
# recorded page 4 of 10 comments were replies (issue 17), so without it replies are never read.
COMMENT_PARAMS = {"filter": "stream"}
# What a post's listing says of its comments, so a post with nothing new is not asked again: the
# count of all of them, replies included (``filter(stream)``, as the comments are read), and
# ``updated_time``, which Graph moves when someone comments on the post (or it is edited).
POST_ACTIVITY = ParentFields(
    "id,created_time,updated_time,comments.filter(stream).limit(0).summary(true)",
    created_path="created_time",
    count_path="comments.summary.total_count",
    activity_path="updated_time",
)


class FacebookResource(VendorResource):
    """Facebook: a Page access token (leads_retrieval, pages_read_engagement), optionally the app
    id and secret so an expired token (Graph error 190) is exchanged for a new one; with the
    secret every call also carries ``appsecret_proof``."""

    source = "facebook"
    http_vendor = "facebook"

    access_token: str | None = Field(
        default=None, description="Page access token (CDP_FACEBOOK_ACCESS_TOKEN)."
    )
    app_id: str | None = Field(default=None, description="App id (CDP_FACEBOOK_APP_ID), for token exchange.")
    app_secret: str | None = Field(
        default=None,
        description="App secret (CDP_FACEBOOK_APP_SECRET): every call then carries appsecret_proof.",
    )

    def auth(self) -> Auth:
        return GraphTokenAuth(
            self.access_token,
            app_id=self.app_id,
            app_secret=self.app_secret,
            graph_version=GRAPH_VERSION,
            env_var="CDP_FACEBOOK_ACCESS_TOKEN",
        )


async def lead_slices(ctx: StreamContext) -> AsyncIterator[Slice]:
    start, end = unix(ctx.window.start), unix(ctx.window.end)
    filtering = [
        {"field": "time_created", "operator": "GREATER_THAN", "value": start - 1},
        {"field": "time_created", "operator": "LESS_THAN", "value": end},
    ]
    for form_id in ctx.options["lead_form_ids"].split(","):
        form_id = form_id.strip()
        if form_id:
            yield Slice(
                form_id,
                RequestSpec(
                    "GET",
                    f"/{GRAPH_VERSION}/{form_id}/leads",
                    params={
                        "fields": LEAD_FIELDS,
                        "filtering": json.dumps(filtering),
                        "limit": ctx.size(PAGE_LIMIT, 1, 100),
                    },
                ),
            )


def with_post(record: dict[str, Any], _body: Any, post_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return record, {"post_id": post_id}


STREAMS = (
    declared_stream(SOURCE, "leads", lead_slices),
    declared_stream(
        SOURCE,
        "page_posts",
        single(
            lambda ctx: edge_request(
                ctx.options["page_id"],
                "posts",
                POST_FIELDS,
                ctx.window.start,
                ctx.window.end,
                ctx.size(*SOURCE.page_size),
            )
        ),
    ),
    declared_stream(
        SOURCE,
        "post_comments",
        comment_slices("page_id", "posts", COMMENT_FIELDS, COMMENT_PARAMS, POST_ACTIVITY),
        shape=with_post,
        landed=landed_parents,
    ),
)
