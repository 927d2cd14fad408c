"""Deterministic fault injection: the failures real vendor APIs produce, at configured rates.

Every decision is a hash of (seed, vendor, request identity, attempt), never a random draw, so one
seed replays the same faults for the same sequence of requests. The attempt counter is what lets a
RETRY of the same request succeed: it counts consecutive faulted answers to one identity, advances
each time the request is faulted again, and is forgotten on a clean answer. After
``max_consecutive_faults`` faulted answers an identity is always answered cleanly, so a retrying
client can never be starved and no data becomes unreachable.

Two families of faults:
- transport faults replace or damage the whole response (throttling, 5xx, slow answers, a
  connection cut mid-body, a credential answered as expired); the middleware below applies them
  before the vendor handler runs.
- data faults change a successful page in ways a careful client can detect (a malformed record, a
  record repeated on the next page, a cursor or next link that loops back, a field whose type
  drifts, a cursor on the last page that leads to an empty page); the vendor handlers apply them
  and report which ones they applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cdp_platform.sandbox.plugins import mounts

TRANSPORT_KINDS: tuple[str, ...] = (
    "rate_limited",
    "retry_after_zero",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "slow_response",
    "cut_connection",
    # A renewable credential (a login session, an exchanged long-lived token, an OAuth access token)
    # answered as expired before its time, as vendors do when a session is revoked or rotated. Only
    # on a request's first attempt: the credential the client renews in response is honoured.
    "expired_token",
)
DATA_KINDS: tuple[str, ...] = (
    "malformed_record",
    "duplicate_record",
    "repeated_cursor",
    "self_link",
    "schema_drift",
    "empty_last_page",
)
FAULT_KINDS: tuple[str, ...] = TRANSPORT_KINDS + DATA_KINDS


def __getattr__(name: str) -> tuple[str, ...]:
    # ``VENDORS``: the names faults are configured by, the emulated vendors' mount prefixes in order;
    # read on use (the vendor modules that declare them import this one).
    if name == "VENDORS":
        return vendor_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def vendor_names() -> tuple[str, ...]:
    """The vendors a fault spec can name: every mount prefix of the sandbox app, in order."""
    return tuple(mount.prefix for mount in mounts())


@dataclass(frozen=True)
class FaultProfile:
    """Per-request probability of each fault kind, plus how faults behave.

    Transport rates are shares of one draw, so they must sum to at most 1; data rates are independent
    draws per successful page.
    """

    name: str
    rates: Mapping[str, float] = field(default_factory=dict)
    slow_seconds: float = 15.0  # longer than a typical client read timeout
    burst_max: int = 3  # a throttled request stays throttled for 1..burst_max consecutive attempts
    max_consecutive_faults: int = 4
    # At most this many records on a page, whatever the client asked for (None: as asked). Vendors
    # shorten pages under load (one CRM documents its batch size as a hint, not a promise), and short
    # pages are what make a small window span several pages, where the paging faults can happen.
    page_max: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if any(not 0.0 <= rate <= 1.0 for rate in self.rates.values()):
            raise ValueError("fault rates must be within [0, 1]")
        if sum(self.rates.get(kind, 0.0) for kind in TRANSPORT_KINDS) > 1.0:
            raise ValueError("transport fault rates must sum to at most 1")
        if self.burst_max < 1 or self.max_consecutive_faults < self.burst_max:
            raise ValueError("need 1 <= burst_max <= max_consecutive_faults")
        if self.page_max is not None and self.page_max < 2:
            raise ValueError("page_max must be at least 2 (a duplicated record needs two on a page)")

    def rate(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)


PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile("none"),
    "storm": FaultProfile(
        "storm",
        {
            "rate_limited": 0.20,
            "retry_after_zero": 0.03,
            "http_500": 0.02,
            "http_502": 0.015,
            "http_503": 0.02,
            "http_504": 0.015,
            "slow_response": 0.01,
            "cut_connection": 0.02,
            "malformed_record": 0.05,
            "duplicate_record": 0.05,
            "repeated_cursor": 0.03,
            "self_link": 0.03,
            "schema_drift": 0.05,
            "empty_last_page": 0.05,
        },
    ),
    # The storm's transport faults with several times its data faults, expired credentials, and short
    # pages: the profile the end-to-end guarantee tests use, so that every paging fault really happens
    # in a window of a few hundred records (each test asserts it did, per kind, from the stats).
    "tempest": FaultProfile(
        "tempest",
        {
            # Throttles that make the client wait (and slow responses) are fewer than in the storm:
            # they cost seconds each and prove nothing more after the first few.
            "rate_limited": 0.04,
            "retry_after_zero": 0.05,
            "http_500": 0.02,
            "http_502": 0.01,
            "http_503": 0.02,
            "http_504": 0.01,
            "cut_connection": 0.04,
            "expired_token": 0.25,
            "malformed_record": 0.10,
            "duplicate_record": 0.12,
            "repeated_cursor": 0.10,
            "self_link": 0.25,
            "schema_drift": 0.08,
            "empty_last_page": 0.30,
        },
        # Any third answer to one request is clean: the client asks a looping page again twice
        # before it takes the loop as real and fails the stream (PaginationLoop), to be resumed by
        # the step's retry seconds later; longer loops are tested on their own
        # (cdp_platform_tests/sources/test_pagination_loop.py), not made to slow every storm.
        burst_max=2,
        max_consecutive_faults=2,
        page_max=5,
    ),
}


def resolve_profile(faults: str | FaultProfile) -> FaultProfile:
    if isinstance(faults, FaultProfile):
        return faults
    try:
        return PROFILES[faults]
    except KeyError:
        raise ValueError(f"unknown fault profile {faults!r}; known: {sorted(PROFILES)}") from None


FaultSpec = str | FaultProfile | Mapping[str, str | FaultProfile]


def resolve_faults(faults: FaultSpec) -> dict[str, FaultProfile]:
    """One profile for every vendor, or a profile per vendor (vendors left out get ``none``)."""
    vendors = vendor_names()
    if isinstance(faults, str | FaultProfile):
        profile = resolve_profile(faults)
        return dict.fromkeys(vendors, profile)
    unknown = set(faults) - set(vendors)
    if unknown:
        raise ValueError(f"unknown vendors in faults: {sorted(unknown)}; known: {list(vendors)}")
    return {vendor: resolve_profile(faults.get(vendor, "none")) for vendor in vendors}


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts, stable across processes and Python versions."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class FaultPlan:
    """What to do to one request; vendor handlers add the data faults they really applied."""

    vendor: str
    identity: str
    attempt: int
    seed: int
    transport: str | None
    data: frozenset[str]
    applied: set[str] = field(default_factory=set)
    page_max: int | None = None

    def wants(self, kind: str) -> bool:
        return kind in self.data

    def pick(self, salt: str, n: int) -> int:
        """A deterministic index in [0, n) for choices inside a fault (which record, which variant)."""
        return int(_unit(self.seed, self.vendor, self.identity, self.attempt, salt) * n)

    def token(self, salt: str) -> str:
        """Deterministic hex for ids the vendor makes up per response (correlation ids, trace ids)."""
        return hashlib.blake2b(
            f"{self.seed}|{self.vendor}|{self.identity}|{self.attempt}|{salt}".encode(), digest_size=12
        ).hexdigest()


class SandboxStats:
    """Counters of requests, injected faults and quota rejections, per vendor (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, section: str, vendor: str, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(section, vendor, name)] += n

    def snapshot(self) -> dict[str, Any]:
        """``{"requests": {vendor: {"total", "data"}}, "faults": {vendor: {kind: n}}, "throttled": ...,
        "fault_totals": {kind: n}}``: the last sums the faults over vendors, every kind listed (zero
        included), so a test can ask that each kind it names really happened."""
        out: dict[str, Any] = {"requests": {}, "faults": {}, "throttled": {}}
        with self._lock:
            for (section, vendor, name), n in sorted(self._counts.items()):
                out.setdefault(section, {}).setdefault(vendor, {})[name] = n
        totals = dict.fromkeys(FAULT_KINDS, 0)
        for kinds in out["faults"].values():
            for kind, n in kinds.items():
                totals[kind] = totals.get(kind, 0) + n
        out["fault_totals"] = totals
        return out


