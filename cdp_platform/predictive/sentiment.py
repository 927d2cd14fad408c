"""Sentiment of social interactions (posts and comments people write) with VADER, per client.

VADER (Hutto & Gilbert 2014) is a lexicon and rule model: no training, no download, its lexicon ships
inside the ``vaderSentiment`` package. Building the analyzer reads that lexicon, so it is built once
per process (:func:`analyzer`). Social streams repeat texts a lot (templates, copy-pasted complaints),
so each distinct text is scored once.

Labels use the thresholds VADER's authors recommend on the compound score: >= 0.05 positive,
<= -0.05 negative, neutral in between.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cdp_platform.predictive.errors import InvalidInputError

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
LABELS = ("positive", "negative", "neutral")
SCORE_COLUMNS = (
    "sentiment_compound",
    "sentiment_positive",
    "sentiment_negative",
    "sentiment_neutral",
    "sentiment",
)


@functools.cache
def analyzer() -> SentimentIntensityAnalyzer:
    """The process's one VADER analyzer (loading the lexicon is the expensive part)."""
    return SentimentIntensityAnalyzer()


def label_compound(compound: np.ndarray | Sequence[float]) -> np.ndarray:
    """Compound scores to ``positive`` / ``negative`` / ``neutral``."""
    values = np.asarray(compound, dtype=float)
    return np.where(
        values >= POSITIVE_THRESHOLD,
        "positive",
        np.where(values <= NEGATIVE_THRESHOLD, "negative", "neutral"),
    )


def score_texts(texts: pl.Series) -> pl.DataFrame:
    """VADER scores of each text, aligned with ``texts``; a null text gets null scores."""
    distinct = texts.drop_nulls().unique()
    model = analyzer()
    scores = [model.polarity_scores(text) for text in distinct.to_list()]
    compound = np.array([score["compound"] for score in scores], dtype=float)
    lookup = pl.DataFrame(
        {
            "_text": distinct,
            "sentiment_compound": compound,
            "sentiment_positive": np.array([score["pos"] for score in scores], dtype=float),
            "sentiment_negative": np.array([score["neg"] for score in scores], dtype=float),
            "sentiment_neutral": np.array([score["neu"] for score in scores], dtype=float),
            "sentiment": label_compound(compound) if compound.size else np.array([], dtype=str),
        },
        schema_overrides={"_text": pl.String, "sentiment": pl.String},
    )
    return (
        pl.DataFrame({"_text": texts.cast(pl.String)})
        .join(lookup, on="_text", how="left", maintain_order="left")
        .drop("_text")
    )


def score_interactions(interactions: pl.DataFrame, text_column: str = "text") -> pl.DataFrame:
    """The interactions with the :data:`SCORE_COLUMNS` added: what the per-interaction asset stores."""
    if text_column not in interactions.columns:
        raise InvalidInputError(f"interactions have no {text_column!r} column")
    return pl.concat([interactions, score_texts(interactions[text_column])], how="horizontal")


def sentiment_by_client(scored: pl.DataFrame, client_column: str = "customer_id") -> pl.DataFrame:
    """Per client: interactions scored, mean compound, shares of each label and the net sentiment
    (positive share minus negative share), from :func:`score_interactions` output."""
    if client_column not in scored.columns:
        raise InvalidInputError(f"scored interactions have no {client_column!r} column")
    return (
        scored.filter(pl.col(client_column).is_not_null() & pl.col("sentiment").is_not_null())
        .group_by(client_column)
        .agg(
            pl.len().alias("interactions"),
            pl.col("sentiment_compound").mean().alias("mean_sentiment_compound"),
            (pl.col("sentiment") == "positive").mean().alias("positive_share"),
            (pl.col("sentiment") == "negative").mean().alias("negative_share"),
            (pl.col("sentiment") == "neutral").mean().alias("neutral_share"),
        )
        .with_columns((pl.col("positive_share") - pl.col("negative_share")).alias("net_sentiment"))
        .sort(client_column)
    )


@dataclass(frozen=True)
class SentimentAccuracy:
    """Agreement of predicted with true labels: overall, per label, and the confusion counts."""

    accuracy: float
    n: int
    precision: dict[str, float]
    recall: dict[str, float]
    confusion: dict[str, dict[str, int]]

    def to_metadata(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "precision": self.precision,
            "recall": self.recall,
            "confusion (true -> predicted)": self.confusion,
        }


def sentiment_accuracy(
    predicted: Sequence[str] | Sequence[float] | np.ndarray | pl.Series,
    labels: Sequence[str] | np.ndarray | pl.Series,
) -> SentimentAccuracy:
    """Compare predicted labels (or compound scores, labelled with the thresholds) with true labels."""
    guess = np.asarray(predicted)
    if guess.dtype.kind in "fiu":
        guess = label_compound(guess)
    truth = np.asarray(labels).astype(str)
    guess = guess.astype(str)
    if guess.shape != truth.shape:
        raise InvalidInputError(f"{guess.size} predictions for {truth.size} labels")
    if truth.size == 0:
        raise InvalidInputError("no labels to compare with")
    unknown = set(np.unique(np.concatenate((guess, truth)))) - set(LABELS)
    if unknown:
        raise InvalidInputError(f"labels must be among {LABELS}; found {sorted(unknown)}")
    confusion = {
        true: {pred: int(np.count_nonzero((truth == true) & (guess == pred))) for pred in LABELS}
        for true in LABELS
    }
    precision: dict[str, float] = {}
    recall: dict[str, float] = {}
    for label in LABELS:
        hits = confusion[label][label]
        predicted_as = sum(confusion[true][label] for true in LABELS)
        actual = sum(confusion[label].values())
        precision[label] = hits / predicted_as if predicted_as else float("nan")
        recall[label] = hits / actual if actual else float("nan")
    return SentimentAccuracy(
        accuracy=float(np.mean(guess == truth)),
        n=int(truth.size),
        precision=precision,
        recall=recall,
        confusion=confusion,
    )
