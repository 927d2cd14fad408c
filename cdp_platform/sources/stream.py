"""A source stream as data, and the raw rows its pages become.

A :class:`Stream` says how to ask the vendor for one partition's window (one or more *slices*,
each a first request with its own paginator and checkpoint), where a record's id and updated time
are, and, for the few vendors whose records need their envelope to make sense, how to shape them.
Adding an endpoint is writing one of these, not code in the extraction loop.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from cdp_platform.cleansed import normalize
from cdp_platform.http import CheckpointStore, ExtractResult, Paginator, RequestSpec, VendorClient
from cdp_platform.http.pagination import Page, get_path, paginator_from_config
from cdp_platform.sources.declaration import SourceDeclaration, StreamDeclaration

RAW_SCHEMA: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "updated_at": pl.Datetime("us", "UTC"),
    "payload": pl.String(),
    "context": pl.String(),
    "partition_date": pl.Date(),
    "slice": pl.String(),
    "page": pl.Int32(),
    "request": pl.String(),
    "fetched_at": pl.Datetime("us", "UTC"),
}

# What each raw column holds, shown in the UI (``{id_path}``, ``{updated_path}``: the stream's own).
_RAW_COLUMNS = {
    "record_id": "The record's id at the vendor, its `{id_path}` as text: one row per id and day.",
    "updated_at": "When the vendor last changed the record, its `{updated_path}`, in UTC: of the versions "
    "the day's pages returned (a resumed run, a record repeated across pages), the latest is kept.",
    "payload": "The record exactly as the vendor sent it (one element of the response's record list), "
    "as JSON text.",
    "context": "The envelope objects the record refers to, kept beside it rather than merged into it "
    "(a tweet's author from includes.users, a comment's parent post, a CRM object's associations), "
    "as JSON text; null when the stream keeps none.",
    "partition_date": "The day (UTC) whose window of creations and changes the record was fetched "
    "for: its partition.",
    "slice": "Which of the day's first requests fetched it: `all` for a single listing, else the "
    "parent a fan-out stream asked (a post, a lead form) or the part of a split listing.",
    "page": "The page's number within its slice, from 1.",
    "request": "The request that fetched the page, `METHOD URL` with credentials redacted.",
    "fetched_at": "When the page was received, UTC.",
}


def raw_column_descriptions(stream: Stream) -> dict[str, str]:
    """What each column of the stream's raw partitions holds, in the stream's own terms."""
    return {
        name: text.format(id_path=stream.id_path, updated_path=stream.updated_path)
        for name, text in _RAW_COLUMNS.items()
    }


@dataclass(frozen=True)
class Window:
    """The partition being extracted: records created or changed in [start, end) UTC."""

    partition: str
    start: datetime
    end: datetime

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass(frozen=True)
class Slice:
    """One first request of a stream's window, extracted and checkpointed on its own."""

    name: str
    request: RequestSpec | None = None


@dataclass(frozen=True)
class StreamContext:
    client: VendorClient
    window: Window
    options: dict[str, str]
    page_size: int | None = None
    # Set by the extraction (None in a bare context): the source, the stream's asset path, the lake
    # and the day's checkpoint prefix, for streams that keep state beside their checkpoints.
    source: str = ""
    asset_path: tuple[str, ...] = ()
    lake: Any = None
    checkpoint_prefix: str | None = None
    # What a stream's own code counted (parents listed and skipped, listings served by the cache):
    # added to the day's materialization metadata beside the client's request counts.
    counters: dict[str, int] = field(default_factory=dict)

    def size(self, default: int, low: int, high: int) -> int:
        """The configured page size within the vendor's documented bounds, else its default."""
        return default if self.page_size is None else max(low, min(high, self.page_size))


SliceSource = Callable[[StreamContext], AsyncIterator[Slice]]
OnPage = Callable[[Page], Awaitable[None]]
# (lake, asset path, day's checkpoint prefix, window, the day's final rows): called once the day's
# partition file is written, before its checkpoints are cleared (a fan-out stream's parent state).
Landed = Callable[[Any, list[str], str, "Window", pl.DataFrame], None]
# (context, slice, checkpoint store, checkpoint key, on_page) -> result, for vendors whose window
# is not one paginated request (a search split in time under a result cap).
Extractor = Callable[[StreamContext, Slice, CheckpointStore, str, OnPage], Awaitable[ExtractResult]]
Shape = Callable[[dict[str, Any], Any, str], tuple[dict[str, Any], dict[str, Any] | None]]


