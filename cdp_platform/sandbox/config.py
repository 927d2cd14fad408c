"""What a sandbox is: its size, its seed, its clock, and (declared by the vendor modules) its streams.

The data half (population, records, truth) and the HTTP half (app, vendors, CLI) both read this one
frozen object, so a sandbox served on a port and the ground truth written next to it describe the
same synthetic world byte for byte.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

# A fixed default "today" (not the wall clock) so two builds on different days produce the same bytes.
DEFAULT_TODAY = datetime.date(2026, 11, 26)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that determines the sandbox's data: the same config always yields the same records."""

    persons: int = 2000
    seed: int = 7
    # The sandbox's "now" is the end of this UTC day; nothing is created or changed after it.
    today: datetime.date = DEFAULT_TODAY
    # History: records are created and changed over [today - span_days, today].
    span_days: int = 730

    def __post_init__(self) -> None:
        if self.persons < 1:
            raise ValueError(f"persons must be at least 1, got {self.persons}")
        if self.span_days < 1:
            raise ValueError(f"span_days must be at least 1, got {self.span_days}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be in [0, 2**63), got {self.seed}")

    @property
    def history_start(self) -> datetime.datetime:
        """First instant of the history (aware UTC): midnight starting day ``today - span_days``."""
        first_day = self.today - datetime.timedelta(days=self.span_days)
        return datetime.datetime.combine(first_day, datetime.time(), tzinfo=datetime.UTC)

    @property
    def history_end(self) -> datetime.datetime:
        """The sandbox's "now" (aware UTC): the end of ``today``, exclusive."""
        return datetime.datetime.combine(
            self.today + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
        )


def __getattr__(name: str) -> object:
    # ``STREAMS`` (every stream the sandbox serves, in order) and ``IMMUTABLE_STREAMS`` (those whose
    # records never change after creation: their modified time is their created time) are what the
    # vendor modules declare (cdp_platform.sandbox.plugins), read on use: those modules import this one.
    from cdp_platform.sandbox import plugins

    if name == "STREAMS":
        return plugins.streams()
    if name == "IMMUTABLE_STREAMS":
        return frozenset(s for vendor in plugins.emulated_vendors() for s in vendor.immutable_streams)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
