"""Calibration/holdout on the sandbox's purchases: the model fitted on year one predicts year two."""

from __future__ import annotations

import datetime
import json

import numpy as np
import polars as pl
import pytest

from cdp_platform.predictive.bgnbd import fit_bgnbd
from cdp_platform.predictive.errors import InvalidInputError
from cdp_platform.predictive.gamma_gamma import fit_gamma_gamma
from cdp_platform.predictive.holdout import HoldoutEvaluation, evaluate_holdout, lift_table
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData

CONFIG = SandboxConfig(persons=20_000, seed=7)


@pytest.fixture(scope="module")
def sandbox() -> SandboxData:
    return SandboxData(CONFIG)


@pytest.fixture(scope="module")
def purchases(sandbox: SandboxData) -> pl.DataFrame:
    """The sandbox's purchases as transactions (person index as customer id, exact times)."""
    history = sandbox.purchases
    return pl.DataFrame(
        {"customer_id": history.person, "date": history.time_ms, "amount": history.amount_cents / 100}
    ).with_columns(pl.col("date").cast(pl.Datetime("ms", "UTC")))


@pytest.fixture(scope="module")
def evaluation(purchases: pl.DataFrame) -> HoldoutEvaluation:
    end = CONFIG.history_end
    return evaluate_holdout(purchases, end - datetime.timedelta(days=365), end)


def test_fits_on_the_sandbox_land_near_its_known_parameters(
    sandbox: SandboxData, purchases: pl.DataFrame
) -> None:
    truth = sandbox.purchase_parameters.to_dict()
    for fit in (fit_bgnbd(purchases, CONFIG.history_end), fit_gamma_gamma(purchases, CONFIG.history_end)):
        for name, value in fit.params.items():
            assert abs(value - truth[name]) < 3 * fit.standard_errors[name], (name, value, truth[name])


def test_the_top_clv_decile_spends_more_in_the_holdout_than_any_other(evaluation: HoldoutEvaluation) -> None:
    lift = evaluation.lift
    assert lift["decile"].to_list() == list(range(1, 11))
    top = lift.filter(pl.col("decile") == 10)["holdout_spend"].item()
    assert top > lift.filter(pl.col("decile") < 10)["holdout_spend"].max()
    assert evaluation.metrics["top_decile_lift"] > 2.5
    # Deciles of equal size, and together they account for all holdout spend.
    assert lift["customers"].max() - lift["customers"].min() <= 1
    assert lift["share_of_holdout_spend"].sum() == pytest.approx(1.0)


def test_holdout_purchases_match_the_prediction_by_calibration_frequency(
    evaluation: HoldoutEvaluation,
) -> None:
    table = evaluation.by_frequency
    assert table["frequency"].to_list() == list(range(8))
    assert table["customers"].sum() == evaluation.customers.height
    big = table.filter(pl.col("customers") >= 200)
    np.testing.assert_allclose(
        big["expected_mean_holdout_purchases"], big["actual_mean_holdout_purchases"], rtol=0.15
    )
    assert abs(evaluation.metrics["holdout_purchases_relative_error"]) < 0.05
    assert abs(evaluation.metrics["holdout_spend_relative_error"]) < 0.08


def test_cumulative_repeat_purchases_track_the_model_through_both_periods(
    evaluation: HoldoutEvaluation,
) -> None:
    curve = evaluation.cumulative
    assert curve["period"].unique().sort().to_list() == ["calibration", "holdout"]
    actual = curve["actual_cumulative_repeat_purchases"].to_numpy()
    expected = curve["expected_cumulative_repeat_purchases"].to_numpy()
    assert np.all(np.diff(actual) >= 0) and np.all(np.diff(expected) >= 0)
    late = actual > 1000
    np.testing.assert_allclose(expected[late], actual[late], rtol=0.06)
    assert (
        actual[-1]
        == evaluation.customers.select(pl.col("frequency").sum()).item()
        + evaluation.metrics["actual_holdout_purchases"]
    )


def test_metadata_is_json(evaluation: HoldoutEvaluation) -> None:
    metadata = json.loads(json.dumps(evaluation.to_metadata()))
    assert set(metadata) == {
        "calibration_bgnbd",
        "calibration_gamma_gamma",
        "metrics",
        "by_frequency",
        "cumulative",
        "lift",
    }
    assert len(metadata["lift"]) == 10


def test_lift_table_splits_ties_into_equal_deciles() -> None:
    table = lift_table(np.zeros(25), np.arange(25.0))
    assert table["customers"].to_list() == [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]
    with pytest.raises(InvalidInputError, match="at least 10"):
        lift_table(np.ones(5), np.ones(5))


def test_the_holdout_must_follow_the_calibration(purchases: pl.DataFrame) -> None:
    end = CONFIG.history_end
    with pytest.raises(InvalidInputError, match="after calibration_end"):
        evaluate_holdout(purchases, end, end - datetime.timedelta(days=1))
