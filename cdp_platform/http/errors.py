"""What a vendor said went wrong, and the exceptions this library raises.

Every vendor wraps its errors differently (API_FACTS.md). ``parse_error`` reads any of the six
shapes into one ``ErrorInfo`` and classifies it: a throttle to wait out, an expired credential to
renew, a spent quota that no amount of waiting inside one run will fix, or a plain client error.
All exception texts are built from redacted parts, and exceptions never chain to an httpx
exception (whose request object would carry the credential).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Graph API throttling codes: application, user, page, custom rate, and the business use case range.
FACEBOOK_THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
FACEBOOK_EXPIRED_TOKEN_CODE = 190
MAX_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class ErrorInfo:
    """A vendor error, reduced to what the client decides on."""

    status: int
    message: str
    code: str | None = None
    throttled: bool = False
    expired_credentials: bool = False
    quota_exhausted: bool = False

    @property
    def retryable(self) -> bool:
        """429, 5xx and vendor throttles are worth retrying; a spent daily/monthly quota is not."""
        if self.quota_exhausted:
            return False
        return self.throttled or self.status == 429 or self.status >= 500


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _from_salesforce(status: int, body: list[Any]) -> ErrorInfo | None:
    first = body[0] if body and isinstance(body[0], dict) else None
    if first is None or "message" not in first:
        return None
    code = first.get("errorCode")
    return ErrorInfo(
        status=status,
        message=str(first["message"]),
        code=code,
        expired_credentials=code == "INVALID_SESSION_ID",
        quota_exhausted=code == "REQUEST_LIMIT_EXCEEDED",
    )


def _from_error_object(status: int, error: dict[str, Any]) -> ErrorInfo:
    """Graph ``{"error": {message, type, code, ...}}`` and Google ``{"error": {code, message, status}}``."""
    message = str(error.get("message", ""))
    code = error.get("code")
    if "fbtrace_id" in error or "type" in error or "error_subcode" in error:
        numeric = code if isinstance(code, int) else None
        return ErrorInfo(
            status=status,
            message=message,
            code=str(code) if code is not None else None,
            throttled=numeric in FACEBOOK_THROTTLE_CODES,
            expired_credentials=numeric == FACEBOOK_EXPIRED_TOKEN_CODE,
        )
    google_status = error.get("status")
    per_day = "per day" in message.lower()
    return ErrorInfo(
        status=status,
        message=message,
        code=str(google_status or code) if (google_status or code) is not None else None,
        throttled=google_status == "RESOURCE_EXHAUSTED" and not per_day,
        quota_exhausted=google_status == "RESOURCE_EXHAUSTED" and per_day,
        expired_credentials=status == 401,
    )


def _from_object(status: int, body: dict[str, Any]) -> ErrorInfo | None:
    error = body.get("error")
    if isinstance(error, dict):
        return _from_error_object(status, error)
    if isinstance(error, str):
        # OAuth token endpoints: {"error": "invalid_grant", "error_description": "..."}
        return ErrorInfo(status=status, message=str(body.get("error_description") or error), code=error)
    if body.get("status") == "error" and "message" in body:
        # HubSpot. A DAILY policy 429 will not clear within a run.
        policy = body.get("policyName")
        return ErrorInfo(
            status=status,
            message=str(body["message"]),
            code=body.get("category") or body.get("errorType"),
            throttled=body.get("errorType") == "RATE_LIMIT" and policy != "DAILY",
            quota_exhausted=policy == "DAILY",
            expired_credentials=status == 401,
        )
    if "title" in body and ("detail" in body or "type" in body):
        # Twitter problem document. The monthly usage cap looks like a 429 but lasts until next month.
        problem_type = str(body.get("type", ""))
        capped = "usage-capped" in problem_type or body.get("title") == "UsageCapExceeded"
        return ErrorInfo(
            status=status,
            message=str(body.get("detail") or body["title"]),
            code=str(body["title"]),
            quota_exhausted=capped,
            expired_credentials=status == 401,
        )
    if "message" in body:
        return ErrorInfo(status=status, message=str(body["message"]), code=body.get("code"))
    return None


def parse_error(status: int, body_text: str) -> ErrorInfo:
    """Read an error response body of any supported vendor into an ``ErrorInfo``."""
    parsed: ErrorInfo | None = None
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        body = None
    if isinstance(body, list):
        parsed = _from_salesforce(status, body)
    elif isinstance(body, dict):
        parsed = _from_object(status, body)
    if parsed is None:
        parsed = ErrorInfo(
            status=status, message=body_text or f"HTTP {status}", expired_credentials=status == 401
        )
    return ErrorInfo(
        status=parsed.status,
        message=_short(parsed.message),
        code=parsed.code,
        throttled=parsed.throttled,
        expired_credentials=parsed.expired_credentials,
        quota_exhausted=parsed.quota_exhausted,
    )


class HttpClientError(Exception):
    """Base of the errors raised by ``cdp_platform.http``. Messages are always redacted."""


class VendorError(HttpClientError):
    """The vendor answered with an error that the client does not (or no longer) retry.

    ``request`` is the redacted request descriptor (see ``redaction.describe_request``).
    """

    def __init__(
        self, vendor: str, info: ErrorInfo, request: dict[str, Any] | None = None, attempts: int = 1
    ):
        self.vendor = vendor
        self.info = info
        self.request = request or {}
        self.attempts = attempts
        super().__init__(str(self))

    @property
    def status(self) -> int:
        return self.info.status

    @property
    def message(self) -> str:
        return self.info.message

    @property
    def code(self) -> str | None:
        return self.info.code

    def __str__(self) -> str:
        code = f" {self.info.code}" if self.info.code else ""
        where = f" ({self.request.get('method')} {self.request.get('url')})" if self.request else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.vendor} HTTP {self.info.status}{code}: {self.info.message}{where}{tries}"


class RetriesExhausted(VendorError):
    """The vendor kept answering 429/5xx (or asked for a wait longer than allowed) until the retry
    budget ran out. Counts as a failure for the circuit breaker, unlike a deliberate 4xx."""


class ExpiredCredentials(VendorError):
    """The credential expired and could not be renewed automatically; ``hint`` says what to do."""

    def __init__(self, vendor: str, info: ErrorInfo, request: dict[str, Any], hint: str) -> None:
        self.hint = hint
        super().__init__(vendor, info, request)

    def __str__(self) -> str:
        return f"{super().__str__()}. {self.hint}"


class QuotaExhausted(HttpClientError):
    """A budget that does not refill within a run (a daily quota, a kept reserve) is spent."""

    def __init__(self, vendor: str, detail: str) -> None:
        self.vendor = vendor
        self.detail = detail
        super().__init__(f"{vendor} quota exhausted: {detail}")


class VendorTransportError(HttpClientError):
    """The vendor could not be reached, or cut or timed out the exchange, on every attempt (or the
    exchange failed in a way retrying cannot fix, such as an unsupported URL scheme).

    It carries the name of the transport error and a redacted description of the request instead of
    the httpx exception itself, which holds the unredacted request.
    """

    def __init__(self, vendor: str, kind: str, detail: str, request: dict[str, Any], attempts: int) -> None:
        self.vendor = vendor
        self.kind = kind
        self.detail = detail
        self.request = request
        self.attempts = attempts
        where = f"{request.get('method')} {request.get('url')}"
        super().__init__(f"{vendor} {kind}: {detail} ({where}) after {attempts} attempts")


class VendorUnavailable(HttpClientError):
    """The vendor's circuit breaker is open: calls fail fast without reaching the network."""

    def __init__(self, vendor: str, since_iso: str, last_error: str) -> None:
        self.vendor = vendor
        self.since = since_iso
        self.last_error = last_error
        super().__init__(f"{vendor} unavailable since {since_iso}: {last_error}")


class PaginationLoop(HttpClientError):
    """The vendor kept sending a cursor (or next link) already followed, even after the page was
    asked for again: the rest of the window cannot be reached in this run.

    Taking the loop as the end of the stream would land a partition with its tail silently missing,
    so the stream fails instead. The pages before the looping one are already spooled and
    checkpointed; the looping page itself is not, so the next run (the step's retry, or a new
    materialization) asks for it again and pages on from there. ``cursor`` is the redacted state.
    """

    def __init__(self, stream: str, partition: str, page: int, cursor: str, retries: int) -> None:
        self.stream = stream
        self.partition = partition
        self.page = page
        self.cursor = cursor
        self.retries = retries
        where = " ".join(part for part in (stream, partition) if part) or "stream"
        super().__init__(
            f"{where}: pagination loop at page {page}: the vendor sent {cursor} again, a cursor already "
            f"followed, also after {retries} retries of the page; the stream is not complete. The pages "
            f"before it are checkpointed; the next run resumes at page {page}"
        )
