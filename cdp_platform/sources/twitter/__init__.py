"""Twitter / X API v2: mentions of the brand account.

Partition D is ``start_time``/``end_time`` on ``/2/users/{id}/mentions``, paged with
``pagination_token``. Each tweet keeps its author (from ``includes.users``) beside it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from cdp_platform.http import Auth, BearerAuth, RequestSpec
from cdp_platform.sources.stream import StreamContext, declared_stream, single
from cdp_platform.sources.twitter.declaration import SOURCE
from cdp_platform.sources.vendor import VendorResource


class TwitterResource(VendorResource):
    """Twitter/X: an app-only bearer token."""

    source = "twitter"
    http_vendor = "twitter"

    bearer_token: str | None = Field(
        default=None, description="App-only bearer token (CDP_TWITTER_BEARER_TOKEN)."
    )

    def auth(self) -> Auth:
        return BearerAuth(self.bearer_token)


def twitter_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def mentions_request(ctx: StreamContext) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"/2/users/{ctx.options['user_id']}/mentions",
        params={
            "start_time": twitter_time(ctx.window.start),
            "end_time": twitter_time(ctx.window.end),
            "max_results": ctx.size(100, 5, 100),
            "tweet.fields": "created_at,author_id,public_metrics,lang",
            "expansions": "author_id",
            "user.fields": "username,name",
        },
    )


def with_author(
    tweet: dict[str, Any], body: Any, _slice: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    users = ((body or {}).get("includes") or {}).get("users") or []
    author = next((u for u in users if u.get("id") == tweet.get("author_id")), None)
    return tweet, ({"author": author} if author else None)


STREAMS = (declared_stream(SOURCE, "mentions", single(mentions_request), shape=with_author),)
