"""When to try a request again, and how long to wait first.

Retried: HTTP 429, 5xx, vendor throttles that arrive as 400/403 (the codes a source declares as
throttles, see ``ErrorRule``),
timeouts and cut or refused connections. Not retried: any other 4xx, a TLS certificate that does
not verify, and quotas that will not refill within a run (a daily policy, a monthly usage cap,
a request limit exceeded for the day).

The wait is the vendor's own hint when it gives one (``Retry-After`` in seconds or as an HTTP
date, else what the vendor's quota signals say, read by its pacer: a window's reset time, a
regain time), plus a little
jitter so concurrent waiters do not return in one burst. Otherwise it is exponential backoff with
full jitter (tenacity's ``wait_random_exponential``). A hint of zero or a time in the past still
waits a small jittered floor: a server that says "retry now" while failing must not turn the
client into a hot loop. Attempts and total time are both capped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from .errors import ErrorInfo
from .tls import certificate_error

# Transport failures worth another attempt: the request may not have reached the vendor, or its
# answer was lost on the way back. Vendor APIs used here are read-only or idempotent searches.
RETRYABLE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Limits and shape of retries.

    ``max_attempts`` counts the first attempt. ``max_total_seconds`` stops before a wait that would
    pass it. ``max_server_wait`` is the longest vendor-requested wait the client accepts inside a
    run; a longer one (a 20-minute lockout) ends the request with the vendor's error instead.
    """

    max_attempts: int = 6
    max_total_seconds: float = 600.0
    backoff_multiplier: float = 0.5
    max_backoff: float = 60.0
    floor_seconds: float = 0.05
    floor_jitter_seconds: float = 0.2
    max_server_wait: float = 900.0


class RetryableStatus(Exception):
    """Raised inside an attempt for a response worth retrying; carries the vendor's wait hint."""

    def __init__(self, info: ErrorInfo, wait_hint: float | None, request: dict) -> None:
        self.info = info
        self.wait_hint = wait_hint
        self.request = request
        super().__init__(f"HTTP {info.status}: {info.message}")


def _retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None


def server_wait_hint(
    headers: httpx.Headers,
    now: float | None = None,
    quota_hint: Callable[[httpx.Headers, float], float | None] | None = None,
) -> float | None:
    """Seconds the vendor asks to wait before the next call, or None if it says nothing.

    ``Retry-After`` first; else ``quota_hint`` (the vendor's pacer's ``wait_hint``, which knows
    the quota headers its source declared). May return zero or a negative number
    (``Retry-After: 0``, a reset time already past); callers turn that into the floor wait.
    """
    now = time.time() if now is None else now
    if "retry-after" in headers:
        parsed = _retry_after(headers["retry-after"], now)
        if parsed is not None:
            return parsed
    return quota_hint(headers, now) if quota_hint is not None else None


def floor_wait(policy: RetryPolicy) -> float:
    return policy.floor_seconds + random.uniform(0.0, policy.floor_jitter_seconds)


def wait_for_hint(hint: float, policy: RetryPolicy) -> float:
    """The wait for a vendor hint: the hint plus up to 10 % jitter, never below the floor."""
    if hint <= 0:
        return floor_wait(policy)
    return max(hint + random.uniform(0.0, min(1.0, hint * 0.1)), floor_wait(policy))


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableStatus):
        return True
    # A certificate that does not verify arrives as a ConnectError, but waiting will not fix it.
    return isinstance(exc, RETRYABLE_TRANSPORT_ERRORS) and certificate_error(exc) is None


class _Wait:
    """tenacity wait strategy: vendor hint when present, else full-jitter exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_random_exponential(multiplier=policy.backoff_multiplier, max=policy.max_backoff)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RetryableStatus) and exc.wait_hint is not None:
            return wait_for_hint(exc.wait_hint, self._policy)
        return max(self._backoff(retry_state), floor_wait(self._policy))


class _Stop:
    """Stop after ``max_attempts``, before a wait passing the total budget, or on an overlong hint."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._limits = stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_total_seconds)

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if (
            isinstance(exc, RetryableStatus)
            and exc.wait_hint is not None
            and exc.wait_hint > self._policy.max_server_wait
        ):
            return True
        return self._limits(retry_state)


def retrying(
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]],
    on_wait: Callable[[float, BaseException | None], None],
) -> AsyncRetrying:
    """An ``AsyncRetrying`` for one logical request; ``on_wait`` sees each wait before it happens."""

    def before_sleep(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        on_wait(retry_state.upcoming_sleep, outcome.exception() if outcome is not None else None)

    return AsyncRetrying(
        sleep=sleep,
        stop=_Stop(policy),
        wait=_Wait(policy),
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