class FaultInjector:
    """Plans faults per request and remembers consecutive faulted attempts per identity (bounded)."""

    MAX_TRACKED_IDENTITIES = 100_000

    def __init__(self, faults: FaultSpec, seed: int, stats: SandboxStats) -> None:
        self.profiles, self.seed, self.stats = resolve_faults(faults), seed, stats
        self._attempts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def profile_for(self, vendor: str) -> FaultProfile:
        return self.profiles[vendor]

    def _transport(self, vendor: str, identity: str, attempt: int) -> str | None:
        profile = self.profiles[vendor]
        if attempt >= profile.max_consecutive_faults:
            return None
        if attempt > 0 and self._transport(vendor, identity, 0) == "rate_limited":
            burst = 1 + int(_unit(self.seed, vendor, identity, "burst") * profile.burst_max)
            if attempt < burst:
                return "rate_limited"
        draw = _unit(self.seed, vendor, identity, attempt, "transport")
        edge = 0.0
        for kind in TRANSPORT_KINDS:
            edge += profile.rate(kind)
            if draw < edge:
                return None if kind == "expired_token" and attempt > 0 else kind
        return None

    def plan(self, vendor: str, identity: str) -> FaultPlan:
        with self._lock:
            attempt = self._attempts.get(identity, 0)
        transport = self._transport(vendor, identity, attempt)
        profile = self.profiles[vendor]
        data: frozenset[str] = frozenset()
        if transport is None and attempt < profile.max_consecutive_faults:
            data = frozenset(
                kind
                for kind in DATA_KINDS
                if _unit(self.seed, vendor, identity, attempt, kind) < profile.rate(kind)
            )
        return FaultPlan(vendor, identity, attempt, self.seed, transport, data, page_max=profile.page_max)

    def settle(self, plan: FaultPlan) -> None:
        """Count what was injected and advance or forget the identity's attempt counter."""
        kinds = ([plan.transport] if plan.transport else []) + sorted(plan.applied)
        for kind in kinds:
            self.stats.add("faults", plan.vendor, kind)
        with self._lock:
            if kinds:
                self._attempts[plan.identity] = plan.attempt + 1
                self._attempts.move_to_end(plan.identity)
                while len(self._attempts) > self.MAX_TRACKED_IDENTITIES:
                    self._attempts.popitem(last=False)
            else:
                self._attempts.pop(plan.identity, None)


