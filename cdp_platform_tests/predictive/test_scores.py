"""score_clients: one row per customer with churn, propensity and CLV, from fits it reports."""

from __future__ import annotations

import datetime

import numpy as np
import polars as pl
import pytest

from cdp_platform.predictive.errors import InsufficientDataError
from cdp_platform.predictive.scores import SCORE_COLUMNS, ClientScores, ScoringSettings, score_clients


@pytest.fixture(scope="module")
def scores(simulated_20k) -> ClientScores:
    return score_clients(simulated_20k.transactions, simulated_20k.end)


def test_every_customer_is_scored_consistently(scores: ClientScores, summary_20k: pl.DataFrame) -> None:
    table = scores.table
    assert table.columns == list(SCORE_COLUMNS)
    assert table.height == summary_20k.height == table["customer_id"].n_unique()
    assert table.select(pl.all().is_null().any()).row(0) == (False,) * len(SCORE_COLUMNS)
    np.testing.assert_allclose(table["churn_probability"], 1 - table["p_alive"].to_numpy())
    assert table["p_alive"].is_between(0, 1).all()
    assert (table["expected_purchases"] >= 0).all() and (table["clv"] >= 0).all()
    # Customers who have surely churned (many purchases, long silence) score below active ones.
    heavy = table.filter(pl.col("frequency") >= 5)
    lapsed = heavy.filter(pl.col("T") - pl.col("recency") > 300)
    active = heavy.filter(pl.col("T") - pl.col("recency") < 30)
    assert lapsed["churn_probability"].mean() > 0.9 > 0.2 > active["churn_probability"].mean()  # type: ignore[operator]
    assert lapsed["clv"].mean() < active["clv"].mean()  # type: ignore[operator]


def test_propensity_predicts_the_next_ninety_days(simulated_20k) -> None:
    # Score as of 90 days before the end; compare with the purchases that then happened.
    cutoff = simulated_20k.end - datetime.timedelta(days=90)
    scores = score_clients(simulated_20k.transactions, cutoff).table
    later = (
        simulated_20k.transactions.filter(pl.col("date") > cutoff)
        .group_by("customer_id")
        .agg(pl.col("date").n_unique().alias("actual"))
    )
    joined = scores.join(later, on="customer_id", how="left").with_columns(pl.col("actual").fill_null(0))
    assert joined["expected_purchases"].sum() == pytest.approx(joined["actual"].sum(), rel=0.05)
    assert np.corrcoef(joined["expected_purchases"], joined["actual"])[0, 1] > 0.5


def test_settings_set_the_horizons(simulated_20k, scores: ClientScores) -> None:
    settings = ScoringSettings(propensity_days=30, clv_months=6, annual_discount_rate=0.05)
    shorter = score_clients(simulated_20k.transactions, simulated_20k.end, settings)
    assert shorter.settings.to_metadata() == {
        "propensity_days": 30,
        "clv_months": 6,
        "annual_discount_rate": 0.05,
    }
    assert (shorter.table["expected_purchases"] < scores.table["expected_purchases"]).all()
    assert (shorter.table["clv"] < scores.table["clv"]).all()
    # Same data, same fits: only the horizons differ.
    assert shorter.bgnbd.params == scores.bgnbd.params


def test_a_summary_gives_the_same_scores_and_rows_without_ids_are_numbered(
    scores: ClientScores, summary_20k: pl.DataFrame
) -> None:
    table = score_clients(summary_20k.drop("customer_id", "first_day")).table
    assert table["customer_id"].to_list()[:3] == [0, 1, 2]
    np.testing.assert_allclose(table["clv"], scores.table["clv"], rtol=1e-8)


def test_too_few_customers_fail_with_the_reason(simulated_20k) -> None:
    few = simulated_20k.transactions.filter(pl.col("customer_id") < 40)
    with pytest.raises(InsufficientDataError, match="40 customers"):
        score_clients(few, simulated_20k.end)
