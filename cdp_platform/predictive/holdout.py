"""Is the model right on data it has not seen? Fit on a calibration period, compare with the holdout.

Purchases up to ``calibration_end`` fit BG/NBD and Gamma-Gamma; the customers known at that moment are
then followed to ``observation_end``. Three views, the ones Fader, Hardie & Lee (2005) plot:

- ``by_frequency``: mean holdout purchases, actual and expected (conditional expectation), by the
  customers' calibration frequency (the last bin collects everything from ``max_frequency`` up);
- ``cumulative``: repeat purchases of the calibration customers summed over time across both periods,
  actual and expected (the unconditional E[X(t)] summed over the cohorts of first purchase);
- ``lift``: realized holdout spend by decile of the CLV predicted at ``calibration_end`` (decile 10 is
  the highest predicted value).

``metrics`` condenses them into the errors an asset reports. Customers whose first purchase falls in
the holdout are not part of any of this: the calibration fit never saw them.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp_platform.predictive.bgnbd import BGNBDFit
from cdp_platform.predictive.errors import InvalidInputError
from cdp_platform.predictive.gamma_gamma import GammaGammaFit
from cdp_platform.predictive.scores import DEFAULT_SETTINGS, ScoringSettings, fit_models, score_summary
from cdp_platform.predictive.summary import epoch_days, purchase_days, summarize_purchases

DECILES = 10


@dataclass(frozen=True)
class HoldoutEvaluation:
    """The calibration fits, the customer-level comparison and the three plot tables."""

    bgnbd: BGNBDFit
    gamma_gamma: GammaGammaFit
    customers: pl.DataFrame
    by_frequency: pl.DataFrame
    cumulative: pl.DataFrame
    lift: pl.DataFrame
    metrics: dict[str, float]

    def to_metadata(self) -> dict[str, object]:
        """JSON-ready: fits, error metrics and the plot data as lists of rows."""
        return {
            "calibration_bgnbd": self.bgnbd.to_metadata(),
            "calibration_gamma_gamma": self.gamma_gamma.to_metadata(),
            "metrics": self.metrics,
            "by_frequency": self.by_frequency.to_dicts(),
            "cumulative": self.cumulative.to_dicts(),
            "lift": self.lift.to_dicts(),
        }


def evaluate_holdout(
    transactions: pl.DataFrame,
    calibration_end: datetime.date | datetime.datetime,
    observation_end: datetime.date | datetime.datetime,
    settings: ScoringSettings = DEFAULT_SETTINGS,
    *,
    max_frequency: int = 7,
    step_days: float = 7.0,
) -> HoldoutEvaluation:
    """Fit on purchases up to ``calibration_end``, then compare with (``calibration_end``,
    ``observation_end``]; ``step_days`` spaces the points of the cumulative curve."""
    calibration_day, end_day = epoch_days(calibration_end), epoch_days(observation_end)
    if not end_day > calibration_day:
        raise InvalidInputError("observation_end must come after calibration_end")
    purchases = purchase_days(transactions)
    summary = summarize_purchases(purchases, calibration_day)
    if summary.height == 0:
        raise InvalidInputError("no customer made a purchase by calibration_end")
    bgnbd, gamma_gamma = fit_models(summary, settings)
    holdout_days = end_day - calibration_day

    in_holdout = purchases.filter((pl.col("day") > calibration_day) & (pl.col("day") <= end_day))
    realized = in_holdout.group_by("customer_id").agg(
        pl.len().cast(pl.Float64).alias("holdout_purchases"), pl.col("amount").sum().alias("holdout_spend")
    )
    scored = score_summary(summary, bgnbd, gamma_gamma, settings)
    customers = (
        scored.with_columns(
            pl.Series("expected_holdout_purchases", bgnbd.expected_purchases(holdout_days, summary)),
            pl.Series("first_day", summary["first_day"]),
        )
        .with_columns(
            (pl.col("expected_holdout_purchases") * pl.col("expected_average_value")).alias(
                "expected_holdout_spend"
            )
        )
        .join(realized, on="customer_id", how="left")
        .with_columns(pl.col("holdout_purchases", "holdout_spend").fill_null(0.0))
    )
    by_frequency = _by_frequency(customers, max_frequency)
    cumulative = _cumulative(customers, purchases, bgnbd, calibration_day, end_day, step_days)
    lift = lift_table(customers["clv"].to_numpy(), customers["holdout_spend"].to_numpy())
    return HoldoutEvaluation(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        customers=customers,
        by_frequency=by_frequency,
        cumulative=cumulative,
        lift=lift,
        metrics=_metrics(customers, by_frequency, cumulative, lift, holdout_days),
    )


def lift_table(predicted_value: np.ndarray, realized_spend: np.ndarray) -> pl.DataFrame:
    """Realized spend by decile of predicted value (10 = highest); ties broken by position, so the
    deciles have equal sizes (within one) even when many customers share a prediction."""
    predicted = np.asarray(predicted_value, dtype=float)
    realized = np.asarray(realized_spend, dtype=float)
    n = predicted.size
    if n < DECILES:
        raise InvalidInputError(f"a decile table needs at least {DECILES} customers, got {n}")
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(predicted, kind="stable")] = np.arange(n)
    decile = rank * DECILES // n + 1
    overall = realized.mean()
    table = (
        pl.DataFrame({"decile": decile, "predicted_clv": predicted, "holdout_spend": realized})
        .group_by("decile")
        .agg(
            pl.len().alias("customers"),
            pl.col("predicted_clv").mean().alias("mean_predicted_clv"),
            pl.col("holdout_spend").sum().alias("holdout_spend"),
            pl.col("holdout_spend").mean().alias("mean_holdout_spend"),
        )
        .sort("decile")
    )
    total = float(realized.sum())
    return table.with_columns(
        (pl.col("holdout_spend") / total if total > 0 else pl.lit(0.0)).alias("share_of_holdout_spend"),
        (pl.col("mean_holdout_spend") / overall if overall > 0 else pl.lit(float("nan"))).alias("lift"),
    )


def _by_frequency(customers: pl.DataFrame, max_frequency: int) -> pl.DataFrame:
    return (
        customers.group_by(pl.col("frequency").clip(upper_bound=max_frequency).cast(pl.Int64))
        .agg(
            pl.len().alias("customers"),
            pl.col("holdout_purchases").mean().alias("actual_mean_holdout_purchases"),
            pl.col("expected_holdout_purchases").mean().alias("expected_mean_holdout_purchases"),
        )
        .sort("frequency")
    )


def _cumulative(
    customers: pl.DataFrame,
    purchases: pl.DataFrame,
    bgnbd: BGNBDFit,
    calibration_day: float,
    end_day: float,
    step_days: float,
) -> pl.DataFrame:
    """Cumulative repeat purchases of the calibration customers, actual and expected, every
    ``step_days`` from the first first purchase to ``end_day``.

    Expected: customers first buying in day-bucket c contribute E[X(t - c - 1/2)] at time t, so the
    sum over all customers is a convolution of the cohort sizes with the E[X] curve.
    """
    first = customers["first_day"].to_numpy()
    start = math.floor(float(first.min()))
    days = math.ceil(end_day - start)
    cohorts = np.bincount(np.floor(first - start).astype(np.int64), minlength=days + 1)
    ages = np.maximum(np.arange(days + 1) - 0.5, 0.0)
    expected_daily = np.convolve(cohorts, bgnbd.expected_repeat_purchases(ages))[: days + 1]

    known = customers.select("customer_id", "first_day")
    repeats = (
        purchases.join(known, on="customer_id", how="inner")
        .filter((pl.col("day") > pl.col("first_day")) & (pl.col("day") <= end_day))["day"]
        .sort()
        .to_numpy()
    )
    grid = np.unique(
        np.append(np.arange(0.0, end_day - start, step_days), [calibration_day - start, end_day - start])
    )
    expected = np.interp(grid, np.arange(days + 1), expected_daily)
    actual = np.searchsorted(repeats, start + grid, side="right").astype(float)
    return pl.DataFrame(
        {
            "days_since_start": grid,
            "period": np.where(grid <= calibration_day - start, "calibration", "holdout"),
            "actual_cumulative_repeat_purchases": actual,
            "expected_cumulative_repeat_purchases": expected,
        }
    )


def _metrics(
    customers: pl.DataFrame,
    by_frequency: pl.DataFrame,
    cumulative: pl.DataFrame,
    lift: pl.DataFrame,
    holdout_days: float,
) -> dict[str, float]:
    actual = customers["holdout_purchases"].to_numpy()
    expected = customers["expected_holdout_purchases"].to_numpy()
    actual_spend = float(customers["holdout_spend"].sum())
    expected_spend = float(customers["expected_holdout_spend"].sum())
    weights = by_frequency["customers"].to_numpy()
    bin_gap = np.abs(
        by_frequency["actual_mean_holdout_purchases"].to_numpy()
        - by_frequency["expected_mean_holdout_purchases"].to_numpy()
    )
    final = cumulative.row(-1, named=True)
    top = lift.filter(pl.col("decile") == DECILES)
    return {
        "holdout_days": holdout_days,
        "customers": float(customers.height),
        "actual_holdout_purchases": float(actual.sum()),
        "expected_holdout_purchases": float(expected.sum()),
        "holdout_purchases_relative_error": _relative(float(expected.sum()), float(actual.sum())),
        "holdout_purchases_mae": float(np.mean(np.abs(expected - actual))),
        "holdout_purchases_rmse": float(np.sqrt(np.mean((expected - actual) ** 2))),
        "by_frequency_weighted_mae": float(np.average(bin_gap, weights=weights)),
        "cumulative_final_relative_error": _relative(
            final["expected_cumulative_repeat_purchases"], final["actual_cumulative_repeat_purchases"]
        ),
        "actual_holdout_spend": actual_spend,
        "expected_holdout_spend": expected_spend,
        "holdout_spend_relative_error": _relative(expected_spend, actual_spend),
        "top_decile_share_of_holdout_spend": float(top["share_of_holdout_spend"].item()),
        "top_decile_lift": float(top["lift"].item()),
    }


def _relative(expected: float, actual: float) -> float:
    return (expected - actual) / actual if actual else float("nan")
