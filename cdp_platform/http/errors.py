"""What a vendor said went wrong, and the exceptions this library raises.

Every vendor wraps its errors differently (API_FACTS.md). ``parse_error`` reads any of the known
body shapes (named by shape below: an error list, an error object, a status envelope, an RFC 7807
problem document, an OAuth token error) into one ``ErrorInfo``, then classifies it with the
vendor's :class:`ErrorRule` s: a throttle to wait out, an expired credential to renew, a spent
quota that no amount of waiting inside one run will fix, or a plain client error. Which codes mean
what is the vendor's data, declared in its source folder (``SourceDeclaration.errors``) and handed
to the client through :func:`declare_error_rules`; this module names no vendor.

All exception texts are built from redacted parts, and exceptions never chain to an httpx
exception (whose request object would carry the credential).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

MAX_MESSAGE_CHARS = 500

# What a rule can say an error is (the ``ErrorInfo`` flags it sets).
ERROR_MEANINGS = ("throttled", "expired_credentials", "quota_exhausted")


@dataclass(frozen=True)
class ErrorRule:
    """One fact of a vendor's error vocabulary: when the body matches, the error ``means`` one of
    :data:`ERROR_MEANINGS`.

    ``equals`` maps a dotted path in the body (list items by index: ``0.errorCode``) to the values
    that match there (compared as found: the number 190 is not the text "190"); ``contains`` maps a
    path to a text its value must contain (case-insensitive). Every condition must hold. Rules are
    tried in order and the first match wins, so a narrower rule (a daily policy) goes before a
    broader one (any rate limit).
    """

    means: str
    equals: Mapping[str, Iterable[Any]] = field(default_factory=dict)
    contains: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.means not in ERROR_MEANINGS:
            raise ValueError(f"error rule means {self.means!r}: use one of {', '.join(ERROR_MEANINGS)}")
        if not (self.equals or self.contains):
            raise ValueError(f"error rule ({self.means}) has no condition: it would match every error")
        frozen = {path: tuple(values) for path, values in self.equals.items()}
        object.__setattr__(self, "equals", MappingProxyType(frozen))
        object.__setattr__(self, "contains", MappingProxyType(dict(self.contains)))

    def matches(self, body: Any) -> bool:
        for path, values in self.equals.items():
            found, value = _lookup(body, path)
            if not found or not any(_same(value, v) for v in values):
                return False
        for path, text in self.contains.items():
            found, value = _lookup(body, path)
            if not found or text.lower() not in str(value).lower():
                return False
        return True


def _same(found: Any, wanted: Any) -> bool:
    # bool is an int in Python: True must not match a declared code 1.
    return (
        type(found) is type(wanted) and found == wanted if isinstance(found, bool | int) else found == wanted
    )


def _lookup(body: Any, path: str) -> tuple[bool, Any]:
    value = body
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


# Client name -> its vendor's rules, as the sources declare them (``declare_error_rules``).
_RULES: dict[str, tuple[ErrorRule, ...]] = {}


def declare_error_rules(client: str, rules: Iterable[ErrorRule]) -> None:
    """Say how the errors of ``client``'s vendor are classified (its declaration's ``errors``)."""
    rules = tuple(rules)
    for rule in rules:
        if not isinstance(rule, ErrorRule):
            raise TypeError(f"{client}: error rules must be ErrorRule, not {type(rule).__name__}")
    _RULES[client] = rules


def error_rules_for(client: str) -> tuple[ErrorRule, ...]:
    """The declared rules of ``client``; none for a client no source declared (then only the
    status decides: 429 and 5xx are retried, see ``ErrorInfo.retryable``)."""
    return _RULES.get(client, ())


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


def _from_error_list(status: int, body: list[Any]) -> ErrorInfo | None:
    """A JSON array of ``{message, errorCode}`` objects: the first one speaks for the answer."""
    first = body[0] if body and isinstance(body[0], dict) else None
    if first is None or "message" not in first:
        return None
    return ErrorInfo(status=status, message=str(first["message"]), code=first.get("errorCode"))


def _from_error_object(status: int, error: dict[str, Any]) -> ErrorInfo:
    """``{"error": {message, code, ...}}``: either typed (``type``, ``error_subcode``, a trace id;
    the numeric ``code`` is the error) or with a canonical ``status`` name beside an HTTP ``code``."""
    message = str(error.get("message", ""))
    code = error.get("code")
    if "fbtrace_id" in error or "type" in error or "error_subcode" in error:
        return ErrorInfo(status=status, message=message, code=str(code) if code is not None else None)
    canonical = error.get("status")
    return ErrorInfo(
        status=status,
        message=message,
        code=str(canonical or code) if (canonical or code) is not None else None,
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
        # A status envelope: {"status": "error", "message", "category" or "errorType", ...}.
        return ErrorInfo(
            status=status,
            message=str(body["message"]),
            code=body.get("category") or body.get("errorType"),
            expired_credentials=status == 401,
        )
    if "title" in body and ("detail" in body or "type" in body):
        # An RFC 7807 problem document: {"title", "detail", "type"}.
        return ErrorInfo(
            status=status,
            message=str(body.get("detail") or body["title"]),
            code=str(body["title"]),
            expired_credentials=status == 401,
        )
    if "message" in body:
        return ErrorInfo(status=status, message=str(body["message"]), code=body.get("code"))
    return None


def parse_error(status: int, body_text: str, rules: Iterable[ErrorRule] = ()) -> ErrorInfo:
    """Read an error response body of any known shape into an ``ErrorInfo``, classified by the
    vendor's ``rules`` (the first that matches sets its flag)."""
    parsed: ErrorInfo | None = None
    try:
        body = json.loads(body_text) if body_text else None
    except ValueError:
        body = None
    if isinstance(body, list):
        parsed = _from_error_list(status, body)
    elif isinstance(body, dict):
        parsed = _from_object(status, body)
    if parsed is None:
        parsed = ErrorInfo(
            status=status, message=body_text or f"HTTP {status}", expired_credentials=status == 401
        )
    flags = {name: getattr(parsed, name) for name in ERROR_MEANINGS}
    if body is not None:
        for rule in rules:
            if rule.matches(body):
                flags[rule.means] = True
                break
    return ErrorInfo(status=parsed.status, message=_short(parsed.message), code=parsed.code, **flags)


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
