"""``VendorClient``: one vendor's HTTP requests, paced, retried, breaker-guarded and measured.

A request goes: breaker check -> (per attempt) credential ready -> pacer slot -> send -> pacer
learns from the answer -> success, or renew an expired credential once, or retry a transient
failure with backoff, or fail with the vendor's own message. Everything that leaves the client
(exceptions, log lines, hook records) carries redacted URLs and headers only, and exceptions never
chain to the httpx exception (whose request holds the credential).

Absolute URLs (a ``paging.next`` link) are used as given; paths are appended to the base URL by
string concatenation, because base URLs may carry a path prefix (``http://127.0.0.1:8500/crm``)
and a next-page link may be an absolute path below the instance the token exchange named.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from .auth import Auth
from .breaker import CircuitBreaker, breaker_for
from .errors import (
    HttpClientError,
    RetriesExhausted,
    VendorError,
    VendorTransportError,
    error_rules_for,
    parse_error,
)
from .pacing import Pacer, pacer_for
from .redaction import LOG_FILTER, describe_request, library_logger, redact_text, redact_url
from .retry import RetryableStatus, RetryPolicy, retrying, server_wait_hint
from .tls import CA_BUNDLE_VAR, require_verification, tls_context, tls_verification_error

logger = library_logger(__name__)


@dataclass(frozen=True)
class RequestSpec:
    """A request as data: what paginators build and checkpoints fingerprint."""

    method: str = "GET"
    url: str = ""
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None

    def with_changes(self, **changes: Any) -> RequestSpec:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            key: (dict(value) if isinstance(value, Mapping) else value) for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP exchange, as handed to request hooks (e.g. to open an OpenTelemetry span)."""

    vendor: str
    method: str
    url: str
    attempt: int
    started_at: float
    duration: float
    status: int | None
    error_kind: str | None
    pacer_key: str
    quota_wait: float


RequestHook = Callable[[RequestRecord], None]


def error_kind(exc: BaseException) -> str:
    """A short, stable name for a transport failure, used in stats and messages."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection_cut"
    if isinstance(exc, httpx.NetworkError):
        return "network_error"
    return type(exc).__name__


@dataclass
class ClientStats:
    """Counters of one client. ``requests`` counts HTTP exchanges (retries and token calls too)."""

    requests: int = 0
    retries: int = 0
    responses_429: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    quota_wait_seconds: float = 0.0
    backoff_wait_seconds: float = 0.0

    def percentile(self, q: float) -> float | None:
        """Nearest-rank percentile of the latencies in seconds (q in 0..100), None without data."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), math.ceil(q / 100.0 * len(ordered))))
        return ordered[rank - 1]

    def p50(self) -> float | None:
        return self.percentile(50)

    def p95(self) -> float | None:
        return self.percentile(95)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "responses_429": self.responses_429,
            "errors": dict(self.errors),
            "latency_p50_s": self.p50(),
            "latency_p95_s": self.p95(),
            "quota_wait_s": round(self.quota_wait_seconds, 6),
            "backoff_wait_s": round(self.backoff_wait_seconds, 6),
        }


@dataclass
class _Call:
    """State of one logical request across its attempts."""

    attempts: int = 0
    reauthenticated: bool = False
    last_request: httpx.Request | None = None


def _ssl_verify(verify: bool | str | Path | ssl.SSLContext | None) -> ssl.SSLContext:
    """The verifying context for ``verify``: None or True is the default trust store, a path adds
    that PEM file's CAs to it, a context is used as given. Turning verification off is refused."""
    if verify is False:
        raise ValueError(
            f"verify is False, but vendor clients always verify TLS certificates; to trust a private CA, "
            f"set {CA_BUNDLE_VAR} to its PEM file"
        )
    if isinstance(verify, ssl.SSLContext):
        return require_verification(verify)
    if isinstance(verify, str | Path):
        return tls_context(verify)
    return tls_context(None)


