"""Gamma-Gamma: the likelihood equals the published one; spend expectations behave as published."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from scipy.optimize import approx_fprime
from scipy.special import gamma as gamma_function

from cdp_platform.predictive import gamma_gamma
from cdp_platform.predictive.errors import (
    BoundaryFitError,
    DegenerateFitError,
    InsufficientDataError,
    PredictiveWarning,
)
from cdp_platform.predictive.simulation import TrueParameters, simulate_customers
from cdp_platform.predictive.summary import summarize_transactions

TRUE = {"p": 6.0, "q": 3.8, "gamma": 40.0}
X = np.array([1.0, 2.0, 3.0, 8.0])
M = np.array([35.0, 80.0, 12.5, 60.0])


def test_log_likelihood_equals_the_published_formula() -> None:
    p, q, g = TRUE["p"], TRUE["q"], TRUE["gamma"]
    published = (
        gamma_function(p * X + q)
        / (gamma_function(p * X) * gamma_function(q))
        * g**q
        * M ** (p * X - 1)
        * X ** (p * X)
        / (g + M * X) ** (p * X + q)
    )
    np.testing.assert_allclose(gamma_gamma.log_likelihood(TRUE, X, M), np.log(published), rtol=1e-10)


def test_analytic_gradient_matches_finite_differences() -> None:
    likelihood = gamma_gamma._Likelihood(X, M / 50)
    theta = np.log([4.0, 2.5, 0.9])
    analytic = likelihood.objective(theta)[1]
    numeric = approx_fprime(theta, lambda t: likelihood.objective(t)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-7)


def test_expected_spend_shrinks_own_mean_towards_the_population_mean() -> None:
    population = TRUE["p"] * TRUE["gamma"] / (TRUE["q"] - 1)
    values = gamma_gamma.expected_average_value(
        TRUE, np.array([0.0, 1.0, 1000.0]), np.array([0.0, 500.0, 500.0])
    )
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < 500.0
    assert values[2] == pytest.approx(500.0, rel=1e-3)


def test_identical_spend_for_everyone_is_refused() -> None:
    # No variation within or across customers: p -> infinity, no finite optimum.
    summary = pl.DataFrame(
        {
            "frequency": [1.0, 2.0, 3.0] * 30,
            "recency": [5.0] * 90,
            "T": [10.0] * 90,
            "monetary_value": [20.0] * 90,
        }
    )
    with pytest.raises(BoundaryFitError, match="p="):
        gamma_gamma.fit_gamma_gamma(summary)


def test_spend_without_a_finite_mean_is_refused() -> None:
    # q < 1: the spend rate's prior puts so much mass near 0 that mean spend is infinite.
    simulated = simulate_customers(20_000, TrueParameters(q=0.6), seed=4)
    summary = summarize_transactions(simulated.transactions, simulated.end)
    with pytest.raises(DegenerateFitError, match="q="):
        gamma_gamma.fit_gamma_gamma(summary)


def test_too_few_repeat_buyers_are_refused() -> None:
    summary = pl.DataFrame(
        {
            "frequency": [0.0] * 100 + [2.0] * 10,
            "recency": [0.0] * 100 + [4.0] * 10,
            "T": [10.0] * 110,
            "monetary_value": [0.0] * 100 + [30.0] * 10,
        }
    )
    with pytest.raises(InsufficientDataError, match="10 repeat buyers"):
        gamma_gamma.fit_gamma_gamma(summary)


def test_spend_that_grows_with_frequency_warns(summary_20k: pl.DataFrame) -> None:
    dependent = summary_20k.with_columns(
        pl.when(pl.col("frequency") > 0)
        .then(pl.col("monetary_value") * (1 + pl.col("frequency")))
        .otherwise(0.0)
        .alias("monetary_value")
    )
    with pytest.warns(PredictiveWarning, match="correlated"):
        gamma_gamma.fit_gamma_gamma(dependent)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PredictiveWarning)
        fit = gamma_gamma.fit_gamma_gamma(summary_20k)
    assert abs(fit.frequency_spend_correlation) < 0.1
    assert fit.to_metadata()["population_mean_spend"] == pytest.approx(fit.p * fit.gamma / (fit.q - 1))
