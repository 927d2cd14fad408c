"""True sentiment labels, where they exist: only the bundled sandbox knows what its texts mean.

The sandbox decides each text's label before writing it (:mod:`cdp_platform.sandbox.texts`), so
when a social vendor is served by the in-process sandbox, its labels can be recomputed here for
exactly the texts it served, and ``interaction_sentiment`` reports its accuracy against them. A
real vendor has no labels: the asset then says so instead of reporting a number.

The labels are those of the sandbox configured in the settings (persons, seed, today, span): the
same world the raw assets were ingested from. Texts the sandbox does not know (ingested from an
earlier configuration) are counted as unlabelled, never guessed.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.settings import Settings

# The person-written text streams of the timeline (int_interactions_unioned), by vendor.
TEXT_STREAMS: dict[str, tuple[str, ...]] = {
    "twitter": ("twitter/mentions",),
    "facebook": ("facebook/post_comments",),
    "instagram": ("instagram/media_comments",),
}
LABELS_SCHEMA = {"interaction_id": pl.String, "true_label": pl.String}


@dataclass(frozen=True)
class SandboxSentimentLabels:
    """The labels of the in-process sandbox's texts, for the vendors it serves."""

    persons: int
    seed: int
    today: datetime.date | None
    span_days: int
    streams: tuple[str, ...]

    def describe(self) -> str:
        day = self.today.isoformat() if self.today else "today"
        return (
            f"sandbox labels (persons={self.persons}, seed={self.seed}, today={day}, "
            f"span_days={self.span_days}; {', '.join(self.streams)})"
        )

    def labels(self) -> pl.DataFrame:
        """``interaction_id`` (as int_interactions_unioned names it) and ``true_label`` of every text."""
        from cdp_platform.sources.sandbox_link import sandbox_config

        config = sandbox_config(self.persons, self.seed, self.today, self.span_days)
        return _labels(config, self.streams)


@functools.lru_cache(maxsize=2)
def _labels(config: SandboxConfig, streams: tuple[str, ...]) -> pl.DataFrame:
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(config)
    frames = []
    for stream in streams:
        positions = data.all_positions(stream)
        prefix = stream.replace("/", ":") + ":"
        frames.append(
            pl.DataFrame(
                {
                    "interaction_id": [prefix + rid for rid in data.record_ids(stream, positions)],
                    "true_label": data.sentiment(stream, positions),
                },
                schema=LABELS_SCHEMA,
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=LABELS_SCHEMA)


def sentiment_labels_for(settings: Settings) -> SandboxSentimentLabels | None:
    """The sandbox's labels for the social vendors it serves in process; None when it serves none."""
    streams = tuple(
        stream
        for vendor, vendor_streams in TEXT_STREAMS.items()
        if settings.vendors[vendor].uses_sandbox
        for stream in vendor_streams
    )
    if not streams:
        return None
    sandbox = settings.sandbox
    return SandboxSentimentLabels(sandbox.persons, sandbox.seed, sandbox.today, sandbox.span_days, streams)