class VendorClient:
    """The resilient async client of one vendor.

    ``pacer`` and ``breaker`` default to the process-wide ones of ``vendor`` (``pacer_for``,
    ``breaker_for``), so every client of a vendor in a process shares its budget and its breaker.
    ``sleep`` is the backoff sleep (tests inject a recorder). ``hooks`` see every HTTP exchange.
    ``verify`` adds trusted CAs (a PEM path or a verifying ``ssl.SSLContext``); certificate and host
    name verification cannot be turned off (see :mod:`cdp_platform.http.tls`).
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        auth: Auth | None = None,
        pacer: Pacer | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        timeout: float | httpx.Timeout = 30.0,
        verify: bool | str | Path | ssl.SSLContext | None = None,
        headers: Mapping[str, str] | None = None,
        hooks: Sequence[RequestHook] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.vendor = vendor
        self._base_url = base_url.rstrip("/")
        self.auth = auth or Auth()
        self.pacer = pacer if pacer is not None else pacer_for(vendor)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker if breaker is not None else breaker_for(vendor)
        self.hooks = list(hooks)
        self.stats = ClientStats()
        self._sleep = sleep
        # httpx times each socket operation; a server that trickles bytes, or an in-process app
        # (ASGI transports have no socket timeouts), could hold a request for ever. This bounds
        # the whole exchange as well.
        self._deadline = timeout if isinstance(timeout, int | float) else (timeout.read or 30.0) * 2
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            verify=_ssl_verify(verify),
            headers=dict(headers or {}),
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        """The configured base URL, or the one the credential exchange returned."""
        learned = self.auth.base_url
        return learned.rstrip("/") if learned else self._base_url

    def url_for(self, url_or_path: str) -> str:
        if url_or_path.startswith(("http://", "https://")):
            return url_or_path
        if not url_or_path:
            return self.base_url
        return f"{self.base_url}/{url_or_path.lstrip('/')}"

    def secrets(self) -> list[str]:
        return self.auth.secrets()

    def add_hook(self, hook: RequestHook) -> None:
        self.hooks.append(hook)

    async def __aenter__(self) -> VendorClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one logical request; returns a 2xx/3xx response or raises an ``HttpClientError``."""
        return await self.send(RequestSpec(method, url_or_path, params, json, data, headers))

    async def send(self, spec: RequestSpec) -> httpx.Response:
        """``request`` for a ``RequestSpec``, guarded by the vendor's circuit breaker."""
        self.breaker.before_call()
        try:
            response = await self._send_with_retries(spec, authenticated=True)
        except (RetriesExhausted, VendorTransportError) as exc:
            self.breaker.record_failure(str(exc))
            raise
        except VendorError:
            # The vendor answered deliberately (a 4xx, an expired credential): it is up.
            self.breaker.record_success()
            raise
        except BaseException:
            self.breaker.release_probe()
            raise
        self.breaker.record_success()
        return response

    async def send_without_auth(self, spec: RequestSpec) -> httpx.Response:
        """Paced and retried, but neither signed nor breaker-guarded: for credential exchanges,
        which run inside a guarded request and must not take its half-open probe slot."""
        return await self._send_with_retries(spec, authenticated=False)

    async def _send_with_retries(self, spec: RequestSpec, *, authenticated: bool) -> httpx.Response:
        call = _Call()
        failure: HttpClientError | None = None
        response: httpx.Response | None = None
        try:
            async for attempt in retrying(self.retry, self._sleep, self._on_wait):
                with attempt:
                    call.attempts += 1
                    response = await self._attempt(spec, call, authenticated=authenticated)
        except RetryableStatus as exc:
            failure = RetriesExhausted(self.vendor, exc.info, exc.request, attempts=call.attempts)
        except httpx.HTTPError as exc:
            # Exhausted retryable transport errors, and any other httpx failure (a bad URL scheme,
            # an undecodable body, a certificate that does not verify): all carry the unredacted
            # request, so none leaves as is.
            description = (
                describe_request(call.last_request, self.secrets()) if call.last_request is not None else {}
            )
            failure = tls_verification_error(
                self.vendor, exc, str(description.get("url", "")), description, call.attempts
            ) or VendorTransportError(
                self.vendor,
                error_kind(exc),
                redact_text(str(exc) or type(exc).__name__, self.secrets()),
                description,
                call.attempts,
            )
        if failure is not None:
            # Raised outside the except block, so neither __cause__ nor __context__ holds the
            # httpx exception and its unredacted request.
            logger.warning("%s", failure)
            raise failure
        assert response is not None
        return response

    def _on_wait(self, seconds: float, exc: BaseException | None) -> None:
        self.stats.retries += 1
        self.stats.backoff_wait_seconds += seconds
        reason = exc.info.message if isinstance(exc, RetryableStatus) else error_kind(exc) if exc else "?"
        logger.info(
            "%s: retrying in %.2f s after %s", self.vendor, seconds, redact_text(reason, self.secrets())
        )

    def _emit(self, record: RequestRecord) -> None:
        for hook in self.hooks:
            try:
                hook(record)
            except Exception:
                logger.exception("%s: request hook failed", self.vendor)

    async def _attempt(self, spec: RequestSpec, call: _Call, *, authenticated: bool) -> httpx.Response:
        if authenticated:
            await self.auth.ensure(self)
            for secret in self.secrets():
                LOG_FILTER.add_secret(secret)
        url = self.url_for(spec.url)
        key = self.pacer.key_for(spec.method, url)
        quota_wait = await self.pacer.acquire(key)
        self.stats.quota_wait_seconds += quota_wait
        request = self._http.build_request(
            spec.method, url, params=spec.params, json=spec.json, data=spec.data, headers=spec.headers
        )
        if authenticated:
            self.auth.apply(request)
        call.last_request = request
        started_at = time.time()
        started = time.perf_counter()
        status: int | None = None
        kind: str | None = None
        try:
            self.stats.requests += 1
            try:
                response = await asyncio.wait_for(self._http.send(request), self._deadline)
            except TimeoutError:
                raise httpx.ReadTimeout(
                    f"no complete response within {self._deadline:g} s", request=request
                ) from None
            status = response.status_code
            self.pacer.observe(key, response)
        except httpx.HTTPError as exc:
            kind = error_kind(exc)
            self.stats.errors[kind] += 1
            raise
        finally:
            duration = time.perf_counter() - started
            self.pacer.release(key)
            self.stats.latencies.append(duration)
            self._emit(
                RequestRecord(
                    vendor=self.vendor,
                    method=spec.method,
                    url=redact_url(request.url, self.secrets()),
                    attempt=call.attempts,
                    started_at=started_at,
                    duration=duration,
                    status=status,
                    error_kind=kind,
                    pacer_key=key,
                    quota_wait=quota_wait,
                )
            )
        if response.status_code < 400:
            return response
        return await self._handle_error(spec, call, request, response, authenticated=authenticated)

    async def _handle_error(
        self,
        spec: RequestSpec,
        call: _Call,
        request: httpx.Request,
        response: httpx.Response,
        *,
        authenticated: bool,
    ) -> httpx.Response:
        secrets = self.secrets()
        info = parse_error(
            response.status_code, redact_text(response.text, secrets), error_rules_for(self.vendor)
        )
        self.stats.errors[f"http_{response.status_code}"] += 1
        if response.status_code == 429:
            self.stats.responses_429 += 1
        if authenticated and info.expired_credentials and not call.reauthenticated:
            call.reauthenticated = True
            if await self.auth.refresh(self, info, request):
                logger.info("%s: credential renewed, sending the request again", self.vendor)
                return await self._attempt(spec, call, authenticated=authenticated)
        description = describe_request(request, self.secrets())
        if info.retryable:
            hint = server_wait_hint(response.headers, quota_hint=self.pacer.wait_hint)
            raise RetryableStatus(info, hint, description)
        raise VendorError(self.vendor, info, description, attempts=call.attempts)
