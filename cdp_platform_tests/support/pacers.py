"""A shipped source's pacer, built as its declaration says (kind, signals, settings), for tests that
drive one pacer directly rather than through the process-wide ``pacer_for``."""

from __future__ import annotations

from cdp_platform.http.pacing import Pacer, build_pacer
from cdp_platform.sources.registry import declaration


def declared_pacer(source: str, **overrides) -> Pacer:
    """A new pacer of ``source``'s declared kind; ``overrides`` replace declared settings (a fake
    clock, a shorter window)."""
    declared = declaration(source)
    quota = declared.quota
    return build_pacer(quota.pacer, declared.pacing_budget, quota.signals, **{**quota.settings, **overrides})
