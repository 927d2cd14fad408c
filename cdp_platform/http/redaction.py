"""Keep credentials out of everything this library writes: logs, exceptions, dead letters.

Redaction happens where text leaves the client (an error message, a log record, a request
descriptor), so a secret that reached a URL, a header or a form body is caught whichever way it
came in. Known secret values (the live tokens an auth object holds) are also replaced literally,
which catches them in places no pattern anticipates (an echoed token in a vendor's error body).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx

REDACTED = "REDACTED"

SECRET_PARAMS = frozenset(
    {
        "access_token",
        "appsecret_proof",  # with the token it is enough to call as the app
        "client_secret",
        "refresh_token",
        "password",
        "fb_exchange_token",
        "client_assertion",
        "assertion",
        "api_key",
        "apikey",
        "token",
    }
)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie"})
# Vendors prefix their key headers with their own name (``x-<vendor>-api-key``): any name ending
# so is a secret too, without listing the vendors here.
_SECRET_HEADER_SUFFIX = "-api-key"  # noqa: S105 (a header name ending, not a secret)


def is_secret_header(name: str) -> bool:
    """Whether a header (or a mapping key) named ``name`` holds a credential."""
    name = name.lower()
    return name in SECRET_HEADERS or name.endswith(_SECRET_HEADER_SUFFIX)


_PARAM_NAMES = "|".join(sorted(SECRET_PARAMS, key=len, reverse=True))
# key=value in query strings and form bodies (also URL-encoded inside other text).
_KV_PATTERN = re.compile(rf"(?i)\b({_PARAM_NAMES})=([^&\s\"'<>]+)")
# "key": "value" in JSON bodies and reprs of dicts.
_JSON_PATTERN = re.compile(rf"(?i)([\"']({_PARAM_NAMES})[\"']\s*:\s*[\"'])([^\"']*)([\"'])")
_BEARER_PATTERN = re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=\-!|]+")

# Secrets shorter than this are not replaced literally: a 3-character "secret" would shred
# ordinary words out of every message.
_MIN_LITERAL_SECRET = 6


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with secret parameters, bearer tokens and the given literal secrets masked."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= _MIN_LITERAL_SECRET:
            # Also the forms a secret takes inside a URL or a form body.
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                text = text.replace(form, REDACTED)
    text = _KV_PATTERN.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _JSON_PATTERN.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(4)}", text)
    return _BEARER_PATTERN.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def redact_url(url: str | httpx.URL, secrets: Iterable[str] = ()) -> str:
    """Mask secret query parameters and any userinfo password of a URL."""
    parts = urlsplit(str(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = [
            (key, REDACTED if key.lower() in SECRET_PARAMS else value)
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe=',:[]{}"/')
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), secrets)


def strip_secret_params(url: str) -> str:
    """Drop secret query parameters from a URL (e.g. a ``paging.next`` link that echoes the token).

    Used before a URL is stored in a checkpoint: the auth object adds the current credential when
    the URL is followed, so the stored state never holds a secret and never a stale token.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in SECRET_PARAMS
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), parts.fragment))


def redact_headers(headers: Mapping[str, str] | httpx.Headers, secrets: Iterable[str] = ()) -> dict[str, str]:
    secrets = tuple(secrets)
    return {
        key: (REDACTED if is_secret_header(key) else redact_text(value, secrets))
        for key, value in headers.items()
    }


def _body_text(request: httpx.Request) -> str | None:
    try:
        content = request.content
    except httpx.RequestNotRead:
        return None
    if not content:
        return None
    return content.decode("utf-8", errors="replace")


def describe_request(request: httpx.Request, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-ready, secret-free description of a request, for dead letters and error reports."""
    secrets = tuple(secrets)
    body = _body_text(request)
    return {
        "method": request.method,
        "url": redact_url(request.url, secrets),
        "headers": redact_headers(request.headers, secrets),
        "body": redact_text(body, secrets) if body is not None else None,
    }


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """Redact a JSON-like value (dicts, lists, strings) recursively, masking secret keys."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {
            key: (
                REDACTED
                if str(key).lower() in SECRET_PARAMS or is_secret_header(str(key))
                else redact_value(item, secrets)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, secrets) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message of every record it sees.

    The library logs only redacted values already; this filter is the second line of defence for
    anything (an exception text, a third-party log line) that reaches the same logger.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = list(secrets)

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact_text(record.getMessage(), self._secrets)
        record.msg = message
        record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), self._secrets)
            record.exc_info = None
        return True


LOG_FILTER = RedactingFilter()
"""One filter on every logger of this library; clients register their live secrets with it."""


def library_logger(name: str) -> logging.Logger:
    """A module logger of this library with the shared redacting filter attached."""
    logger = logging.getLogger(name)
    if LOG_FILTER not in logger.filters:
        logger.addFilter(LOG_FILTER)
    return logger


# The HTTP stack's own loggers see requests as sent: httpx logs every request's full URL at INFO
# ("HTTP Request: GET https://api.example.com/...?access_token=..."), which reaches the Dagster
# event log as soon as an operator manages the ``httpx`` logger or lowers the root level, and
# httpcore traces connections at DEBUG. A logger filter applies only to records logged on that very
# logger, so each logger that emits is guarded, not just the parents.
HTTP_STACK_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
for _name in HTTP_STACK_LOGGERS:
    library_logger(_name)
