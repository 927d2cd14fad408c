"""How a webhook request proves it comes from the vendor, named by mechanism rather than by vendor.

Each scheme is a small frozen object that checks one request and either returns or raises
:class:`Refusal` with the reason (a short, fixed word that is counted) and the HTTP status to answer.
A vendor's declaration (``cdp_platform/sources/<vendor>/webhook.py``) picks a scheme and its header;
the receiver never knows which vendor uses which.

All comparisons are constant-time (``hmac.compare_digest``) so that the time to refuse a forged
signature says nothing about how much of it was right. Nothing here logs or echoes the body or the
signature: a refusal carries only its reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# The refusal reasons, counted per vendor (receiver metrics, asset metadata). Fixed words so that a
# dashboard can group on them; a free-text message would leak request details into the counters.
BAD_SIGNATURE = "bad_signature"
MISSING_SIGNATURE = "missing_signature"
STALE_TIMESTAMP = "stale_timestamp"
UNKNOWN_ROUTE = "unknown_route"
BODY_TOO_LARGE = "body_too_large"
MALFORMED_JSON = "malformed_json"
BAD_HANDSHAKE = "bad_handshake"
UNEXPECTED_SHAPE = "unexpected_shape"
QUEUE_UNAVAILABLE = "queue_unavailable"


class Refusal(Exception):
    """A request the receiver must not accept; ``reason`` is one of the words above."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class SignedRequest:
    """What a scheme may look at: method, the full URI the vendor called, headers (lower-case
    names), and the raw body bytes exactly as received (a signature covers bytes, not parsed JSON)."""

    method: str
    uri: str
    headers: Mapping[str, str]
    body: bytes


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class BodyHmacHeader:
    """HMAC-SHA256 of the raw body, in one header, as ``<prefix><hex or base64 digest>``.

    E.g. ``X-Hub-Signature-256: sha256=<hex>``, or a base64 digest under the same prefix; which
    source uses which header is declared in its ``sources/<source>/webhook.py``.
    """

    header: str
    encoding: str = "hex"  # or "base64"
    prefix: str = "sha256="
    refuse_status: int = 401

    def sign(self, secret: str, body: bytes) -> dict[str, str]:
        digest = _hmac_sha256(secret, body)
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return {self.header: f"{self.prefix}{text}"}

    def verify(self, secret: str, request: SignedRequest, now: float | None = None) -> None:
        given = request.headers.get(self.header.lower())
        if not given:
            raise Refusal(MISSING_SIGNATURE, self.refuse_status)
        expected = self.sign(secret, request.body)[self.header]
        if not _equal(expected, given.strip()):
            raise Refusal(BAD_SIGNATURE, self.refuse_status)


@dataclass(frozen=True)
class SignedRequestWithTimestamp:
    """base64(HMAC-SHA256(secret, method + full URI + body + timestamp)) with the timestamp (ms) in
    its own header, refused when older (or further in the future) than ``window_seconds``.

    The URI is the one the vendor called, so a receiver behind a proxy must see the public host
    (uvicorn ``--proxy-headers``); otherwise every request is refused, which is the safe side.
    """

    header: str
    timestamp_header: str
    window_seconds: float = 300.0
    refuse_status: int = 401

    def sign(self, secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
        message = method.upper().encode() + uri.encode() + body + str(timestamp_ms).encode()
        return {
            self.header: base64.b64encode(_hmac_sha256(secret, message)).decode(),
            self.timestamp_header: str(timestamp_ms),
        }

    def verify(self, secret: str, request: SignedRequest, now: float | None = None) -> None:
        given = request.headers.get(self.header.lower())
        stamp = request.headers.get(self.timestamp_header.lower())
        if not given or not stamp:
            raise Refusal(MISSING_SIGNATURE, self.refuse_status)
        try:
            timestamp_ms = int(stamp)
        except ValueError:
            raise Refusal(STALE_TIMESTAMP, self.refuse_status) from None
        now = time.time() if now is None else now
        if abs(now - timestamp_ms / 1000.0) > self.window_seconds:
            raise Refusal(STALE_TIMESTAMP, self.refuse_status)
        expected = self.sign(secret, request.method, request.uri, request.body, timestamp_ms)[self.header]
        if not _equal(expected, given.strip()):
            raise Refusal(BAD_SIGNATURE, self.refuse_status)


@dataclass(frozen=True)
class TimestampedSignatureHeader:
    """``<header>: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=...]``, refused when
    ``t`` is further than ``tolerance_seconds`` from now. Several ``v1`` entries are allowed (a
    vendor rolling its secret signs with both); one match is enough.
    """

    header: str
    tolerance_seconds: float = 300.0
    refuse_status: int = 400

    def sign(self, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
        digest = _hmac_sha256(secret, f"{timestamp}.".encode() + body).hex()
        return {self.header: f"t={timestamp},v1={digest}"}

    def verify(self, secret: str, request: SignedRequest, now: float | None = None) -> None:
        given = request.headers.get(self.header.lower())
        if not given:
            raise Refusal(MISSING_SIGNATURE, self.refuse_status)
        stamp: str | None = None
        signatures: list[str] = []
        for item in given.split(","):
            key, _, value = item.strip().partition("=")
            if key == "t":
                stamp = value
            elif key == "v1":
                signatures.append(value)
        if stamp is None or not signatures:
            raise Refusal(BAD_SIGNATURE, self.refuse_status)
        try:
            timestamp = int(stamp)
        except ValueError:
            raise Refusal(BAD_SIGNATURE, self.refuse_status) from None
        now = time.time() if now is None else now
        if abs(now - timestamp) > self.tolerance_seconds:
            raise Refusal(STALE_TIMESTAMP, self.refuse_status)
        expected = self.sign(secret, request.body, timestamp)[self.header].rsplit("v1=", 1)[1]
        if not any(_equal(expected, candidate) for candidate in signatures):
            raise Refusal(BAD_SIGNATURE, self.refuse_status)


SignatureScheme = BodyHmacHeader | SignedRequestWithTimestamp | TimestampedSignatureHeader


@dataclass(frozen=True)
class SubscribeChallenge:
    """The subscription handshake ``GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C``:
    answer ``C`` as text when ``T`` is the configured verify token, else 403."""

    def answer(self, secret: str, query: Mapping[str, str]) -> tuple[int, str, str]:
        token = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge")
        if query.get("hub.mode") != "subscribe" or challenge is None or not _equal(secret, token):
            raise Refusal(BAD_HANDSHAKE, 403)
        return 200, "text/plain", challenge


@dataclass(frozen=True)
class CrcResponse:
    """The challenge-response check ``GET ?crc_token=X`` answered with
    ``{"response_token": "sha256=" + base64(HMAC-SHA256(secret, X))}``."""

    def answer(self, secret: str, query: Mapping[str, str]) -> tuple[int, str, str]:
        token = query.get("crc_token")
        if not token:
            raise Refusal(BAD_HANDSHAKE, 400)
        digest = base64.b64encode(_hmac_sha256(secret, token.encode())).decode()
        return 200, "application/json", '{"response_token": "sha256=' + digest + '"}'


Handshake = SubscribeChallenge | CrcResponse

# A clock the receiver reads; tests pass a fixed one so timestamp windows are checked exactly.
Clock = Callable[[], float]
