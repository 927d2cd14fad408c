"""From a verified webhook body to events: how bodies are split, and where each event keeps its id,
type, object and time.

Vendors batch differently (an array of events, changes nested in ``entry[].changes[]``, arrays
grouped by kind under ``*_events`` keys, one object a request); a *splitter* named by that shape
turns a body into items, and *paths* (dotted, tried in order) read each item's fields. A vendor's
declaration is then data: which splitter, which paths.

An event without an id of its own (an ``entry[].changes[]`` change carries none for some fields) gets the SHA-256 of
its canonical JSON: a redelivery of the same change has the same bytes, hence the same id, so
deduplication still holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class MalformedEvents(ValueError):
    """The body is JSON but not in the shape the vendor's declaration expects."""


@dataclass(frozen=True)
class WebhookEvent:
    """One vendor event as it goes through the queue. ``occurred_at`` is the vendor's event time
    (epoch seconds, ``None`` when the vendor gives none); ``received_at`` is when the receiver
    accepted the request."""

    source: str
    event_id: str
    event_type: str
    object_id: str | None
    occurred_at: float | None
    received_at: float
    payload: Mapping[str, Any]

    @property
    def key(self) -> str:
        """The deduplication key: vendor event ids are unique per vendor, not across vendors."""
        return f"{self.source}:{self.event_id}"

    def to_message(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "object_id": self.object_id,
            "occurred_at": self.occurred_at,
            "received_at": self.received_at,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_message(cls, body: Mapping[str, Any]) -> WebhookEvent:
        try:
            return cls(
                source=str(body["source"]),
                event_id=str(body["event_id"]),
                event_type=str(body["event_type"]),
                object_id=None if body.get("object_id") is None else str(body["object_id"]),
                occurred_at=None if body.get("occurred_at") is None else float(body["occurred_at"]),
                received_at=float(body["received_at"]),
                payload=body["payload"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvents(
                f"queue message is not a webhook event: {type(exc).__name__} {exc}"
            ) from None


Splitter = Callable[[Any], Iterator[Mapping[str, Any]]]


def each_item(body: Any) -> Iterator[Mapping[str, Any]]:
    """A JSON array of event objects (a CRM batching up to 100 a request)."""
    if not isinstance(body, list):
        raise MalformedEvents("expected a JSON array of events")
    for item in body:
        if not isinstance(item, dict):
            raise MalformedEvents("expected every array item to be an object")
        yield item


def whole_body(body: Any) -> Iterator[Mapping[str, Any]]:
    """One event object per request."""
    if not isinstance(body, dict):
        raise MalformedEvents("expected one JSON object")
    yield body


def entry_changes(body: Any) -> Iterator[Mapping[str, Any]]:
    """``{"object": ..., "entry": [{id, time, changes: [{field, value}]}]}`` (subscription
    webhooks of a social graph): one event per change, carrying its entry's id and time."""
    if not isinstance(body, dict) or not isinstance(body.get("entry"), list):
        raise MalformedEvents('expected {"object": ..., "entry": [...]}')
    for entry in body["entry"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            raise MalformedEvents('expected every entry to hold a "changes" array')
        for change in entry["changes"]:
            if not isinstance(change, dict) or "field" not in change:
                raise MalformedEvents('expected every change to be an object with a "field"')
            yield {
                "object": body.get("object"),
                "entry_id": entry.get("id"),
                "time": entry.get("time"),
                "field": change["field"],
                "value": change.get("value"),
            }


def kind_arrays(body: Any) -> Iterator[Mapping[str, Any]]:
    """``{"for_user_id": ..., "<kind>_events": [...], ...}`` (account activity
    webhooks): one event per element of every ``*_events`` array, tagged with its kind."""
    if not isinstance(body, dict):
        raise MalformedEvents("expected one JSON object")
    for kind, items in body.items():
        if not kind.endswith("_events"):
            continue
        if not isinstance(items, list):
            raise MalformedEvents(f"expected {kind!r} to be an array")
        for item in items:
            if not isinstance(item, dict):
                raise MalformedEvents(f"expected every item of {kind!r} to be an object")
            yield {"for_user_id": body.get("for_user_id"), "kind": kind, "event": item}


def lookup(item: Mapping[str, Any], paths: Sequence[str]) -> Any:
    """The value at the first dotted path present and not null, else ``None``."""
    for path in paths:
        value: Any = item
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                value = None
                break
            value = value[part]
        if value is not None:
            return value
    return None


def epoch_seconds(value: Any, unit: str) -> float | None:
    """A vendor time as epoch seconds: ``unit`` is ``ms``, ``s`` or ``iso``; unreadable -> ``None``
    (the event still lands, partitioned by its receipt time)."""
    if value is None:
        return None
    try:
        if unit == "ms":
            return float(value) / 1000.0
        if unit == "s":
            return float(value)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    except (TypeError, ValueError):
        return None


def content_id(item: Mapping[str, Any]) -> str:
    canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
