"""The sandbox as a webhook sender: it posts, signed as each vendor signs, the changes its synthetic
world holds in a window (new and changed HubSpot contacts, new Facebook leads, new Instagram
comments, new mentions on Twitter/X), to a receiver's ``/webhooks/<vendor>`` routes.

Signing is written here from the vendors' documentation (../shared/API_FACTS.md), not borrowed from
the receiver, so the two sides check each other. The secrets are public sandbox constants
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
import base64
import datetime
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from cdp_platform.sandbox.records import SandboxData

# Public constants, like the sandbox's API credentials: they unlock nothing but synthetic data.
WEBHOOK_SECRETS = {
    "CDP_HUBSPOT_CLIENT_SECRET": "sandbox-hubspot-client-secret",
    "CDP_FACEBOOK_APP_SECRET": "sandbox-facebook-app-secret",
    "CDP_FACEBOOK_WEBHOOK_VERIFY_TOKEN": "sandbox-facebook-verify-token",
    "CDP_INSTAGRAM_APP_SECRET": "sandbox-instagram-app-secret",
    "CDP_INSTAGRAM_WEBHOOK_VERIFY_TOKEN": "sandbox-instagram-verify-token",
    "CDP_STRIPE_WEBHOOK_SECRET": "whsec_sandbox",
    "CDP_TWITTER_CONSUMER_SECRET": "sandbox-twitter-consumer-secret",
}

# Which sandbox stream's changes each vendor announces by webhook.
WEBHOOK_STREAMS = {
    "hubspot/contacts": "hubspot",
    "facebook/leads": "facebook",
    "instagram/media_comments": "instagram",
    "twitter/mentions": "twitter",
}
HUBSPOT_BATCH = 10  # HubSpot batches up to 100 events a request; the sandbox sends smaller batches
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


def _event_number(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:6], "big")


def _change(data: SandboxData, stream: str, position: int) -> Change:
    vendor = WEBHOOK_STREAMS[stream]
    record = data.record(stream, position)
    record_id = data.record_id(stream, position)
    at_ms = int(data.modified_at(stream, position).timestamp() * 1000)
    if vendor == "hubspot":
        properties = record["properties"]
        created = properties["createdate"] == properties["lastmodifieddate"]
        event_id = str(_event_number(data.config.seed, stream, record_id, at_ms))
        item = {
            "eventId": int(event_id),
            "subscriptionId": 4_500_001 if created else 4_500_002,
            "portalId": 62_515,
            "appId": 1_160_452,
            "occurredAt": at_ms,
            "subscriptionType": "contact.creation" if created else "contact.propertyChange",
            "objectId": int(record_id),
            "changeSource": "CRM_UI",
        }
        if not created:
            item.update({"propertyName": "lastmodifieddate", "propertyValue": str(at_ms)})
    elif vendor == "facebook":
        event_id = record_id
        item = {
            "field": "leadgen",
            "value": {
                "leadgen_id": record_id,
                "page_id": data.facebook_page_id,
                "form_id": record["form_id"],
                "ad_id": record["ad_id"],
                "created_time": at_ms // 1000,
            },
        }
    elif vendor == "instagram":
        event_id = record_id
        item = {
            "field": "comments",
            "value": {
                "id": record_id,
                "text": record["text"],
                "from": {"username": record["username"]},
                "media": {"id": record["media_id"]},
            },
        }
    else:  # twitter
        event_id = record_id
        item = {
            "id_str": record_id,
            "text": record["text"],
            "timestamp_ms": str(at_ms),
            "created_at": record["created_at"],
            "user": {"id_str": record["author_id"]},
        }
    return Change(vendor, stream, record_id, event_id, at_ms, item)


def changes(data: SandboxData, start: datetime.datetime, end: datetime.datetime) -> list[Change]:
    """Every change of the webhook streams in [start, end), in time order."""
    found = [
        _change(data, stream, position)
        for stream in WEBHOOK_STREAMS
        for position in data.window(stream, start, end)
    ]
    return sorted(found, key=lambda change: (change.occurred_ms, change.vendor, change.event_id))


def _body(vendor: str, batch: Sequence[Change], attempt: int) -> Any:
    if vendor == "hubspot":
        return [{**change.item, "attemptNumber": attempt} for change in batch]
    if vendor in ("facebook", "instagram"):
        return {
            "object": "page" if vendor == "facebook" else "instagram",
            "entry": [
                {"id": "sandbox-page", "time": change.occurred_ms // 1000, "changes": [change.item]}
                for change in batch
            ],
        }
    return {"for_user_id": "sandbox-brand", "tweet_create_events": [change.item for change in batch]}


def deliveries(found: Sequence[Change]) -> list[Delivery]:
    """Requests as vendors make them: HubSpot batches consecutive events, the others post one each."""
    out: list[Delivery] = []
    pending: list[Change] = []
    for change in found:
        if change.vendor == "hubspot":
            pending.append(change)
            if len(pending) == HUBSPOT_BATCH:
                out.append(Delivery("hubspot", pending))
                pending = []
        else:
            out.append(Delivery(change.vendor, [change]))
    if pending:
        out.append(Delivery("hubspot", pending))
    return out


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def sign(vendor: str, body: bytes, url: str, secrets: dict[str, str], now: float) -> dict[str, str]:
    """The headers the vendor sends with ``body`` posted to ``url``."""
    headers = {"content-type": "application/json"}
    if vendor == "hubspot":
        stamp = str(int(now * 1000))
        message = b"POST" + url.encode() + body + stamp.encode()
        headers["X-HubSpot-Signature-v3"] = base64.b64encode(
            _mac(secrets["CDP_HUBSPOT_CLIENT_SECRET"], message)
        ).decode()
        headers["X-HubSpot-Request-Timestamp"] = stamp
    elif vendor in ("facebook", "instagram"):
        secret = secrets[f"CDP_{vendor.upper()}_APP_SECRET"]
        headers["X-Hub-Signature-256"] = "sha256=" + _mac(secret, body).hex()
    elif vendor == "stripe":
        stamp = str(int(now))
        digest = _mac(secrets["CDP_STRIPE_WEBHOOK_SECRET"], stamp.encode() + b"." + body).hex()
        headers["Stripe-Signature"] = f"t={stamp},v1={digest}"
    else:
        headers["x-twitter-webhooks-signature"] = (
            "sha256=" + base64.b64encode(_mac(secrets["CDP_TWITTER_CONSUMER_SECRET"], body)).decode()
        )
    return headers


def _forgery(delivery: Delivery, number: int) -> Delivery:
    """A request an attacker could make: the shape of a real one, ids of its own, a wrong secret."""
    forged = []
    for change in delivery.changes:
        event_id = (
            f"9{number:08d}{change.event_id[-6:]}" if change.vendor == "hubspot" else f"forged-{number}"
        )
        item = json.loads(json.dumps(change.item).replace(change.event_id, event_id))
        if change.vendor == "hubspot":
            item["eventId"] = int(event_id)
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
    secrets = WEBHOOK_SECRETS if secrets is None else secrets
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
