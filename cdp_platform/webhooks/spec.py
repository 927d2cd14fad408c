"""A vendor's webhook, declared as data: which mechanism proves the request, which secret it uses,
how the body splits into events and where each event keeps its id, type, object and time.

The mechanisms live in :mod:`cdp_platform.webhooks.signatures` and :mod:`cdp_platform.webhooks.events`;
a declaration only chooses among them, so adding a vendor is a dozen lines, not a new code path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdp_platform.webhooks.events import (
    MalformedEvents,
    Splitter,
    WebhookEvent,
    content_id,
    epoch_seconds,
    lookup,
)
from cdp_platform.webhooks.fetch import ObjectFetch
from cdp_platform.webhooks.signatures import Handshake, SignatureScheme


@dataclass(frozen=True)
class WebhookSpec:
    """One vendor's webhook.

    ``secret_var`` names the environment variable of the signing secret; ``handshake_var`` the one
    the handshake needs (a subscription's verify token; for a CRC the signing secret itself). Paths
    are dotted and tried in order; ``time_unit`` is ``ms``, ``s`` or ``iso``.
    """

    source: str
    route: str
    scheme: SignatureScheme
    secret_var: str
    split: Splitter
    event_id: Sequence[str]
    event_type: Sequence[str]
    object_id: Sequence[str]
    event_time: Sequence[str]
    time_unit: str
    handshake: Handshake | None = None
    handshake_var: str | None = None
    # What the vendor expects for a body that is not the JSON it sent (it retries on any non-2xx).
    malformed_status: int = 400
    # Event type prefix -> the source's stream that holds the changed object (the longest matching
    # prefix wins). With ``fetch``, the objects are read by id and appended to that stream's raw
    # partitions (cdp_platform/webhooks/fetch.py); without, the refresh sensor re-reads today's
    # window of those streams (cdp_platform/webhooks/refresh.py). Empty: events are only landed.
    refreshes: Mapping[str, str] = field(default_factory=dict)
    # How the vendor reads a changed object by id; None: it has no such read (or none is used).
    fetch: ObjectFetch | None = None

    def streams_to_refresh(self, event_types: Iterable[str]) -> set[str]:
        return {
            stream
            for event_type in event_types
            for prefix, stream in self.refreshes.items()
            if event_type.startswith(prefix)
        }

    def __post_init__(self) -> None:
        if self.fetch is not None and not self.refreshes:
            raise ValueError(
                f"{self.source}: a webhook that fetches by id must say which stream each event type is of (refreshes)"
            )

    def events(self, body: Any, received_at: float) -> list[WebhookEvent]:
        """The events of one verified body; :class:`MalformedEvents` when it has the wrong shape."""
        events = []
        for item in self.split(body):
            event_id = lookup(item, self.event_id)
            events.append(
                WebhookEvent(
                    source=self.source,
                    event_id=str(event_id) if event_id is not None else content_id(item),
                    event_type=str(lookup(item, self.event_type) or "unknown"),
                    object_id=_text(lookup(item, self.object_id)),
                    occurred_at=epoch_seconds(lookup(item, self.event_time), self.time_unit),
                    received_at=received_at,
                    payload=item,
                )
            )
        if not events:
            raise MalformedEvents("the body holds no event")
        return events


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
