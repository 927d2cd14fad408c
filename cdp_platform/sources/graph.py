"""The Graph API protocol, shared by every source that speaks it: requests, time windows and parent
listings (a mechanism named by the protocol, not by one of the sources using it).

The Graph API (``/v21.0/...``): lists carry ``paging.next`` full URLs to follow as given,
``since``/``until`` select by creation time, and comments are read per parent object. Comments
arrive after their post, so the comments of partition D are read from the posts of the
``COMMENT_LOOKBACK_DAYS`` days up to D (comments later than that on older posts are not read).
A parent whose comments are all landed already is not asked again (:mod:`.parent_state`), and the
parent listing is shared through the day's listing cache (:mod:`cdp_platform.http.listing_cache`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from cdp_platform.http import NextUrl, RequestSpec
from cdp_platform.http.listing_cache import listing_cache, listing_key
from cdp_platform.http.pagination import get_path
from cdp_platform.io.lake import Lake
from cdp_platform.sources import parent_state
from cdp_platform.sources.stream import Slice, StreamContext, Window

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ParentFields:
    """What a parent listing asks besides the id, so that a parent with nothing new is not asked
    for its comments again (:mod:`cdp_platform.sources.parent_state`): the parent's creation time,
    its comment count and, where the node has one, its last-activity time (dotted paths)."""

    fields: str
    created_path: str
    count_path: str | None = None
    activity_path: str | None = None


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # 2026-11-25T18:45:03+0000
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _seen(record: dict[str, Any], fields: ParentFields) -> parent_state.ParentSeen:
    """A listed parent's comment state; a count or activity that does not read as one (a drifted
    type, another date format) makes the parent one that is always read, never skipped."""
    count = _count(get_path(record, fields.count_path)) if fields.count_path else None
    activity = None
    if fields.activity_path:
        activity = _time(get_path(record, fields.activity_path))
        if activity is None:
            count = None
    return parent_state.ParentSeen(
        str(get_path(record, "id")), _time(get_path(record, fields.created_path)), count, activity
    )


async def list_parents(
    ctx: StreamContext, node: str, edge: str, fields: str = "id", attempts: int = 3
) -> tuple[list[dict[str, Any]], datetime]:
    """The parents (posts, media) created in the comment look-back window, and when they were listed.

    A parent that comes back without an id would silently hide all its comments, so the listing is
    asked again (such a record is usually one bad answer); if it persists the stream fails, loudly,
    and its retry starts over. A listing of a window that had closed when it was fetched is kept in
    the listing cache for the day's other streams and runs (its parents cannot change any more;
    their counts are as of ``listed_at``, which the caller takes into account).
    """
    start = ctx.window.start - timedelta(days=COMMENT_LOOKBACK_DAYS)
    first = edge_request(node, edge, fields, start, ctx.window.end)
    cache = listing_cache(ctx.lake) if ctx.source else None
    key = None
    if cache is not None:
        key = listing_key(
            ctx.source, first.url, {**dict(first.params or {}), "_base": str(ctx.client.base_url)}
        )
        # In a thread: a Redis that does not answer must not stall the other streams' requests.
        cached = await asyncio.to_thread(cache.get, key)
        if isinstance(cached, dict) and isinstance(cached.get("records"), list):
            ctx.counters["listings_from_cache"] = ctx.counters.get("listings_from_cache", 0) + 1
            return cached["records"], datetime.fromisoformat(cached["listed_at"])
    unusable = 0
    for _ in range(attempts):
        listed_at = datetime.now(UTC)
        records: list[dict[str, Any]] = []
        unusable = 0
        async for page in NextUrl("data", url_path="paging.next").pages(
            ctx.client, first, stream=f"{node}/{edge}"
        ):
            records.extend(page.records)
            unusable += len(page.dead_letters)
        if not unusable:
            unique = list({str(get_path(r, "id")): r for r in records}.values())
            if cache is not None and key is not None and ctx.window.end <= listed_at:
                await asyncio.to_thread(
                    cache.put, key, {"records": unique, "listed_at": listed_at.isoformat()}
                )
            return unique, listed_at
    raise ParentListingError(
        f"{edge} of {node}: {unusable} record(s) without an id in {attempts} listings; their comments cannot be read"
    )


async def parent_ids(ctx: StreamContext, node: str, edge: str, attempts: int = 3) -> list[str]:
    """Ids of the parents created in the comment look-back window (see :func:`list_parents`)."""
    records, _ = await list_parents(ctx, node, edge, "id", attempts)
    return [str(get_path(record, "id")) for record in records]


def comment_slices(
    node_option: str,
    parent_edge: str,
    fields: str,
    extra: dict[str, str] | None = None,
    parent_fields: ParentFields | None = None,
):
    """One slice per recent parent; ``extra`` adds edge parameters (``filter=stream``).

    With ``parent_fields`` the listing also asks each parent's comment count (and last activity),
    and a parent whose comments are all landed already (:func:`parent_state.unchanged`) gets no
    slice; what was seen and skipped is kept with the day's checkpoints until the day lands
    (:func:`landed_parents` then advances the state)."""

    async def slices(ctx: StreamContext) -> AsyncIterator[Slice]:
        node = ctx.options[node_option]
        listing = parent_fields.fields if parent_fields else "id"
        records, listed_at = await list_parents(ctx, node, parent_edge, listing)
        skipped: set[str] = set()
        if parent_fields is not None and ctx.lake is not None and ctx.checkpoint_prefix:
            seen = [_seen(r, parent_fields) for r in records]
            states = await asyncio.to_thread(parent_state.load_states, ctx.lake, ctx.asset_path)
            skipped = {p.id for p in seen if parent_state.unchanged(p, states.get(p.id), ctx.window.start)}
            await asyncio.to_thread(
                parent_state.write_facts, ctx.lake, ctx.checkpoint_prefix, seen, skipped, listed_at
            )
        ctx.counters["parents_listed"] = len(records)
        ctx.counters["parents_skipped"] = len(skipped)
        for record in records:
            parent = str(get_path(record, "id"))
            if parent in skipped:
                continue
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


def landed_parents(
    lake: Lake, asset_path: list[str], day_prefix: str, window: Window, rows: pl.DataFrame
) -> None:
    """A comment stream's day has landed: advance its parents' state (see :mod:`.parent_state`).

    The day's data is in place already; a state that cannot be saved only means its parents are
    read again next time, so that is a warning, not a failed materialization."""
    try:
        parent_state.commit(lake, asset_path, day_prefix, window.start, window.end, rows)
    except Exception as exc:
        log.warning("parent state of %s not advanced for %s: %s", "/".join(asset_path), window.partition, exc)