class ConnectionCut(httpx.ReadError):
    """Raised after part of a body was sent: uvicorn drops the socket, ASGITransport re-raises it.

    It subclasses httpx.ReadError so an in-process client (httpx.ASGITransport re-raises app
    exceptions as they are) sees the same exception family as one on a real socket.
    """

    def __init__(self, message: str = "sandbox fault: connection cut mid-body") -> None:
        super().__init__(message)


class FaultResponder(Protocol):
    """How one vendor says "slow down" and "I failed" (bodies and headers are vendor-specific)."""

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response: ...

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response: ...

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """The vendor's answer to an expired credential, or None when the request carries none that
        can expire and be renewed (a static token: then the request is served as if unfaulted)."""
        ...


GATEWAY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def gateway_error(status: int) -> Response:
    """502/503/504 usually come from a load balancer in front of the vendor: HTML, not the API's JSON."""
    title = GATEWAY_PAGES[status]
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return HTMLResponse(body, status_code=status)


def request_identity(method: str, path: str, query: bytes, body: bytes) -> str:
    """Stable identity of a request: same method, path, query (order-insensitive) and body.

    A credential in the query (an ``access_token`` parameter) is not part of it: the request a client
    sends again with a renewed token is the same request, whose attempts go on counting.
    """
    pairs = sorted(p for p in query.split(b"&") if not p.startswith(b"access_token=")) if query else []
    digest = hashlib.blake2b(digest_size=12)
    for part in (method.encode(), path.encode(), b"&".join(pairs), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


PLAN_SCOPE_KEY = "cdp_sandbox.fault_plan"


class FaultMiddleware:
    """Pure ASGI middleware: plans faults for vendor data requests and applies transport faults.

    ``classify`` maps a path to its vendor and says whether it is a data endpoint (auth endpoints and
    the sandbox's own endpoints are never faulted, so a client can always get a credential).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        injector: FaultInjector,
        stats: SandboxStats,
        classify: Callable[[str], tuple[str | None, bool]],
        responders: Mapping[str, FaultResponder],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app, self.injector, self.stats = app, injector, stats
        self.classify, self.responders, self.sleep = classify, responders, sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        vendor, is_data = self.classify(scope["path"])
        if vendor is None:
            await self.app(scope, receive, send)
            return
        self.stats.add("requests", vendor, "total")
        if not is_data:
            await self.app(scope, receive, send)
            return
        self.stats.add("requests", vendor, "data")
        body, receive = await _buffer_body(receive)
        plan = self.injector.plan(
            vendor, request_identity(scope["method"], scope["path"], scope.get("query_string", b""), body)
        )
        scope[PLAN_SCOPE_KEY] = plan
        try:
            await self._serve(scope, receive, send, plan)
        finally:
            self.injector.settle(plan)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, plan: FaultPlan) -> None:
        kind = plan.transport
        responder = self.responders[plan.vendor]
        if kind in ("rate_limited", "retry_after_zero"):
            await responder.throttled(scope, plan, kind == "retry_after_zero")(scope, receive, send)
        elif kind == "http_500":
            await responder.server_error(scope, plan)(scope, receive, send)
        elif kind in ("http_502", "http_503", "http_504"):
            await gateway_error(int(kind[-3:]))(scope, receive, send)
        elif kind == "slow_response":
            await self.sleep(self.injector.profile_for(plan.vendor).slow_seconds)
            await self.app(scope, receive, send)
        elif kind == "cut_connection":
            await self.app(scope, receive, _cutting_send(send))
        elif kind == "expired_token":
            expired = responder.expired(scope, plan)
            if expired is None:
                plan.transport = None  # nothing renewable was presented: not a fault, not counted
                await self.app(scope, receive, send)
            else:
                await expired(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the request body once (it is part of the identity) and replay it to the app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _cutting_send(send: Send) -> Send:
    """Send the status line, headers and half of the first body chunk, then drop the connection."""

    start: Message | None = None

    async def cutting(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] == "http.response.body" and start is not None:
            body = message.get("body", b"")
            await send(start)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            raise ConnectionCut()
        await send(message)

    return cutting
