"""True sentiment labels, where they exist: only the bundled sandbox knows what its texts mean.

The sandbox decides each text's label before writing it (:mod:`cdp_platform.sandbox.texts`), so
when a social vendor is served by the in-process sandbox, its labels can be recomputed here for
exactly the texts it served, and ``interaction_sentiment`` reports its accuracy against them (the
local default gives them to the asset as its ``sentiment_truth`` resource, see
:mod:`cdp_platform.sandbox.wiring`). A real vendor has no labels: the asset then says so instead of
reporting a number.

The labels are those of the sandbox configured in the settings (persons, seed, today, span): the
same world the raw assets were ingested from. Texts the sandbox does not know (ingested from an
earlier configuration) are counted as unlabelled, never guessed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import polars as pl

from cdp_platform.predictive.grading import LABELS_SCHEMA, SentimentTruth
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.plugins import source_mounts
from cdp_platform.sandbox.records import SandboxData


class SandboxSentimentLabels(SentimentTruth):
    """The labels of the in-process sandbox's texts, for the social vendors it serves (``streams``)."""

    server: InProcessSandbox
    streams: list[str]

    def describe(self) -> str:
        server = self.server
        return (
            f"sandbox labels (persons={server.persons}, seed={server.seed}, today={server.today or 'today'}, "
            f"span_days={server.span_days}; {', '.join(self.streams)})"
        )

    def labels(self) -> pl.DataFrame:
        """``interaction_id`` (as int_interactions_unioned names it) and ``true_label`` of every text."""
        return _labels(self.server.config(), tuple(self.streams))


@functools.lru_cache(maxsize=2)
def _labels(config: SandboxConfig, streams: tuple[str, ...]) -> pl.DataFrame:
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


def served_text_streams(sandbox_vendors: Iterable[str]) -> list[str]:
    """The person-written text streams of the timeline (int_interactions_unioned) of the sources among
    ``sandbox_vendors`` (those served in process), as their mounts declare them (``Mount.person_texts``),
    in the vendors' order."""
    served = set(sandbox_vendors)
    return [stream for source, mount in source_mounts().items() if source in served for stream in mount.person_texts]
