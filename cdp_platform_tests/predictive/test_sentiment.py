"""VADER sentiment of social interactions, per client, and its accuracy against the sandbox labels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cdp_platform.predictive import sentiment
from cdp_platform.predictive.errors import InvalidInputError
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData

# The interaction streams and where each keeps its text.
TEXT_FIELD = {
    "facebook/post_comments": "message",
    "instagram/media_comments": "text",
    "twitter/mentions": "text",
}


@pytest.fixture(scope="module")
def interactions() -> pl.DataFrame:
    """Every social interaction of a 2,000-person sandbox with its author and true label."""
    data = SandboxData(SandboxConfig(persons=2000, seed=7))
    frames = []
    for stream, field in TEXT_FIELD.items():
        positions = list(data.all_positions(stream))
        frames.append(
            pl.DataFrame(
                {
                    "stream": stream,
                    "customer_id": data.person_index(stream, positions),
                    "text": [data.record(stream, p)[field] for p in positions],
                    "label": data.sentiment(stream, positions),
                }
            )
        )
    return pl.concat(frames)


def test_vader_recovers_the_sandbox_labels(interactions: pl.DataFrame) -> None:
    scored = sentiment.score_interactions(interactions)
    assert scored.height == interactions.height
    for stream, group in scored.group_by("stream"):
        accuracy = sentiment.sentiment_accuracy(group["sentiment"], group["label"])
        assert accuracy.accuracy > 0.9, (stream, accuracy)
    overall = sentiment.sentiment_accuracy(scored["sentiment_compound"].to_numpy(), scored["label"])
    assert overall.n == interactions.height
    assert overall.accuracy == sentiment.sentiment_accuracy(scored["sentiment"], scored["label"]).accuracy
    # Every label occurs, and each is found far more often than chance.
    assert min(overall.recall.values()) > 0.8


def test_scores_are_per_text_and_nulls_stay_null() -> None:
    frame = pl.DataFrame(
        {"id": [1, 2, 3, 4], "text": ["I love it, great!", None, "I love it, great!", "This is awful."]}
    )
    scored = sentiment.score_interactions(frame)
    assert scored.columns == ["id", "text", *sentiment.SCORE_COLUMNS]
    assert scored["id"].to_list() == [1, 2, 3, 4]
    assert scored["sentiment"].to_list() == ["positive", None, "positive", "negative"]
    assert scored["sentiment_compound"][0] == scored["sentiment_compound"][2] > 0.5
    assert sentiment.analyzer() is sentiment.analyzer()


def test_clients_get_counts_shares_and_net_sentiment() -> None:
    scored = pl.DataFrame(
        {
            "customer_id": [7, 7, 7, 9, None],
            "sentiment_compound": [0.8, -0.6, 0.7, 0.0, 0.9],
            "sentiment": ["positive", "negative", "positive", "neutral", "positive"],
        }
    )
    table = sentiment.sentiment_by_client(scored)
    assert table["customer_id"].to_list() == [7, 9]
    row = table.row(0, named=True)
    assert row["interactions"] == 3
    assert row["mean_sentiment_compound"] == pytest.approx(0.3)
    assert row["net_sentiment"] == pytest.approx(1 / 3)
    assert table.row(1, named=True)["neutral_share"] == 1.0


def test_accuracy_thresholds_and_confusion() -> None:
    result = sentiment.sentiment_accuracy(
        np.array([0.05, -0.05, 0.049, -0.2]), ["positive", "negative", "positive", "neutral"]
    )
    assert result.accuracy == 0.5
    assert result.confusion["positive"] == {"positive": 1, "negative": 0, "neutral": 1}
    assert result.confusion["neutral"]["negative"] == 1
    assert result.precision["negative"] == 0.5 and result.recall["negative"] == 1.0
    assert result.to_metadata()["n"] == 4


@pytest.mark.parametrize(
    ("predicted", "labels", "message"),
    [
        (["positive"], ["positive", "neutral"], "1 predictions for 2"),
        ([], [], "no labels"),
        (["happy"], ["positive"], "happy"),
    ],
)
def test_accuracy_refuses_bad_inputs(predicted: list[str], labels: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sentiment.sentiment_accuracy(predicted, labels)
