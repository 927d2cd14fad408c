"""The receiver's counters: per vendor, events received, duplicates dropped, and refusals by reason.

They are kept in process and shipped as *deltas* over the queue's ``stats`` queue (see
:mod:`cdp_platform.webhooks.queue`), so several receiver processes add up and the landing run
reports them as asset metadata whatever the broker. ``/metrics`` on the receiver shows the totals
since it started.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[tuple[str, str]] = Counter()
        self._unsent: Counter[tuple[str, str]] = Counter()

    def add(self, source: str, metric: str, count: int = 1) -> None:
        """``metric`` is ``received``, ``duplicates`` or ``refused:<reason>``."""
        with self._lock:
            self._totals[(source, metric)] += count
            self._unsent[(source, metric)] += count

    def totals(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return _nested(self._totals)

    def take_delta(self) -> dict[str, Any]:
        """What was counted since the last call, as ``{source: {metric: n}}``; then forget it."""
        with self._lock:
            delta = _nested(self._unsent)
            self._unsent.clear()
        return delta

    def give_back(self, delta: dict[str, dict[str, int]]) -> None:
        """A delta that could not be shipped is counted again for the next attempt."""
        with self._lock:
            for source, metrics in delta.items():
                for metric, count in metrics.items():
                    self._unsent[(source, metric)] += count


def _nested(counter: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (source, metric), count in sorted(counter.items()):
        if count:
            nested.setdefault(source, {})[metric] = count
    return nested
