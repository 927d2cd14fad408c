"""Where ``interaction_sentiment`` gets true labels to grade itself against: a resource given from outside.

Only an emulator knows what its texts mean. The asset asks this resource; the default has no labels
(a real vendor: the metadata says so instead of reporting a number), and the local default's sandbox
wiring (:mod:`cdp_platform.sandbox.wiring`) gives a subclass with the labels of the texts it served.
Keeping the labels behind a resource is what lets a production code location run the same asset
without ever importing the emulator.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

SENTIMENT_TRUTH_KEY = "sentiment_truth"
LABELS_SCHEMA = {"interaction_id": pl.String, "true_label": pl.String}


class SentimentTruth(dg.ConfigurableResource):
    """True sentiment labels of interactions, where they exist. This base has none."""

    def describe(self) -> str:
        """What the labels are, as the ``sentiment_labels`` metadata shows it."""
        return "no labels: no social vendor is the bundled sandbox"

    def labels(self) -> pl.DataFrame | None:
        """``interaction_id`` (as int_interactions_unioned names it) and ``true_label`` of every
        labelled text (:data:`LABELS_SCHEMA`); None: no labels exist."""
        return None
