"""Landing queued webhook events in the raw lake, exactly once.

Events land in ``raw/<source>/webhook_events/<day>.parquet``, the raw IO manager's layout, so the
daily partitions read like any other raw asset. The day is the UTC date of the vendor's event time
(of its receipt when the vendor gives none or one outside the partitions), which never changes for
a given event: a redelivery therefore always meets its first copy in the same file.

Order of a batch, per (source, day), and why it is exactly once:

1. read the day's file (if any) and keep the events whose id it does not hold yet (and the first
   of any repeated within the batch);
2. write the day's file again with them appended: a temporary file renamed over the old one (or
   one S3 PUT), so a reader, and a crash, see either the old file or the new one;
3. acknowledge that group's messages.

Killed after 2 and before 3, the messages come back (see :mod:`cdp_platform.webhooks.queue`) and
step 1 finds them already in the file: they are acknowledged as duplicates, not written twice.
Killed before 2, nothing was written and they come back to be landed. One landing at a time
writes a day's file (the sensor starts no run while one is in flight); two concurrent landings
could each append to the same old file and one would drop the other's rows.

A message that cannot become a row (not a webhook event at all) goes to the dead-letter queue with
the reason and is acknowledged there; an unreachable lake fails the run without acknowledging
anything, so the messages wait for the next one.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from kombu.message import Message

from cdp_platform.io.lake import Lake
from cdp_platform.io.lake_io_manager import read_frame, write_frame
from cdp_platform.webhooks.events import MalformedEvents, WebhookEvent
from cdp_platform.webhooks.queue import EventQueue, message_json

STREAM = "webhook_events"

SCHEMA = {
    "event_id": pl.String,
    "source": pl.String,
    "event_type": pl.String,
    "object_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "received_at": pl.Datetime("us", "UTC"),
    "landed_at": pl.Datetime("us", "UTC"),
    "payload": pl.String,
}


def events_file(source: str, day: str) -> str:
    """The lake key of a day of a source's events (``partition_file`` of the raw IO manager)."""
    return f"raw/{source}/{STREAM}/{day}.parquet"


def landing_day(event: WebhookEvent, first_day: date, last_day: date) -> str:
    """The partition an event belongs to: its event time's UTC date when that is a partition."""
    received = datetime.fromtimestamp(event.received_at, UTC).date()
    if event.occurred_at is not None:
        day = datetime.fromtimestamp(event.occurred_at, UTC).date()
        if first_day <= day <= last_day:
            return day.isoformat()
    return max(received, first_day).isoformat()


def _timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def event_rows(events: Sequence[WebhookEvent], landed_at: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [e.event_id for e in events],
            "source": [e.source for e in events],
            "event_type": [e.event_type for e in events],
            "object_id": [e.object_id for e in events],
            "occurred_at": [_timestamp(e.occurred_at) for e in events],
            "received_at": [_timestamp(e.received_at) for e in events],
            "landed_at": [_timestamp(landed_at)] * len(events),
            "payload": [json.dumps(e.payload, sort_keys=True) for e in events],
        },
        schema=SCHEMA,
    )


@dataclass
class PartitionLanding:
    """What one (source, day) group of a batch did."""

    source: str
    day: str
    landed: int
    duplicates: int
    rows_in_partition: int
    uri: str
    # Seconds from the vendor's event time to the row being in the lake, per landed event.
    latencies: list[float] = field(default_factory=list)
    # Landed (not duplicate) events per vendor event type: what changed, for the refresh sensor.
    event_types: dict[str, int] = field(default_factory=dict)


@dataclass
class LandingReport:
    partitions: list[PartitionLanding] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    taken: int = 0

    @property
    def landed(self) -> int:
        return sum(p.landed for p in self.partitions)

    @property
    def duplicates(self) -> int:
        return sum(p.duplicates for p in self.partitions)


# Called after a day's file is written and before its messages are acknowledged: the one moment a
# crash tests exactly-once against (tests kill the process there).
AfterWrite = Callable[[PartitionLanding], None]
# Called with (source, day, rows in the day's file) before new events are appended to it: what
# follows those rows is new (the fast path records where its reads by id start, see .fetch).
BeforeWrite = Callable[[str, str, int], None]