@dataclass(frozen=True)
class Stream:
    """One vendor endpoint feeding ``raw/<source>/<name>``.

    ``slices`` yields the window's first requests; most streams have one, fan-out streams (comments
    of each recent post, leads of each form) have one per parent. ``shape`` turns a received record,
    its page body and its slice name into ``(payload, context)``: the record as received, and the
    envelope objects it refers to (a tweet's ``includes.users``, a comment's post), kept beside it
    rather than merged into it. ``extractor`` replaces the paginated loop where the vendor needs it.
    """

    source: str
    name: str
    description: str
    slices: SliceSource
    id_path: str
    updated_path: str
    paginator: Callable[[], Paginator] | None = None
    shape: Shape | None = None
    record_id: Callable[[dict[str, Any]], str] | None = None
    extractor: Extractor | None = None
    landed: Landed | None = None

    @property
    def asset_path(self) -> list[str]:
        return ["raw", self.source, self.name]


def declared_paginator(stream: StreamDeclaration) -> Callable[[], Paginator]:
    """A new paginator of the declared kind per extraction (paginators hold a loop guard's state).

    Built once here so that a declaration naming parameters its paginator does not take fails when
    the source is loaded, not in its first run.
    """
    config = {
        "type": stream.pagination.kind,
        "record_path": stream.record_path,
        "id_field": stream.id_field,
        **stream.pagination.params,
    }
    paginator_from_config(config)
    return lambda: paginator_from_config(config)


def declared_stream(
    source: SourceDeclaration,
    name: str,
    slices: SliceSource,
    *,
    shape: Shape | None = None,
    record_id: Callable[[dict[str, Any]], str] | None = None,
    extractor: Extractor | None = None,
    landed: Landed | None = None,
) -> Stream:
    """The :class:`Stream` of a declared stream, with the code its source needs for it (how its
    window's first requests are made; optionally its shape, id and extractor hooks)."""
    declared = source.stream(name)
    return Stream(
        source=source.name,
        name=name,
        description=declared.description,
        slices=slices,
        id_path=declared.id_field,
        updated_path=declared.change_time_field,
        paginator=declared_paginator(declared),
        shape=shape,
        record_id=record_id,
        extractor=extractor,
        landed=landed,
    )


def single(request: Callable[[StreamContext], RequestSpec]) -> SliceSource:
    """A stream whose window is one request."""

    async def slices(ctx: StreamContext) -> AsyncIterator[Slice]:
        yield Slice("all", request(ctx))

    return slices


def page_rows(stream: Stream, page: Page, window: Window, slice_name: str) -> pl.DataFrame:
    """The raw rows of one page: each record exactly as received, its id and updated time,
    and which request fetched it when."""
    fetched_at = datetime.now(UTC)
    ids, payloads, contexts, updated = [], [], [], []
    for record in page.records:
        payload, context = stream.shape(record, page.body, slice_name) if stream.shape else (record, None)
        record_id = stream.record_id(payload) if stream.record_id else get_path(payload, stream.id_path)
        ids.append(str(record_id))
        payloads.append(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
        contexts.append(json.dumps(context, ensure_ascii=False, separators=(",", ":")) if context else None)
        value = get_path(payload, stream.updated_path)
        updated.append(None if value is None else str(value))
    frame = pl.DataFrame(
        {
            "record_id": ids,
            "updated_raw": updated,
            "payload": payloads,
            "context": contexts,
        },
        schema={"record_id": pl.String, "updated_raw": pl.String, "payload": pl.String, "context": pl.String},
    )
    return frame.select(
        "record_id",
        normalize.timestamp("updated_raw").alias("updated_at"),
        "payload",
        "context",
        pl.lit(window.day, pl.Date).alias("partition_date"),
        pl.lit(slice_name, pl.String).alias("slice"),
        pl.lit(page.number, pl.Int32).alias("page"),
        pl.lit(page.request, pl.String).alias("request"),
        pl.lit(fetched_at, pl.Datetime("us", "UTC")).alias("fetched_at"),
    )


def finalize_rows(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Every record once: pages fetched twice (a resume, a vendor repeating a record across
    pages) collapse to the latest version of each id."""
    if not frames:
        return pl.DataFrame(schema=RAW_SCHEMA)
    rows = pl.concat(frames, how="vertical_relaxed")
    return (
        rows.sort(["record_id", "updated_at", "fetched_at"], nulls_last=False)
        .unique(subset=["record_id"], keep="last", maintain_order=True)
        .sort(["updated_at", "record_id"], nulls_last=True)
        .select(list(RAW_SCHEMA))
    )
