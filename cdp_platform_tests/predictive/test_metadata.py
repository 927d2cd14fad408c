"""The metadata a scoring asset attaches: flat scalars by stable keys, plot data as rows, all JSON."""

from __future__ import annotations

import datetime
import json

import pytest

from cdp_platform.predictive.holdout import evaluate_holdout
from cdp_platform.predictive.metadata import client_scores_metadata
from cdp_platform.predictive.scores import score_clients
from cdp_platform.predictive.sentiment import sentiment_accuracy


def test_scores_holdout_and_sentiment_become_one_json_mapping(simulated_20k) -> None:
    scores = score_clients(simulated_20k.transactions, simulated_20k.end)
    holdout = evaluate_holdout(
        simulated_20k.transactions, simulated_20k.end - datetime.timedelta(days=180), simulated_20k.end
    )
    accuracy = sentiment_accuracy(["positive", "neutral"], ["positive", "negative"])
    metadata = json.loads(json.dumps(client_scores_metadata(scores, holdout, accuracy)))

    for name in ("r", "alpha", "a", "b"):
        assert metadata[f"bgnbd_{name}"] == pytest.approx(scores.bgnbd.params[name])
        assert metadata[f"bgnbd_{name}_standard_error"] > 0
    for name in ("p", "q", "gamma"):
        assert metadata[f"gamma_gamma_{name}"] == pytest.approx(scores.gamma_gamma.params[name])
    assert metadata["bgnbd_log_likelihood"] == pytest.approx(scores.bgnbd.log_likelihood)
    assert metadata["propensity_days"] == 90.0 and metadata["clv_months"] == 12
    assert metadata["holdout_days"] == pytest.approx(180.0)
    assert [row["decile"] for row in metadata["lift_table"]] == list(range(1, 11))
    assert metadata["calibration_cumulative"][-1]["period"] == "holdout"
    assert metadata["sentiment_accuracy"] == 0.5
    # The holdout fit saw less data than the full one: its parameters are reported separately.
    assert metadata["calibration_bgnbd"] != scores.bgnbd.params


def test_scores_alone_need_no_holdout_or_sentiment(simulated_20k) -> None:
    metadata = client_scores_metadata(score_clients(simulated_20k.transactions, simulated_20k.end))
    assert "lift_table" not in metadata and "sentiment_accuracy" not in metadata
    assert metadata["customers"] == 20_000
