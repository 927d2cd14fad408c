"""The second step of the fast path: the objects that landed webhook events name are read by id
and appended to the raw partition of the stream that holds them.

What is per vendor (which request reads a batch of ids, how many ids one request takes, where the
records are in its answer, which answer means "no such object") is an :class:`ObjectFetch` in the
vendor's ``webhook.py``; the event type -> stream mapping is the declaration's ``refreshes``. What
is here is the same for every vendor.

**Where a fetched record goes.** To the partition the daily build puts it in: the UTC day of the
stream's change-time field of the record as read (partition D holds what was created or changed in
[D, D+1)), within the partitions; that is today for a change that just happened. Its row is made
by the stream's own :func:`~cdp_platform.sources.stream.page_rows` (its shape and id hooks), so it
is the row the daily extraction would have made, and it is appended as the raw layer finalizes a
partition: the day's file and the new rows, one row per record id, the latest version kept
(:func:`~cdp_platform.sources.stream.finalize_rows`), written atomically. Appending the same
record again therefore leaves one row; the daily run of that day later replaces the file with its
window, which holds the record too.

**Exactly once, across crashes.** A day of webhook events is append-only (the landing appends and
never rewrites a row), so "which of its events were fetched" is a row number. Before the landing
writes new events into a day's file it records, if none is recorded yet, that the day has events
to fetch from row N on (the row count before its write) at
``_checkpoints/raw/<source>/webhook_events/<day>/fetch``. The fetch reads every pending day from its
row, reads the objects, appends them, and only then clears the day's checkpoint. Killed before the
clear, the next run fetches the same rows again and the append keeps one row per record; killed
between the checkpoint and the landing's write, the day is fetched from a row that holds nothing
new. Erased people never land (:mod:`cdp_platform.privacy.suppression`), as in the daily run.

Concurrent writers: one landing run at a time (the landing sensor), and the fetch step takes the
vendor's pool (``vendor_<source>``), whose single slot the source's ingestion runs also take, so
an ingestion's replacement of a day's file and an append to it never interleave.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl

from cdp_platform.http import RequestSpec, VendorClient
from cdp_platform.http.errors import VendorError
from cdp_platform.http.pagination import Page, get_path
from cdp_platform.http.redaction import describe_request
from cdp_platform.io.checkpoints import LakeCheckpointStore, checkpoint_prefix
from cdp_platform.io.lake import Lake
from cdp_platform.io.lake_io_manager import read_frame, write_frame
from cdp_platform.privacy.suppression import Suppressor
from cdp_platform.sources.stream import Stream, Window, finalize_rows, page_rows
from cdp_platform.webhooks.landing import STREAM, events_file

# The raw rows' ``slice`` of a record read by id (a window's rows carry their request's slice).
BY_ID_SLICE = "by_id"
# The ``trigger`` metadata of a raw partition's materialization written by the read by id, which
# the profile refresh sensor (.intraday) looks for.
BY_ID_TRIGGER = "webhooks: read by id"

OnPage = Callable[[Page], Awaitable[None]]


def _not_found(error: VendorError) -> bool:
    return error.status == 404


@dataclass(frozen=True)
class ObjectFetch:
    """How one vendor's changed objects are read by id.

    ``request(stream, ids)`` is one request reading ``ids`` (at most ``batch_size``) of ``stream``;
    ``record_path`` is where the records are in its answer (``None``: the answer is the one record);
    ``missing(error)`` says that an error answer means the object does not exist (deleted since the
    event): it is counted, not failed on. ``pages`` wraps the step that turns an answer into rows,
    for a vendor whose rows carry what a second request reads (a CRM record's associations), keyed
    by stream. ``concurrency``: requests in flight at once (the vendor's pacer still spaces them).
    """

    request: Callable[[str, Sequence[str]], RequestSpec]
    batch_size: int = 1
    record_path: str | None = None
    missing: Callable[[VendorError], bool] = _not_found
    pages: Mapping[str, Callable[[OnPage, VendorClient, str], OnPage]] = field(default_factory=dict)
    concurrency: int = 4

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1:
            raise ValueError("ObjectFetch: batch_size and concurrency must be at least 1")


def stream_of(refreshes: Mapping[str, str], event_type: str) -> str | None:
    """The stream holding the object of an event type: the longest declared prefix it starts with."""
    matching = [prefix for prefix in refreshes if event_type.startswith(prefix)]
    return refreshes[max(matching, key=len)] if matching else None


# ---- the pending days: which landed events still have their objects to read ---------------------


def _events_prefix(source: str) -> str:
    return checkpoint_prefix(["raw", source, STREAM], "")


def _pending_key(source: str, day: str) -> str:
    return f"{checkpoint_prefix(['raw', source, STREAM], day)}/fetch"


def mark_pending(lake: Lake, source: str, day: str, rows_before: int) -> None:
    """Called by the landing before it appends events to a day: fetch that day from this row on,
    unless an earlier row is recorded already (a fetch that has not finished)."""
    store = LakeCheckpointStore(lake)
    key = _pending_key(source, day)
    if store.load(key) is None:
        store.save(key, {"from_row": rows_before})


def pending_days(lake: Lake, source: str) -> dict[str, int]:
    """Day -> first row to fetch, for every day of ``source`` whose objects are not all read."""
    store = LakeCheckpointStore(lake)
    prefix = _events_prefix(source)
    days: dict[str, int] = {}
    for key in lake.list_keys(prefix.rstrip("/")):
        if key.endswith("/fetch/state.json"):
            day = key[len(prefix) :].split("/", 1)[0]
            state = store.load(_pending_key(source, day))
            if state is not None:
                days[day] = int(state["from_row"])
    return dict(sorted(days.items()))


# ---- reading by id ----------------------------------------------------------------------------


@dataclass
class StreamFetch:
    """What reading one stream's objects gave: their raw rows, the ids the vendor does not know
    (any more), the requests sent and the dead letters of the rows' extra reads."""

    rows: pl.DataFrame
    missing: list[str] = field(default_factory=list)
    requests: int = 0
    dead_letters: int = 0


async def read_by_id(
    client: VendorClient, fetch: ObjectFetch, stream: Stream, ids: Sequence[str]
) -> StreamFetch:
    """Read ``ids`` of ``stream`` in batches, into raw rows made as the daily extraction makes them."""
    now = datetime.now(UTC)
    window = Window(now.date().isoformat(), now, now)
    frames: list[pl.DataFrame] = []
    result = StreamFetch(rows=pl.DataFrame())
    missing: list[str] = []

    async def to_rows(page: Page) -> None:
        frames.append(page_rows(stream, page, window, BY_ID_SLICE))
        result.dead_letters += len(page.dead_letters)

    handler = (
        fetch.pages[stream.name](to_rows, client, stream.name) if stream.name in fetch.pages else to_rows
    )
    gate = asyncio.Semaphore(fetch.concurrency)
    batches = [list(ids[i : i + fetch.batch_size]) for i in range(0, len(ids), fetch.batch_size)]

    async def one(number: int, batch: list[str]) -> None:
        async with gate:
            result.requests += 1
            try:
                response = await client.send(fetch.request(stream.name, batch))
            except VendorError as exc:
                if fetch.missing(exc):
                    missing.extend(batch)
                    return
                raise
            body = response.json()
            records = get_path(body, fetch.record_path) if fetch.record_path else body
            records = records if isinstance(records, list) else [records] if isinstance(records, dict) else []
            described = describe_request(response.request, client.secrets())
            page = Page(
                number=number,
                records=[r for r in records if isinstance(r, dict)],
                state=None,
                done=True,
                complete=True,
                body=body,
                request=f"{described['method']} {described['url']}",
            )
            await handler(page)

    await asyncio.gather(*(one(number, batch) for number, batch in enumerate(batches)))
    result.rows = finalize_rows(frames)
    found = set(result.rows["record_id"].to_list())
    # A batch read leaves out the ids it does not know (or lists them as errors) with a 2xx.
    result.missing = sorted(set(missing) | {i for i in ids if i not in found})
    return result


# ---- appending to the raw partitions ------------------------------------------------------------


def partition_of(updated_at: datetime | None, first_day: date, today: date) -> str:
    """The partition the daily build puts a record in: its change time's UTC day, within the
    partitions (a change time in the future or before the first partition: the nearest end)."""
    if updated_at is None:
        return today.isoformat()
    day = updated_at.astimezone(UTC).date()
    return min(max(day, first_day), today).isoformat()


def raw_file(stream: Stream, day: str) -> str:
    """The raw IO manager's file of a stream's day (``partition_file``)."""
    return "/".join([*stream.asset_path, f"{day}.parquet"])


def append_rows(
    lake: Lake, stream: Stream, rows: pl.DataFrame, first_day: date, today: date
) -> dict[str, int]:
    """Append ``rows`` to their partitions' files, one row per record id (the latest version);
    returns day -> rows now in that day's file, for each day written."""
    if rows.is_empty():
        return {}
    days = [partition_of(value, first_day, today) for value in rows["updated_at"].to_list()]
    rows = rows.with_columns(pl.Series("partition_date", [date.fromisoformat(d) for d in days], pl.Date))
    written: dict[str, int] = {}
    for (day,), part in rows.partition_by("partition_date", as_dict=True, maintain_order=True).items():
        key = raw_file(stream, str(day))
        frames = [read_frame(lake, key), part] if lake.exists(key) else [part]
        merged = finalize_rows(frames)
        write_frame(lake, key, merged)
        written[str(day)] = merged.height
    return written


# ---- one source's pending days, end to end ------------------------------------------------------


@dataclass
class FetchReport:
    """What one source's fetch did: per stream, the record ids read and where they went."""

    source: str
    days: list[str] = field(default_factory=list)
    events: int = 0
    record_ids: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    written: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: int = 0
    dead_letters: int = 0
    suppressed: int = 0


def changed_objects(events: pl.DataFrame, refreshes: Mapping[str, str]) -> dict[str, list[str]]:
    """Stream -> the distinct object ids the events name, in event order; events of types no
    stream holds, or naming no object, are left out."""
    ids: dict[str, dict[str, None]] = defaultdict(dict)
    for event_type, object_id in events.select("event_type", "object_id").iter_rows():
        stream = stream_of(refreshes, event_type or "")
        if stream is not None and object_id:
            ids[stream][object_id] = None
    return {stream: list(found) for stream, found in ids.items()}


def _pending_events(lake: Lake, source: str, pending: Mapping[str, int]) -> pl.DataFrame:
    frames = []
    for day, from_row in pending.items():
        key = events_file(source, day)
        if lake.exists(key):
            frames.append(read_frame(lake, key).slice(from_row))
    if not frames:
        return pl.DataFrame(schema={"event_type": pl.String, "object_id": pl.String})
    return pl.concat(frames, how="diagonal_relaxed")


def fetch_pending(
    lake: Lake,
    source: str,
    refreshes: Mapping[str, str],
    fetch: ObjectFetch,
    streams: Mapping[str, Stream],
    client: VendorClient,
    *,
    first_day: date,
    today: date,
) -> FetchReport:
    """Read the objects of every pending day of ``source`` and append them; then clear those days.

    A vendor error that is not "no such object" fails the whole fetch before any day is cleared,
    so the next run asks again (what was appended meanwhile stays, once)."""
    report = FetchReport(source)
    pending = pending_days(lake, source)
    if not pending:
        return report
    report.days = list(pending)
    events = _pending_events(lake, source, pending)
    report.events = events.height
    by_stream = changed_objects(events, refreshes)
    unknown = sorted(set(by_stream) - set(streams))
    if unknown:
        raise ValueError(
            f"{source}'s webhook declaration maps events to streams it does not have: {', '.join(unknown)}"
        )

    async def read_all() -> list[StreamFetch]:
        return await asyncio.gather(
            *(read_by_id(client, fetch, streams[name], ids) for name, ids in by_stream.items())
        )

    fetched = asyncio.run(read_all()) if by_stream else []
    suppressor = Suppressor.load(lake)  # read after the reads: someone erased meanwhile never lands
    for (name, _), result in zip(by_stream.items(), fetched, strict=True):
        rows = result.rows
        if suppressor is not None and not rows.is_empty():
            kept = suppressor.filter_rows(source, name, rows)
            report.suppressed += rows.height - kept.height
            rows = kept
        report.written[name] = append_rows(lake, streams[name], rows, first_day, today)
        report.record_ids[name] = rows["record_id"].to_list()
        report.missing[name] = result.missing
        report.requests += result.requests
        report.dead_letters += result.dead_letters
    store = LakeCheckpointStore(lake)
    for day in pending:
        store.clear(_pending_key(source, day))
    return report
