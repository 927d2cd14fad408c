"""The sandbox as a webhook sender: it posts, signed as each vendor signs, the changes its synthetic
world holds in a window (new and changed CRM contacts, new leads, new comments, new mentions), to a
receiver's ``/webhooks/<vendor>`` routes.

What each vendor sends (which streams, the event of a change, the body of a batch, the signature) is
declared by its vendor module (``EmulatedVendor.webhooks``, :class:`cdp_platform.sandbox.plugins.
WebhookSender`), written from the vendors' documentation (../shared/API_FACTS.md), not borrowed
from the receiver, so the two sides check each other. The secrets are public sandbox constants
(:data:`WEBHOOK_SECRETS`): give the receiver the same values to accept the sandbox's webhooks.

Under the ``storm`` (or ``tempest``) fault profile the sender behaves as vendors do on a bad day: about 10 % of
deliveries are sent twice (vendors deliver at least once), about 5 % extra deliveries are forged
(signed with a wrong secret, carrying event ids of their own that must never land), and every
delivery that is not answered 2xx, or whose connection fails, is retried with backoff (so a
receiver restarting mid-way loses nothing). The report says what was sent, so a test or benchmark
can grade what landed.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from cdp_platform.sandbox.plugins import WebhookSender, webhook_senders
from cdp_platform.sandbox.records import SandboxData


def __getattr__(name: str) -> dict[str, str]:
    # Read on use from the vendor modules' webhook senders (cdp_platform.sandbox.plugins), which
    # import the modules this one imports. ``WEBHOOK_SECRETS``: public constants, like the sandbox's
    # API credentials (they unlock nothing but synthetic data). ``WEBHOOK_STREAMS``: which sandbox
    # stream's changes each sender announces.
    if name == "WEBHOOK_SECRETS":
        return {key: value for sender in webhook_senders().values() for key, value in sender.secrets.items()}
    if name == "WEBHOOK_STREAMS":
        return {stream: sender.name for sender in webhook_senders().values() for stream in sender.streams}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DUPLICATE_SHARE = 0.10
FORGED_SHARE = 0.05
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Change:
    """One change of the sandbox world, as one vendor event."""

    vendor: str
    stream: str
    record_id: str
    event_id: str
    occurred_ms: int
    item: dict[str, Any]


@dataclass
class Delivery:
    """One request body: one or several events of one vendor."""

    vendor: str
    changes: list[Change]
    forged: bool = False

    def body(self, attempt: int) -> bytes:
        return json.dumps(_body(self.vendor, self.changes, attempt)).encode()


def _change(data: SandboxData, stream: str, position: int, sender: WebhookSender) -> Change:
    if sender.event is None:
        raise ValueError(f"the webhook sender {sender.name!r} declares streams but no event")
    record_id = data.record_id(stream, position)
    at_ms = int(data.modified_at(stream, position).timestamp() * 1000)
    event_id, item = sender.event(data, stream, position, record_id, at_ms)
    return Change(sender.name, stream, record_id, event_id, at_ms, item)


def changes(data: SandboxData, start: datetime.datetime, end: datetime.datetime) -> list[Change]:
    """Every change of the webhook streams in [start, end), in time order."""
    found = [
        _change(data, stream, position, sender)
        for sender in webhook_senders().values()
        for stream in sender.streams
        for position in data.window(stream, start, end)
    ]
    return sorted(found, key=lambda change: (change.occurred_ms, change.vendor, change.event_id))


def _sender(vendor: str) -> WebhookSender:
    senders = webhook_senders()
    if vendor not in senders:
        raise ValueError(f"no emulated vendor sends webhooks as {vendor!r}; known: {', '.join(senders)}")
    return senders[vendor]


def _body(vendor: str, batch: Sequence[Change], attempt: int) -> Any:
    sender = _sender(vendor)
    if sender.body is None:
        raise ValueError(f"the webhook sender {vendor!r} declares no body")
    return sender.body(batch, attempt)


def deliveries(found: Sequence[Change]) -> list[Delivery]:
    """Requests as vendors make them: a vendor that batches (``WebhookSender.batch``) gets its
    consecutive events in batches, the others post one each."""
    out: list[Delivery] = []
    pending: dict[str, list[Change]] = {}
    for change in found:
        size = _sender(change.vendor).batch
        if size <= 1:
            out.append(Delivery(change.vendor, [change]))
            continue
        batch = pending.setdefault(change.vendor, [])
        batch.append(change)
        if len(batch) == size:
            out.append(Delivery(change.vendor, batch))
            pending[change.vendor] = []
    out.extend(Delivery(vendor, batch) for vendor, batch in pending.items() if batch)
    return out


def sign(vendor: str, body: bytes, url: str, secrets: dict[str, str], now: float) -> dict[str, str]:
    """The headers the vendor sends with ``body`` posted to ``url``."""
    return {"content-type": "application/json", **_sender(vendor).sign(body, url, secrets, now)}


def _forgery(delivery: Delivery, number: int) -> Delivery:
    """A request an attacker could make: the shape of a real one, ids of its own, a wrong secret."""
    forged = []
    for change in delivery.changes:
        sender = _sender(change.vendor)
        event_id = sender.forged_id(number, change.event_id)
        item = json.loads(json.dumps(change.item).replace(change.event_id, event_id))
        if sender.forged_item is not None:
            sender.forged_item(item, event_id)
        forged.append(
            Change(change.vendor, change.stream, change.record_id, event_id, change.occurred_ms, item)
        )
    return Delivery(delivery.vendor, forged, forged=True)


@dataclass
class SendReport:
    """What the sender did, for grading: valid event keys (``vendor:event_id``), forged ones, counts."""

    valid: set[str] = field(default_factory=set)
    forged: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    # Vendor event time -> when the receiver answered 2xx, per valid event key (first acceptance).
    accepted_at: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "valid_events": len(self.valid),
            "forged_events": len(self.forged),
            **dict(sorted(self.counts.items())),
        }


def plan(found: Sequence[Change], faults: str, seed: int) -> list[Delivery]:
    """The requests to send, in order: storms add duplicates (sent again later) and forgeries."""
    base = deliveries(found)
    if faults not in ("storm", "tempest"):  # tempest is the storm and more (see sandbox/faults.py)
        return base
    rng = random.Random(seed)
    out: list[Delivery] = []
    for number, delivery in enumerate(base):
        out.append(delivery)
        if rng.random() < FORGED_SHARE:
            out.append(_forgery(delivery, number))
    for delivery in base:
        if rng.random() < DUPLICATE_SHARE:
            # A redelivery comes later, among other requests, as vendors' retries do.
            out.insert(
                rng.randrange(len(out) // 2, len(out) + 1), Delivery(delivery.vendor, delivery.changes)
            )
    return out


async def _send_one(
    client: httpx.AsyncClient,
    base_url: str,
    delivery: Delivery,
    secrets: dict[str, str],
    report: SendReport,
    max_attempts: int,
) -> None:
    url = f"{base_url.rstrip('/')}/webhooks/{delivery.vendor}"
    keys = {f"{c.vendor}:{c.event_id}" for c in delivery.changes}
    (report.forged if delivery.forged else report.valid).update(keys)
    report.counts["forged_requests" if delivery.forged else "requests"] += 1
    wrong = {name: f"not-{value}" for name, value in secrets.items()}
    for attempt in range(max_attempts):
        body = delivery.body(attempt)
        headers = sign(delivery.vendor, body, url, wrong if delivery.forged else secrets, time.time())
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TransportError:
            report.counts["connection_errors"] += 1
        else:
            if delivery.forged:
                report.counts[f"forged_answered_{response.status_code}"] += 1
                return
            if 200 <= response.status_code < 300:
                now = time.time()
                for key in keys:
                    report.accepted_at.setdefault(key, now)
                return
            report.counts[f"answered_{response.status_code}"] += 1
        report.counts["retries"] += 1
        await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
    report.counts["gave_up"] += 1


async def send(
    planned: Sequence[Delivery],
    base_url: str,
    *,
    secrets: dict[str, str] | None = None,
    concurrency: int = 8,
    rate: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    timeout: float = 5.0,
) -> SendReport:
    """Post every planned delivery (``concurrency`` at a time, at most ``rate`` requests a second)."""
    secrets = __getattr__("WEBHOOK_SECRETS") if secrets is None else secrets
    report = SendReport()
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for delivery in planned:
        queue.put_nowait(delivery)
    started = time.monotonic()
    issued = 0

    async with httpx.AsyncClient(timeout=timeout) as client:

        async def worker() -> None:
            nonlocal issued
            while not queue.empty():
                delivery = queue.get_nowait()
                if rate:
                    issued += 1
                    wait = started + issued / rate - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                await _send_one(client, base_url, delivery, secrets, report, max_attempts)

        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    report.counts["events"] = sum(len(d.changes) for d in planned if not d.forged)
    return report


def day_window(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)


def iter_keys(found: Sequence[Change]) -> Iterator[tuple[str, str, str]]:
    """(event key, stream, record id) of each change, for grading against the sandbox truth."""
    for change in found:
        yield f"{change.vendor}:{change.event_id}", change.stream, change.record_id