def land_messages(
    messages: Sequence[Message],
    queue: EventQueue,
    lake: Lake,
    *,
    first_day: date,
    clock: Callable[[], float] = time.time,
    after_write: AfterWrite | None = None,
    before_write: BeforeWrite | None = None,
    tracer: Any = None,
) -> LandingReport:
    """Land one batch of taken messages; see the module docstring for the order and its reasons.
    With a ``tracer``, each event gets a span under its receipt's trace (see :mod:`.tracing`)."""
    report = LandingReport(taken=len(messages))
    now = clock()
    last_day = datetime.fromtimestamp(now, UTC).date()
    groups: dict[tuple[str, str], list[tuple[Message, WebhookEvent]]] = defaultdict(list)
    for message in messages:
        try:
            event = WebhookEvent.from_message(message_json(message))
        except (MalformedEvents, ValueError, TypeError) as exc:
            reason = f"not a webhook event: {exc}"
            queue.dead_letter(message, reason)
            report.dead_letters[reason.split(":")[0]] += 1
            continue
        groups[(event.source, landing_day(event, first_day, last_day))].append((message, event))

    for (source, day), items in sorted(groups.items()):
        started_ns = time.time_ns()
        key = events_file(source, day)
        existing = read_frame(lake, key) if lake.exists(key) else None
        known = set(existing["event_id"].to_list()) if existing is not None else set()
        fresh: list[WebhookEvent] = []
        for _, event in items:
            if event.event_id not in known:
                known.add(event.event_id)
                fresh.append(event)
        landed_at = clock()
        rows = existing
        if fresh:
            if before_write is not None:
                before_write(source, day, 0 if existing is None else existing.height)
            new_rows = event_rows(fresh, landed_at)
            rows = new_rows if existing is None else pl.concat([existing, new_rows], how="diagonal_relaxed")
            write_frame(lake, key, rows)
        landing = PartitionLanding(
            source=source,
            day=day,
            landed=len(fresh),
            duplicates=len(items) - len(fresh),
            rows_in_partition=0 if rows is None else rows.height,
            uri=lake.uri(key),
            latencies=[landed_at - e.occurred_at for e in fresh if e.occurred_at is not None],
            event_types=dict(Counter(e.event_type for e in fresh)),
        )
        if after_write is not None:
            after_write(landing)
        for message, _ in items:
            message.ack()
        if tracer is not None:
            _land_spans(tracer, items, {e.event_id for e in fresh}, day, started_ns, landed_at)
        report.partitions.append(landing)
    return report


def _land_spans(
    tracer: Any,
    items: Sequence[tuple[Message, WebhookEvent]],
    fresh: set[str],
    day: str,
    started_ns: int,
    landed_at: float,
) -> None:
    from cdp_platform.webhooks.tracing import extract

    end_ns = time.time_ns()
    for message, event in items:
        attributes: dict[str, Any] = {
            "cdp.vendor": event.source,
            "cdp.event_id": event.event_id,
            "cdp.partition": day,
            "cdp.duplicate": event.event_id not in fresh,
            "cdp.queue_seconds": round(landed_at - event.received_at, 3),
        }
        if event.occurred_at is not None:
            attributes["cdp.event_to_lake_seconds"] = round(landed_at - event.occurred_at, 3)
        span = tracer.start_span(
            f"webhook land {event.source}",
            context=extract(message.headers),
            start_time=started_ns,
            attributes=attributes,
        )
        span.end(end_time=end_ns)


def drain(
    queue: EventQueue,
    lake: Lake,
    *,
    first_day: date,
    batch_size: int = 1000,
    max_batches: int = 100,
    clock: Callable[[], float] = time.time,
    after_write: AfterWrite | None = None,
    before_write: BeforeWrite | None = None,
    tracer: Any = None,
) -> LandingReport:
    """Land batches until the queue is empty (or ``max_batches``, so one run stays bounded and the
    next tick takes the rest)."""
    total = LandingReport()
    for _ in range(max_batches):
        messages = queue.take(limit=batch_size)
        if not messages:
            break
        report = land_messages(
            messages,
            queue,
            lake,
            first_day=first_day,
            clock=clock,
            after_write=after_write,
            before_write=before_write,
            tracer=tracer,
        )
        total.taken += report.taken
        total.partitions.extend(report.partitions)
        for reason, count in report.dead_letters.items():
            total.dead_letters[reason] += count
    return total
