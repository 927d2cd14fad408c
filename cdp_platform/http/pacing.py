"""Pacing: send each vendor's requests at the rate its own quota signals allow.

One pacer per budget is shared by every concurrent request spending it (``pacer_for``; the sources
declare which budget and pacer kind their client uses, ``declare_budget``), so streams fetched side
by side spend one budget together. Before a request, ``acquire(key)`` books
the earliest allowed send time and sleeps until then; after it, ``observe(key, response)`` reads
the vendor's quota signals and adjusts the schedule; ``release(key)`` ends the booking. Booking is
synchronous (no await between reading and writing the schedule) so concurrent tasks on one event
loop never book the same slot. A 429 is the fallback when these signals were wrong, not the method.

Every decision reads an injectable ``clock`` (unix seconds), so tests drive pacers with a fake one
and call ``reserve`` directly to see the delay it decides. ``seconds_waited`` totals the sleeps.

Pacers are mechanisms, named by the quota signal they read (``PACER_KINDS``); a source's
declaration (``Quota``) chooses one, names the headers or body key carrying its signals in the
order of the kind's ``SIGNAL_ROLES``, and gives its settings (documented limits, margins). This
module names no vendor:
- ``fixed_window``: limit, remaining and reset headers per endpoint, fixed windows; the remaining
  calls are spread evenly until the reset, then the window refills. The window length is not
  reported; it is learned from consecutive reset times.
- ``rolling_window``: max, remaining and interval headers over a rolling window: an even rate
  ``margin`` (2 %) under max/interval, lowered by what other apps on the account spend (the
  window's use beyond our own calls in it), and never more calls in a window than it holds,
  counting each call until a window after its answer; search endpoints may have their own
  documented limit; a daily-remaining header at the reserve stops the run.
- ``usage_percent``: headers holding percentages of a rolling hour's allowance. The allowance is
  not stated, so the pacer infers it from its own calls in the window and the reported
  percentage, and, from ``pace_from`` (50 %) usage on, spends ``target_usage`` (98 %) of it at an
  even rate; a throttle pauses until the regain time a header reports (at most a window).
- ``daily_allowance``: a header reporting ``used/allowed`` of a 24 h budget; the run stops
  before it eats into a configurable reserve kept for other integrations.
- ``body_quota_tokens``: a quota object in the response body (tokens per hour and day,
  concurrent requests); concurrency is capped at the concurrent-request quota, the run pauses to
  the next hour (``hour_seconds``, aligned to the clock) when the hourly tokens would not cover
  another request, and stops when the daily tokens would not.
- ``min_spacing``: no quota signal at all (a documented requests-per-second limit).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from .errors import QuotaExhausted
from .redaction import library_logger

logger = library_logger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Base pacer: per-key minimum spacing, optional concurrency cap, wait accounting.

    Subclasses override ``_schedule`` (book a send time), ``observe`` (learn from a response) and
    ``wait_hint`` (the wait a throttled answer asks for), and name in ``SIGNAL_ROLES`` what each
    declared signal is, in order (the last ``optional_signals`` of them may be left out).
    """

    SIGNAL_ROLES: tuple[str, ...] = ()
    optional_signals = 0

    def __init__(
        self,
        vendor: str,
        *,
        signals: Sequence[str] = (),
        min_interval: float = 0.0,
        max_concurrency: int | None = None,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.vendor = vendor
        self.signals = self._checked_signals(vendor, tuple(signals))
        self.min_interval = min_interval
        self.max_concurrency = max_concurrency
        self.clock = clock
        self._sleep = sleep
        self.seconds_waited = 0.0
        self._next_at: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._active = 0
        self._waiters: list[asyncio.Future[None]] = []

    @classmethod
    def _checked_signals(cls, vendor: str, signals: tuple[str, ...]) -> tuple[str, ...]:
        roles = cls.SIGNAL_ROLES
        if roles and not len(roles) - cls.optional_signals <= len(signals) <= len(roles):
            raise ValueError(
                f"{vendor}: a {cls.__name__} reads the signals ({', '.join(roles)}) in this order; "
                f"{len(signals)} were declared: {signals}"
            )
        return signals

    def signal(self, role: str) -> str | None:
        """The header (or body key) declared for ``role``; None when the declaration left it out."""
        index = self.SIGNAL_ROLES.index(role)
        return self.signals[index] if index < len(self.signals) else None

    def key_for(self, method: str, url: str) -> str:
        """The quota bucket a request draws from; vendors with per-endpoint limits override it."""
        return "default"

    def wait_hint(self, headers: httpx.Headers, now: float) -> float | None:
        """Seconds a throttled answer's quota signals ask to wait, beyond ``Retry-After``; None: no hint."""
        return None

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    def _schedule(self, key: str, now: float) -> float:
        """Book and return the send time of the next request on ``key`` (>= now)."""
        return now

    def reserve(self, key: str) -> float:
        """Book the next send on ``key``; return how many seconds the caller must wait first."""
        now = self.clock()
        earliest = max(now, self._next_at.get(key, now))
        send_at = max(earliest, self._schedule(key, earliest))
        # _schedule may have set the next slot itself; min_interval is a floor under it.
        self._next_at[key] = max(self._next_at.get(key, send_at), send_at + self.min_interval)
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return send_at - now

    async def _enter_gate(self) -> None:
        # A counter and plain futures rather than asyncio.Semaphore: a process-wide pacer outlives
        # the event loop of one run, and a body quota pacer learns its concurrency limit while requests are open.
        while self.max_concurrency is not None and self._active >= self.max_concurrency:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._active += 1

    def _exit_gate(self) -> None:
        if self._active > 0:
            self._active -= 1
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break

    async def acquire(self, key: str) -> float:
        """Wait for a concurrency slot and the booked send time; return the seconds waited."""
        waited = 0.0
        if self.max_concurrency is not None:
            started = time.monotonic()
            await self._enter_gate()
            waited += time.monotonic() - started
        try:
            delay = self.reserve(key)
        except BaseException:
            if self.max_concurrency is not None:
                self._exit_gate()
            raise
        if delay > 0:
            try:
                await self._sleep(delay)
            except BaseException:
                self.release(key)
                raise
            waited += delay
        self.seconds_waited += waited
        return waited

    def observe(self, key: str, response: httpx.Response) -> None:
        """Learn from a response's quota signals. Called before ``release`` for the same request."""

    def release(self, key: str) -> None:
        """End the booking made by ``acquire`` (after ``observe``, also when the request failed)."""
        self._in_flight[key] = max(0, self._in_flight.get(key, 0) - 1)
        if self.max_concurrency is not None:
            self._exit_gate()


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def sent_at(response: httpx.Response, now: float) -> float:
    """When the request answered by ``response`` left: ``now`` less the exchange's duration.

    Quota counts are as of the request's arrival, so our own calls are counted up to then, not up
    to when the answer was read (later calls may already be on the wire).
    """
    try:
        return now - response.elapsed.total_seconds()
    except RuntimeError:  # a response never sent (built in a test): no duration to subtract
        return now


class SendLog:
    """Our own send times, oldest first, trimmed to one rolling window."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._times: list[float] = []

    def add(self, at: float) -> None:
        bisect.insort(self._times, at)
        # Trim rarely and in one slice: the log holds at most about a window's worth of sends.
        if len(self._times) > 64 and self._times[0] < self._times[-1] - 2 * self.window_seconds:
            del self._times[: bisect.bisect_right(self._times, self._times[-1] - self.window_seconds)]

    def count(self, since: float, until: float = math.inf) -> int:
        """Sends in (since, until]."""
        return bisect.bisect_right(self._times, until) - bisect.bisect_right(self._times, since)

    def free_at(self, at: float, budget: int) -> float:
        """Earliest time >= ``at`` when fewer than ``budget`` of our sends are in the window."""
        held = self._times[bisect.bisect_right(self._times, at - self.window_seconds) :]
        if len(held) < budget:
            return at
        return held[len(held) - budget] + self.window_seconds


@dataclass
class _Window:
    """A fixed quota window as the client sees it."""

    limit: float
    length: float
    remaining: float
    reset_at: float
    # False until the vendor reported this window: until then limit, remaining and reset are our
    # defaults, a guess the first answer replaces rather than bounds.
    reported: bool = False


class FixedWindowPacer(Pacer):
    """Per-endpoint fixed windows from limit/remaining/reset headers: spread the remaining calls
    until reset.

    ``limits`` are the documented (calls, window seconds) per key, a guess the first answer
    corrects; other keys start from ``default_limit``. Keys are the request path with numeric ids
    as ``:id``, from ``path_root`` on (the API's version segment, so a base URL's prefix does not
    matter).
    """

    SIGNAL_ROLES = ("limit", "remaining", "reset")
    _ID_SEGMENT = re.compile(r"/\d+(?=/|$)")

    def __init__(
        self,
        vendor: str,
        *,
        limits: Mapping[str, tuple[int, float]] | None = None,
        default_limit: tuple[int, float] = (180, 900.0),
        reset_margin: float = 0.25,
        path_root: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(vendor, **kwargs)
        self.limits = {key: tuple(value) for key, value in (limits or {}).items()}
        self.path_root = path_root
        self.default_limit = tuple(default_limit)
        self.reset_margin = reset_margin
        self._windows: dict[str, _Window] = {}
        self._last_reset: dict[str, float] = {}

    def key_for(self, method: str, url: str) -> str:
        path = urlsplit(url).path
        root = self.path_root.rstrip("/") if self.path_root else None
        marker = path.find(root + "/") if root else -1
        if root and marker >= 0:
            # Keep the root segment itself (the API version); ids are numeric segments after it.
            return root + self._ID_SEGMENT.sub("/:id", path[marker + len(root) :])
        return self._ID_SEGMENT.sub("/:id", path)

    def wait_hint(self, headers: httpx.Headers, now: float) -> float | None:
        """Until the reset, when the window is empty (or its remaining count is not reported)."""
        remaining = headers.get(self.signal("remaining") or "")
        reset = headers.get(self.signal("reset") or "")
        if reset is not None and (remaining is None or remaining.strip() == "0"):
            try:
                return float(reset) - now
            except ValueError:
                return None
        return None

    def _window(self, key: str, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None:
            limit, length = self.limits.get(key, self.default_limit)
            window = _Window(limit=limit, length=length, remaining=limit, reset_at=now + length)
            self._windows[key] = window
        return window

    def _schedule(self, key: str, now: float) -> float:
        window = self._window(key, now)
        send_at = now
        if window.remaining < 1:
            send_at = max(now, window.reset_at + self.reset_margin)
        if send_at >= window.reset_at:
            # A new window. Requests still in flight may be counted in it by the vendor.
            window.remaining = window.limit - self.in_flight(key)
            window.reset_at = send_at + window.length
            if window.remaining < 1:
                send_at = window.reset_at + self.reset_margin
                window.remaining = window.limit
                window.reset_at = send_at + window.length
        spacing = max(0.0, window.reset_at - send_at) / max(window.remaining, 1.0)
        window.remaining -= 1
        self._next_at[key] = send_at + spacing
        return send_at

    def observe(self, key: str, response: httpx.Response) -> None:
        limit_header, remaining_header, reset_header = self.signals
        limit = _float(response.headers.get(limit_header))
        remaining = _float(response.headers.get(remaining_header))
        reset = _float(response.headers.get(reset_header))
        if remaining is None or reset is None:
            return
        now = self.clock()
        window = self._window(key, now)
        if limit is not None:
            window.limit = limit
        if response.status_code < 400:
            # Only ordinary answers: a throttle's reset can be "soon", not the window's end.
            last = self._last_reset.get(key)
            if last is not None and reset > last:
                # Windows are fixed and back to back, so two reset times are at least a length
                # apart; the shortest gap seen is the length (the vendor does not report it).
                window.length = min(window.length, reset - last)
            self._last_reset[key] = max(reset, last or reset)
        # Others of our requests are already on the wire and will be counted too.
        others = max(0, self.in_flight(key) - 1)
        local = remaining - others
        if not window.reported or reset > window.reset_at + 0.5:
            # The first report of this key (our default was a guess), or a later window than the
            # one we thought we were in: the vendor's view wins.
            if not window.reported and key in self._next_at:
                # The slot booked under the guess is re-booked at the reported rate.
                spacing = max(0.0, reset - now) / max(local, 1.0)
                self._next_at[key] = min(self._next_at[key], now + spacing)
            window.reported = True
            window.reset_at = reset
            window.remaining = local
        else:
            # Responses of one window arrive out of order; the lowest count is the latest.
            window.reset_at = min(window.reset_at, reset) if reset > now else window.reset_at
            window.remaining = min(window.remaining, local)
        if response.status_code == 429:
            window.remaining = 0
            window.reset_at = max(reset, now)


class RollingWindowPacer(Pacer):
    """Rolling-window pacing from max/remaining/interval headers, and a documented search limit.

    The general limit is a rolling window (max calls per interval milliseconds). Calls
    sent at an even rate ``margin`` below max/interval use all but ``margin`` of it (the margin
    only keeps the count below the limit off the edge; the cap below is what makes it safe). Other apps on
    the same account spend from the same window: what the remaining header shows used beyond our own
    calls in the window is theirs, and our rate leaves it to them. Requests to paths ending in
    ``search_path_suffix`` (when declared) have their own documented limit (``search_calls`` per
    ``search_window_seconds``) and often no headers.

    An even rate alone is not enough: a call that is slow to arrive (the first one on a new
    connection, a stalled event loop) lands closer to the next ones than it was sent. So the vendor
    is assumed to count a call until a window after its answer came back (the latest it can have
    arrived), and calls not yet answered as in the window; a send that would make that count exceed
    the limit waits for the oldest answered call to leave it.
    """

    SIGNAL_ROLES = ("max", "remaining", "interval_milliseconds", "daily_remaining")
    optional_signals = 1

    def __init__(
        self,
        vendor: str,
        *,
        max_per_interval: int = 100,
        interval_seconds: float = 10.0,
        search_calls: int = 4,
        search_window_seconds: float = 1.0,
        margin: float = 0.02,
        daily_reserve: int = 0,
        search_path_suffix: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(vendor, **kwargs)
        self.search_path_suffix = search_path_suffix.rstrip("/") if search_path_suffix else None
        self.max_per_interval = max_per_interval
        self.interval_seconds = interval_seconds
        self.search_calls = search_calls
        self.search_window_seconds = search_window_seconds
        self.margin = margin
        self.daily_reserve = daily_reserve
        self.others = 0.0
        self.daily_remaining: float | None = None
        self._sent = SendLog(interval_seconds)
        self._answered = {"default": SendLog(interval_seconds), "search": SendLog(search_window_seconds)}

    def key_for(self, method: str, url: str) -> str:
        suffix = self.search_path_suffix
        return "search" if suffix and urlsplit(url).path.rstrip("/").endswith(suffix) else "default"

    def limit(self, key: str) -> tuple[float, float]:
        """(calls, window seconds) available to us on ``key``."""
        if key == "search":
            return float(self.search_calls), self.search_window_seconds
        return max(1.0, self.max_per_interval - self.others), self.interval_seconds

    def spacing(self, key: str) -> float:
        """Seconds between two sends on ``key`` given what the vendor last reported."""
        if key == "search":
            return self.search_window_seconds * (1.0 + self.margin) / self.search_calls
        # The margin is of the whole window, so our calls and the other apps' together stay under it.
        ours = max(1.0, self.max_per_interval / (1.0 + self.margin) - self.others)
        return self.interval_seconds / ours

    def _schedule(self, key: str, now: float) -> float:
        if (
            self.daily_remaining is not None
            and self.daily_remaining - self.in_flight(key) <= self.daily_reserve
        ):
            raise QuotaExhausted(
                self.vendor,
                f"daily API calls remaining {int(self.daily_remaining)} at or below the reserve "
                f"of {self.daily_reserve}",
            )
        calls, _ = self.limit(key)
        unanswered = self.in_flight(key)  # booked or on the wire: in the window whenever they land
        send_at = self._answered[key].free_at(now, max(1, math.floor(calls) - unanswered))
        if key != "search":
            self._sent.add(send_at)
        self._next_at[key] = send_at + self.spacing(key)
        return send_at

    def observe(self, key: str, response: httpx.Response) -> None:
        now = self.clock()
        self._answered[key].add(now)
        headers = response.headers
        maximum = _float(headers.get(self.signals[0]))
        remaining = _float(headers.get(self.signals[1]))
        interval_ms = _float(headers.get(self.signals[2]))
        daily_header = self.signal("daily_remaining")
        daily_remaining = _float(headers.get(daily_header)) if daily_header else None
        if maximum:
            self.max_per_interval = int(maximum)
        if interval_ms:
            self.interval_seconds = interval_ms / 1000.0
            self._sent.window_seconds = self._answered["default"].window_seconds = self.interval_seconds
        if daily_remaining is not None:
            self.daily_remaining = daily_remaining
        if response.status_code == 429:
            # The window is full now: the next call waits a slot. Whose calls filled it, the next
            # ordinary answer tells (a 429's "0 remaining" also comes from bursts and outages).
            self._next_at[key] = max(self._next_at.get(key, now), now + self.spacing(key))
            return
        if remaining is None or key == "search":
            return
        sent = sent_at(response, now)
        ours = self._sent.count(sent - self.interval_seconds, sent)
        self.others = max(0.0, self.max_per_interval - remaining - ours)


def usage_percentages(
    headers: httpx.Headers,
    names: Iterable[str],
    usage_fields: Iterable[str] = (),
    regain_field: str | None = None,
) -> tuple[float, float]:
    """Highest usage percentage across the headers ``names``, and the regain time in seconds.

    A header holds JSON of one of two shapes: an object of percentages (``{"call_count": 12, ...}``),
    or an object of lists of entries (per business or account), each with the ``usage_fields``
    percentages and ``regain_field``, the minutes until a throttled caller regains access.
    """
    usage = 0.0
    regain_minutes = 0.0
    fields = tuple(usage_fields)
    for name in names:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            values = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(values, dict):
            continue
        for value in values.values():
            if isinstance(value, int | float):
                usage = max(usage, float(value))
            for entry in value if isinstance(value, list) else []:
                if not isinstance(entry, dict):
                    continue
                for field in fields:
                    number = entry.get(field)
                    if isinstance(number, int | float):
                        usage = max(usage, float(number))
                regain = entry.get(regain_field) if regain_field else None
                if isinstance(regain, int | float):
                    regain_minutes = max(regain_minutes, float(regain))
    return usage, regain_minutes * 60.0


def budget_from_usage(our_calls: int, usage: float, target_usage: float) -> float:
    """Our calls one window may hold so that usage settles at ``target_usage`` percent.

    The vendor reports usage as a whole percentage, floored, of an allowance it does not state. With
    ``our_calls`` in the window at ``usage`` %, the allowance is more than ``100 * our_calls /
    (usage + 1)``: planning on that lower bound errs on the safe side, by less as usage grows. When
    other callers share the allowance, the same formula gives us only what they leave, because the
    percentage counts their calls and ours while ``our_calls`` counts only ours.
    """
    return target_usage * our_calls / (usage + 1.0)


class UsagePercentPacer(Pacer):
    """Spend ``target_usage`` percent of a rolling-window allowance, reported as percentages, at
    an even rate.

    The signals are the headers carrying usage percentages (any number of them; see
    :func:`usage_percentages` for their shapes). The allowance is inferred from them
    (:func:`budget_from_usage`). Below ``pace_from`` percent calls go out freely (the budget still
    caps them); from there on they are spaced evenly to spend the budget over the window.
    ``window_seconds`` is the rolling window (an hour). A throttled answer or a regain time pauses
    every request, for at most a window, since a rolling window has forgotten every call after
    that long.
    """

    def __init__(
        self,
        vendor: str,
        *,
        window_seconds: float = 3600.0,
        target_usage: float = 98.0,
        pace_from: float = 50.0,
        usage_fields: Sequence[str] = (),
        regain_field: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(vendor, **kwargs)
        if not self.signals:
            raise ValueError(f"{vendor}: a UsagePercentPacer needs the headers carrying usage percentages")
        self.window_seconds = window_seconds
        self.target_usage = target_usage
        self.pace_from = pace_from
        self.usage_fields = tuple(usage_fields)
        self.regain_field = regain_field
        self.usage = 0.0
        self.budget: float | None = None
        self.paused_until = 0.0
        self._sent = SendLog(window_seconds)

    def usage_of(self, headers: httpx.Headers) -> tuple[float, float]:
        """(highest usage percentage, regain seconds) the declared headers report."""
        return usage_percentages(headers, self.signals, self.usage_fields, self.regain_field)

    def wait_hint(self, headers: httpx.Headers, now: float) -> float | None:
        _, regain_seconds = self.usage_of(headers)
        return regain_seconds if regain_seconds > 0 else None

    def spacing(self) -> float:
        if not self.budget or self.usage < self.pace_from:
            # Low usage bounds the allowance only loosely (one call at 0 % says "over 100"), and
            # pacing by that bound would crawl; there is room, so calls go out freely.
            return self.min_interval
        return max(self.min_interval, self.window_seconds / self.budget)

    def _schedule(self, key: str, now: float) -> float:
        send_at = max(now, self.paused_until)
        if self.budget is not None:
            # The budget caps our calls in any window, even when it just shrank below the rate.
            send_at = self._sent.free_at(send_at, max(1, math.floor(self.budget)))
        self._sent.add(send_at)
        self._next_at[key] = send_at + self.spacing()
        return send_at

    def observe(self, key: str, response: httpx.Response) -> None:
        if not any(name in response.headers for name in self.signals):
            return
        usage, regain_seconds = self.usage_of(response.headers)
        self.usage = usage
        now = self.clock()
        sent = sent_at(response, now)
        ours = self._sent.count(sent - self.window_seconds, sent)
        if ours > 0:
            self.budget = budget_from_usage(ours, usage, self.target_usage)
        if usage >= 100 or regain_seconds > 0:
            pause = min(regain_seconds or self.window_seconds, self.window_seconds)
            self.paused_until = max(self.paused_until, now + pause)
            logger.warning("%s usage at %.0f%%: pausing requests for %.0f s", self.vendor, usage, pause)


class DailyAllowancePacer(Pacer):
    """Keep the 24 h API budget's reserve for other integrations; stop the run before touching it.

    The signal is the header reporting the budget; ``usage_pattern`` finds the used and allowed
    counts in it (two groups, in that order; by default the first ``<used>/<allowed>``).
    """

    SIGNAL_ROLES = ("usage",)

    def __init__(
        self,
        vendor: str,
        *,
        reserve_fraction: float = 0.1,
        reserve_calls: int | None = None,
        usage_pattern: str = r"(\d+)/(\d+)",
        **kwargs,
    ) -> None:
        super().__init__(vendor, **kwargs)
        self.usage_pattern = re.compile(usage_pattern)
        if self.usage_pattern.groups != 2:
            raise ValueError(
                f"{vendor}: usage_pattern {usage_pattern!r} must have two groups (used, allowed)"
            )
        self.reserve_fraction = reserve_fraction
        self.reserve_calls = reserve_calls
        self.used: int | None = None
        self.allowed: int | None = None

    def reserve_size(self) -> int:
        if self.reserve_calls is not None:
            return self.reserve_calls
        return math.ceil((self.allowed or 0) * self.reserve_fraction)

    def _schedule(self, key: str, now: float) -> float:
        if self.used is not None and self.allowed is not None:
            left = self.allowed - self.used - self.in_flight(key)
            if left <= self.reserve_size():
                raise QuotaExhausted(
                    self.vendor,
                    f"daily API usage {self.used}/{self.allowed}; "
                    f"keeping {self.reserve_size()} calls in reserve",
                )
        return now

    def observe(self, key: str, response: httpx.Response) -> None:
        match = self.usage_pattern.search(response.headers.get(self.signals[0], ""))
        if match:
            self.used, self.allowed = int(match.group(1)), int(match.group(2))


class BodyQuotaPacer(Pacer):
    """Pace report calls from the quota object the response body returns (the signal: its key).

    The object reports tokens per hour and per day and concurrent requests, each as
    ``{"consumed", "remaining"}`` (``tokensPerHour``, ``tokensPerDay``, ``concurrentRequests``).
    """

    SIGNAL_ROLES = ("quota_key",)

    def __init__(
        self,
        vendor: str,
        *,
        max_concurrency: int | None = 10,
        tokens_per_request: float = 10.0,
        hour_seconds: float = 3600.0,
        hour_margin: float = 5.0,
        **kwargs,
    ) -> None:
        super().__init__(vendor, max_concurrency=max_concurrency, **kwargs)
        self.tokens_per_request = tokens_per_request
        self.hour_seconds = hour_seconds
        self.hour_margin = hour_margin
        self.hourly_remaining: float | None = None
        self._quota_hour: int | None = None  # the hour (a multiple of hour_seconds) it describes
        self.daily_remaining: float | None = None

    def _schedule(self, key: str, now: float) -> float:
        needed = self.tokens_per_request * (self.in_flight(key) + 1)
        if self.daily_remaining is not None and self.daily_remaining < needed:
            raise QuotaExhausted(
                self.vendor,
                f"property tokens per day remaining {int(self.daily_remaining)}, need {needed:.0f}",
            )
        if self._quota_hour is not None and math.floor(now / self.hour_seconds) > self._quota_hour:
            # The hour the last report described is over and its tokens are back; the next
            # response reports the new hour.
            self.hourly_remaining = self._quota_hour = None
        if (
            self.hourly_remaining is not None
            and self._quota_hour is not None
            and self.hourly_remaining < needed
        ):
            return (self._quota_hour + 1) * self.hour_seconds + self.hour_margin
        return now

    def observe(self, key: str, response: httpx.Response) -> None:
        quota_key = self.signals[0]
        if f'"{quota_key}"'.encode() not in response.content:
            # Only report bodies asked to return their quota carry it; skip parsing the rest.
            return
        try:
            body = response.json()
        except ValueError:
            return
        quota = body.get(quota_key) if isinstance(body, dict) else None
        if not isinstance(quota, dict):
            return
        hourly = quota.get("tokensPerHour") or {}
        daily = quota.get("tokensPerDay") or {}
        consumed = _float(str(hourly.get("consumed"))) if "consumed" in hourly else None
        if consumed:
            # Tokens per request grow with the report's size; plan with the latest cost seen.
            self.tokens_per_request = consumed
        if "remaining" in hourly:
            # Answers arrive out of order: within one hour the lowest count is the latest, and an
            # answer about an earlier hour than the last one seen is out of date.
            hour = math.floor(sent_at(response, self.clock()) / self.hour_seconds)
            remaining = float(hourly["remaining"])
            if self._quota_hour is None or hour > self._quota_hour:
                self._quota_hour, self.hourly_remaining = hour, remaining
            elif hour == self._quota_hour:
                self.hourly_remaining = min(self.hourly_remaining or remaining, remaining)
        if "remaining" in daily:
            self.daily_remaining = float(daily["remaining"])
        concurrent = quota.get("concurrentRequests") or {}
        if "remaining" in concurrent and "consumed" in concurrent:
            total = int(concurrent["remaining"]) + int(concurrent["consumed"])
            if total > 0:
                self.max_concurrency = total


# Pacers by the quota signal they read; a source's declaration names one (``Quota.pacer``).
PACER_KINDS: dict[str, type[Pacer]] = {
    "fixed_window": FixedWindowPacer,
    "rolling_window": RollingWindowPacer,
    "usage_percent": UsagePercentPacer,
    "daily_allowance": DailyAllowancePacer,
    "body_quota_tokens": BodyQuotaPacer,
    # No quota signal at all (a documented requests-per-second limit): spacing and concurrency only.
    "min_spacing": Pacer,
}


@dataclass
class _Budget:
    """A declared budget: its pacer kind, and the signals and settings its sources declared."""

    kind: str
    signals: tuple[str, ...]
    settings: dict[str, object]


# Client name -> budget name, and budget name -> what was declared (``declare_budget``).
_CLIENT_BUDGETS: dict[str, str] = {}
_BUDGETS: dict[str, _Budget] = {}
_PACERS: dict[str, Pacer] = {}


def build_pacer(kind: str, budget: str, signals: Sequence[str] = (), **settings) -> Pacer:
    """A new pacer of ``kind`` (a key of :data:`PACER_KINDS`) for ``budget``."""
    if kind not in PACER_KINDS:
        raise ValueError(f"pacer kind {kind!r} does not exist: use one of {', '.join(PACER_KINDS)}")
    return PACER_KINDS[kind](budget, signals=tuple(signals), **settings)


def declare_budget(
    client: str,
    budget: str,
    kind: str,
    signals: Sequence[str] = (),
    settings: Mapping[str, object] | None = None,
) -> None:
    """Say which budget the requests of ``client`` spend, which pacer reads its signals (the headers
    or body key the source declared, in the kind's ``SIGNAL_ROLES`` order) and with what settings.

    Clients naming one budget share one pacer (two sources on one app's hourly usage): it reads
    every signal any of them declared, and their settings must agree.
    """
    if kind not in PACER_KINDS:
        raise ValueError(f"pacer kind {kind!r} does not exist: use one of {', '.join(PACER_KINDS)}")
    PACER_KINDS[kind]._checked_signals(client, tuple(signals))
    settings = dict(settings or {})
    declared = _BUDGETS.get(budget)
    if declared is not None and (declared.kind, declared.settings) != (kind, settings):
        raise ValueError(
            f"{client} declares budget {budget!r} as {kind} {settings}, but it was declared as "
            f"{declared.kind} {declared.settings}: sources sharing a budget declare one pacer"
        )
    merged = tuple(dict.fromkeys((*(declared.signals if declared else ()), *signals)))
    if PACER_KINDS[kind].SIGNAL_ROLES and declared is not None and merged != declared.signals:
        raise ValueError(
            f"{client}: budget {budget!r} reads the signals {declared.signals}, not {tuple(signals)}"
        )
    _BUDGETS[budget] = _Budget(kind, merged, settings)
    _CLIENT_BUDGETS[client] = budget


def pacer_for(vendor: str, **settings) -> Pacer:
    """The process-wide pacer of ``vendor``'s budget, created on first use with the declared
    signals and settings, ``settings`` overriding them (an in-process sandbox's shorter windows).

    A client whose budget no source declared gets a plain :class:`Pacer` (spacing and concurrency
    only) under its own name.
    """
    budget = _CLIENT_BUDGETS.get(vendor, vendor)
    pacer = _PACERS.get(budget)
    if pacer is None:
        declared = _BUDGETS.get(budget)
        if declared is None:
            pacer = Pacer(budget, **settings)
        else:
            pacer = build_pacer(declared.kind, budget, declared.signals, **{**declared.settings, **settings})
        _PACERS[budget] = pacer
    return pacer


def reset_pacers() -> None:
    """Forget all process-wide pacers (tests, or a new run that must not inherit stale signals)."""
    _PACERS.clear()
