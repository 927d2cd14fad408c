"""Dead letters: what could not be turned into records, kept with enough context to replay it.

A dead letter is made when a response body is not JSON, or a record lacks its id. The extraction
goes on; the lead's lake layer stores the letters (plain data here, no I/O). Bodies are redacted
and truncated, so a dead letter is safe to store and small enough to keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from .redaction import redact_text, redact_value

MAX_BODY_CHARS = 16_384


def truncate_body(text: str, limit: int = MAX_BODY_CHARS) -> str:
    """Keep the head of a long body (where parse errors and ids usually show) and say how much went."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} of {len(text)} chars]"


@dataclass(frozen=True)
class DeadLetter:
    stream: str
    partition: str
    error: str
    body: str
    body_chars: int
    request: dict[str, Any]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_dead_letter(
    *,
    stream: str,
    partition: str,
    error: str,
    body: str | Any,
    request: dict[str, Any],
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> DeadLetter:
    """Build a redacted, truncated dead letter. ``body`` may be text or a JSON-like record."""
    secrets = tuple(secrets)
    text = body if isinstance(body, str) else json.dumps(redact_value(body, secrets), default=str)
    text = redact_text(text, secrets)
    return DeadLetter(
        stream=stream,
        partition=partition,
        error=redact_text(error, secrets),
        body=truncate_body(text),
        body_chars=len(text),
        request=redact_value(request, secrets),
        created_at=(now or datetime.now(UTC)).isoformat(),
    )
