"""The Graph API protocol, shared by every source that speaks it: requests, time windows and parent
listings (a mechanism named by the protocol, not by one of the sources using it).

The Graph API (``/v21.0/...``): lists carry ``paging.next`` full URLs to follow as given,
``since``/``until`` select by creation time, and comments are read per parent object. Comments
arrive after their post, so the comments of partition D are read from the posts of the
``COMMENT_LOOKBACK_DAYS`` days up to D (comments later than that on older posts are not read).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from cdp_platform.http import NextUrl, RequestSpec
from cdp_platform.http.pagination import get_path
from cdp_platform.sources.stream import Slice, StreamContext

GRAPH_VERSION = "v21.0"
PAGE_LIMIT = 100
COMMENT_LOOKBACK_DAYS = 7


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def edge_request(
    node: str,
    edge: str,
    fields: str,
    start: datetime,
    end: datetime,
    limit: int = PAGE_LIMIT,
    extra: dict[str, str] | None = None,
) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"/{GRAPH_VERSION}/{node}/{edge}",
        params={"fields": fields, "since": unix(start), "until": unix(end), "limit": limit, **(extra or {})},
    )


class ParentListingError(RuntimeError):
    """The parents of a comment stream could not all be listed, so some comments would be missed."""


async def parent_ids(ctx: StreamContext, node: str, edge: str, attempts: int = 3) -> list[str]:
    """Ids of the parents (posts, media) created in the comment look-back window.

    A parent that comes back without an id would silently hide all its comments, so the listing is
    asked again (such a record is usually one bad answer); if it persists the stream fails, loudly,
    and its retry starts over.
    """
    start = ctx.window.start - timedelta(days=COMMENT_LOOKBACK_DAYS)
    first = edge_request(node, edge, "id", start, ctx.window.end)
    unusable = 0
    for _ in range(attempts):
        ids: list[str] = []
        unusable = 0
        async for page in NextUrl("data", url_path="paging.next").pages(
            ctx.client, first, stream=f"{node}/{edge}"
        ):
            ids.extend(str(get_path(record, "id")) for record in page.records)
            unusable += len(page.dead_letters)
        if not unusable:
            return list(dict.fromkeys(ids))
    raise ParentListingError(
        f"{edge} of {node}: {unusable} record(s) without an id in {attempts} listings; their comments cannot be read"
    )


def comment_slices(node_option: str, parent_edge: str, fields: str, extra: dict[str, str] | None = None):
    """One slice per recent parent; ``extra`` adds edge parameters (``filter=stream``)."""

    async def slices(ctx: StreamContext) -> AsyncIterator[Slice]:
        for parent in await parent_ids(ctx, ctx.options[node_option], parent_edge):
            yield Slice(
                parent,
                edge_request(
                    parent,
                    "comments",
                    fields,
                    ctx.window.start,
                    ctx.window.end,
                    ctx.size(PAGE_LIMIT, 1, 100),
                    extra,
                ),
            )

    return slices
