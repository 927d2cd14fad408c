"""Quota windows that behave like the vendors' own, on a clock tests can speed up.

Each vendor meters differently (a rolling ten seconds, fixed fifteen-minute windows, a daily count, a
rolling hour reported as a percentage, tokens per hour), but all of them reduce to "at most L units in a window of W seconds", either fixed (aligned to multiples of W
on the clock, so resets are predictable) or rolling (a unit frees W seconds after it was spent).

``time_scale`` divides every window, so a test sees a ten-second window pass in a tenth of a second;
reset times are on the real clock, so a client that sleeps until the reported reset is right.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from typing import TYPE_CHECKING, Any

from cdp_platform.sandbox.plugins import emulated_vendors

if TYPE_CHECKING:
    RateLimitSettings = Any

Clock = Callable[[], float]


@dataclass(frozen=True)
class Usage:
    """One window's state after a request: what it allows, what is spent, when it frees up."""

    limit: int
    used: int
    window_seconds: float
    reset_at: float  # clock time at which (more) units become available again
    allowed: bool

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percent(self) -> int:
        """Spent share of the window in whole percent, as usage headers report it."""
        return min(100, math.floor(100 * self.used / self.limit)) if self.limit else 100

    def retry_after(self, now: float) -> float:
        return max(0.0, self.reset_at - now)


class FixedWindow:
    """At most ``limit`` units per window aligned to multiples of ``window_seconds`` on the clock."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        self.limit, self.window_seconds, self._clock = limit, window_seconds, clock
        self._start = -math.inf
        self._used = 0

    def _roll(self, now: float) -> None:
        start = math.floor(now / self.window_seconds) * self.window_seconds
        if start != self._start:
            self._start, self._used = start, 0

    def acquire(self, cost: int = 1) -> Usage:
        now = self._clock()
        self._roll(now)
        allowed = self._used + cost <= self.limit
        if allowed:
            self._used += cost
        return Usage(self.limit, self._used, self.window_seconds, self._start + self.window_seconds, allowed)

    def peek(self) -> Usage:
        now = self._clock()
        self._roll(now)
        return Usage(self.limit, self._used, self.window_seconds, self._start + self.window_seconds, True)


class RollingWindow:
    """At most ``limit`` units in any span of ``window_seconds``; memory is at most ``limit`` entries."""

    def __init__(self, limit: int, window_seconds: float, clock: Clock) -> None:
        self.limit, self.window_seconds, self._clock = limit, window_seconds, clock
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0][0] + self.window_seconds <= now:
            self._used -= self._spent.popleft()[1]

    def _reset_at(self, now: float) -> float:
        return self._spent[0][0] + self.window_seconds if self._spent else now + self.window_seconds

    def acquire(self, cost: int = 1) -> Usage:
        now = self._clock()
        self._expire(now)
        allowed = self._used + cost <= self.limit
        if allowed:
            self._spent.append((now, cost))
            self._used += cost
        return Usage(self.limit, self._used, self.window_seconds, self._reset_at(now), allowed)

    def peek(self) -> Usage:
        now = self._clock()
        self._expire(now)
        return Usage(self.limit, self._used, self.window_seconds, self._reset_at(now), True)


def _settings_class() -> type:
    """Nominal quotas (before ``time_scale``), one field per quota a vendor module declares
    (``EmulatedVendor.quotas``); defaults follow each vendor's documented tiers."""
    fields = [
        (name, Any, field(default=default))
        for vendor in emulated_vendors()
        for name, default in vendor.quotas.items()
    ]
    cls = make_dataclass("RateLimitSettings", fields, frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = "Nominal quotas (before ``time_scale``). Defaults follow each vendor's documented tiers."
    return cls


_LAZY: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # Built on first use, not on import: the vendor modules that declare the quotas import this one.
    if name != "RateLimitSettings":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _LAZY:
        _LAZY[name] = _settings_class()
    return _LAZY[name]


class RateLimiter:
    """The app's quota windows by name and key, created on first use.

    Keys are bounded (a vendor, an endpoint, a configured account id), so the set of windows cannot
    grow with traffic. When disabled, nothing is counted and every window reports itself untouched, so
    headers stay well-formed and a pacing client never slows down for nothing.
    """

    def __init__(self, settings: Any, clock: Clock, time_scale: float, enabled: bool) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be positive, got {time_scale}")
        self.settings, self.clock, self.time_scale, self.enabled = settings, clock, time_scale, enabled
        self._windows: dict[tuple[str, str], FixedWindow | RollingWindow] = {}
        self._lock = threading.Lock()

    def scaled(self, nominal_seconds: float) -> float:
        return nominal_seconds / self.time_scale

    def _window(self, name: str, key: str, limit: int, nominal_seconds: float, rolling: bool):
        window = self._windows.get((name, key))
        if window is None:
            kind = RollingWindow if rolling else FixedWindow
            window = self._windows[(name, key)] = kind(limit, self.scaled(nominal_seconds), self.clock)
        return window

    def acquire(
        self, name: str, key: str, *, limit: int, nominal_seconds: float, rolling: bool, cost: int = 1
    ) -> Usage:
        """Spend ``cost`` units if the window allows it; the returned usage says whether it did."""
        with self._lock:
            window = self._window(name, key, limit, nominal_seconds, rolling)
            if not self.enabled:
                untouched = window.peek()
                return Usage(limit, 0, untouched.window_seconds, untouched.reset_at, True)
            return window.acquire(cost)


def system_clock() -> float:
    return time.time()
