"""A circuit breaker per vendor: after repeated failures, stop calling the vendor for a while.

Why not a library: pybreaker's async path needs Tornado; aiobreaker has had no release since
2021; purgatory (asyncio-native) reads the wall clock inside its state objects, so half-open
timing cannot be tested without sleeping, and it cannot say since when a vendor is down or what
the last error was, which is the message operators need. The state machine is small: closed ->
open after ``failure_threshold`` consecutive failed requests; open -> half-open once
``cooldown_seconds`` passed, letting exactly one probe through; the probe's outcome closes or
re-opens it. A "failed request" is one that failed after all its retries; an answer the vendor
gave deliberately (a 4xx) proves it is up and counts as a success.

All calls are synchronous and the event loop runs one task at a time, so the state changes need no
lock. ``BreakerRegistry`` hands out one breaker per vendor, shared by every client of that vendor
in the process, and never shares one between vendors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from .errors import VendorUnavailable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CircuitBreaker:
    def __init__(
        self,
        vendor: str,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.vendor = vendor
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._state = CLOSED
        self._consecutive_failures = 0
        self._first_failure_at: float | None = None
        self._opened_at: float | None = None
        self._last_error = ""
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        if self._state == OPEN and self._cooldown_over():
            return HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def _cooldown_over(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at >= self.cooldown_seconds

    def _unavailable(self) -> VendorUnavailable:
        since = self._first_failure_at if self._first_failure_at is not None else self._clock()
        return VendorUnavailable(self.vendor, _iso(since), self._last_error)

    def before_call(self) -> None:
        """Raise ``VendorUnavailable`` if the call must not reach the vendor now."""
        if self._state == CLOSED:
            return
        if self._state == OPEN and self._cooldown_over():
            self._state = HALF_OPEN
            self._probe_in_flight = False
        if self._state == HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        raise self._unavailable()

    def record_success(self) -> None:
        self._state = CLOSED
        self._consecutive_failures = 0
        self._first_failure_at = None
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self, error: str) -> None:
        """Count a request that failed after its retries; ``error`` must already be redacted."""
        now = self._clock()
        self._last_error = error
        self._consecutive_failures += 1
        if self._first_failure_at is None:
            self._first_failure_at = now
        if self._state == HALF_OPEN or self._consecutive_failures >= self.failure_threshold:
            self._state = OPEN
            self._opened_at = now
            self._probe_in_flight = False

    def release_probe(self) -> None:
        """Give back a half-open probe whose call ended without a verdict (e.g. it was cancelled)."""
        if self._state == HALF_OPEN:
            self._probe_in_flight = False


class BreakerRegistry:
    """One breaker per vendor name; the first request for a vendor fixes its settings."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(
        self, vendor: str, *, failure_threshold: int = 5, cooldown_seconds: float = 60.0
    ) -> CircuitBreaker:
        breaker = self._breakers.get(vendor)
        if breaker is None:
            breaker = CircuitBreaker(
                vendor,
                failure_threshold=failure_threshold,
                cooldown_seconds=cooldown_seconds,
                clock=self._clock,
            )
            self._breakers[vendor] = breaker
        return breaker

    def reset(self, vendor: str | None = None) -> None:
        if vendor is None:
            self._breakers.clear()
        else:
            self._breakers.pop(vendor, None)


DEFAULT_BREAKERS = BreakerRegistry()


def breaker_for(vendor: str, *, failure_threshold: int = 5, cooldown_seconds: float = 60.0) -> CircuitBreaker:
    """The process-wide breaker of ``vendor``."""
    return DEFAULT_BREAKERS.get(
        vendor, failure_threshold=failure_threshold, cooldown_seconds=cooldown_seconds
    )
