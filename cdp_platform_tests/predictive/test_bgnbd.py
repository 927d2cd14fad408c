"""BG/NBD: the log-space formulas equal the published ones, and agree with simulated customers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.integrate import quad
from scipy.optimize import approx_fprime
from scipy.special import beta, gamma, hyp2f1
from scipy.stats import beta as beta_distribution

from cdp_platform.predictive import bgnbd
from cdp_platform.predictive.errors import BoundaryFitError, DegenerateFitError, InsufficientDataError
from cdp_platform.predictive.simulation import TrueParameters, simulate_customers
from cdp_platform.predictive.summary import summarize_transactions

TRUE = {"r": 0.75, "alpha": 60.0, "a": 0.8, "b": 2.5}
X = np.array([0.0, 1.0, 2.0, 5.0, 12.0])
T_X = np.array([0.0, 30.0, 200.0, 150.0, 390.0])
AGE = np.array([100.0, 60.0, 400.0, 700.0, 400.0])


def _published_likelihood(
    params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """FHL 2005 eq. 6, transcribed literally (fine for small x)."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    common = gamma(r + x) * alpha**r / gamma(r)
    stay = beta(a, b + x) / beta(a, b) * common / (alpha + T) ** (r + x)
    drop = np.where(x > 0, beta(a + 1, b + x - 1) / beta(a, b) * common / (alpha + t_x) ** (r + x), 0.0)
    return stay + drop


@pytest.mark.parametrize("params", [TRUE, {"r": 2.0, "alpha": 5.0, "a": 3.0, "b": 0.6}])
def test_log_likelihood_equals_the_published_formula(params: dict[str, float]) -> None:
    ours = bgnbd.log_likelihood(params, X, T_X, AGE)
    np.testing.assert_allclose(ours, np.log(_published_likelihood(params, X, T_X, AGE)), rtol=1e-10)


def test_analytic_gradient_matches_finite_differences() -> None:
    likelihood = bgnbd._Likelihood(X, T_X / 300, AGE / 300)
    theta = np.log([0.6, 0.3, 1.4, 2.2])
    analytic = likelihood.objective(theta)[1]
    numeric = approx_fprime(theta, lambda t: likelihood.objective(t)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("params", [TRUE, {"r": 2.0, "alpha": 5.0, "a": 3.0, "b": 0.6}])
def test_pfaff_forms_equal_the_published_expectations(params: dict[str, float]) -> None:
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    t = 90.0
    # FHL 2005 eq. 10 and eq. 7, as printed.
    z = t / (alpha + AGE + t)
    published = (
        (a + b + X - 1)
        / (a - 1)
        * (1 - ((alpha + AGE) / (alpha + AGE + t)) ** (r + X) * hyp2f1(r + X, b + X, a + b + X - 1, z))
        / (1 + (X > 0) * a / (b + X - 1) * ((alpha + AGE) / (alpha + T_X)) ** (r + X))
    )
    np.testing.assert_allclose(
        bgnbd.conditional_expected_purchases(params, t, X, T_X, AGE), published, rtol=1e-8
    )
    unconditional = (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    np.testing.assert_allclose(bgnbd.unconditional_expected_purchases(params, t), unconditional, rtol=1e-8)


def _expectation_by_integration(params: dict[str, float], t: float, x: float, t_x: float, T: float) -> float:
    """An independent derivation: an alive customer with (lambda, p) buys (1 - e^(-lambda p t)) / p
    more times; averaging over lambda ~ Gamma(r+x, alpha+T) in closed form and over the posterior
    p ~ Beta(a, b+x) by adaptive quadrature, times P(alive)."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    shape, s = r + x, t / (alpha + T)

    def integrand(p: float) -> float:
        return -np.expm1(-shape * np.log1p(p * s)) / p * beta_distribution.pdf(p, a, b + x)

    knee = 1 / (shape * s)  # where the integrand turns from shape*s to 1/p
    pieces = [(0.0, knee), (knee, 1.0)]
    integral = sum(quad(integrand, lo, hi, limit=200, epsabs=0, epsrel=1e-11)[0] for lo, hi in pieces)
    alive = bgnbd.probability_alive(params, np.array([x]), np.array([t_x]), np.array([T]))[0]
    return float(alive * integral)


@pytest.mark.parametrize("params", [TRUE, {"r": 2.0, "alpha": 5.0, "a": 3.0, "b": 0.6}])
@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    # Ordinary customers, and heavy buyers far ahead, where SciPy's 2F1 alone returns NaN.
    [(0, 0, 50, 90), (3, 40, 300, 90), (300, 290, 300, 365), (300, 5, 5, 365), (150, 100, 100, 90)],
)
def test_conditional_expectation_equals_its_integral_form(
    params: dict[str, float], x: float, t_x: float, T: float, t: float
) -> None:
    ours = bgnbd.conditional_expected_purchases(params, t, np.array([x]), np.array([t_x]), np.array([T]))
    assert ours[0] == pytest.approx(_expectation_by_integration(params, t, x, t_x, T), rel=1e-9)


def test_expectations_stay_finite_for_heavy_buyers_and_at_a_equal_to_one() -> None:
    heavy = np.array([400.0])
    value = bgnbd.conditional_expected_purchases(TRUE, 90.0, heavy, np.array([700.0]), np.array([700.0]))
    assert np.isfinite(value).all() and value[0] > 10
    near = bgnbd.unconditional_expected_purchases({**TRUE, "a": 1.0}, 100.0)
    beside = bgnbd.unconditional_expected_purchases({**TRUE, "a": 1.0 + 1e-4}, 100.0)
    assert np.isfinite(near) and abs(near - beside) < 1e-3


def test_unconditional_expectation_matches_simulated_customers() -> None:
    # Everyone acquired at the same moment and observed for 200 days.
    simulated = simulate_customers(200_000, seed=5, acquisition_days=1e-6, observation_days=200.0)
    mean_repeats = simulated.customers["repeats"].mean()
    expected = float(bgnbd.unconditional_expected_purchases(TRUE, 200.0))
    standard_error = simulated.customers["repeats"].std() / np.sqrt(200_000)
    assert abs(mean_repeats - expected) < 4 * standard_error  # type: ignore[operator]


def test_probability_alive_is_calibrated_against_simulated_truth(
    summary_100k: pl.DataFrame, simulated_100k
) -> None:
    truth = summary_100k.join(simulated_100k.customers, on="customer_id")
    predicted = bgnbd.BGNBDFit(
        **TRUE, log_likelihood=0, n_customers=0, n_repeat_buyers=0, standard_errors={}, iterations=0
    ).probability_alive(truth)
    alive = truth["alive"].to_numpy()
    assert np.all((predicted > 0) & (predicted <= 1))
    assert np.all(predicted[truth["frequency"].to_numpy() == 0] == 1.0)
    repeaters = truth["frequency"].to_numpy() > 0
    edges = np.quantile(predicted[repeaters], np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, predicted[repeaters], side="right") - 1, 0, 9)
    for k in range(10):
        in_bin = bins == k
        assert abs(predicted[repeaters][in_bin].mean() - alive[repeaters][in_bin].mean()) < 0.03


def test_too_little_data_is_refused() -> None:
    few = pl.DataFrame({"frequency": [1.0] * 50, "recency": [5.0] * 50, "T": [10.0] * 50})
    with pytest.raises(InsufficientDataError, match="50 customers"):
        bgnbd.fit_bgnbd(few)
    one_timers = pl.DataFrame(
        {"frequency": [0.0] * 500 + [1.0] * 5, "recency": [0.0] * 500 + [3.0] * 5, "T": [10.0] * 505}
    )
    with pytest.raises(InsufficientDataError, match="5 repeat buyers"):
        bgnbd.fit_bgnbd(one_timers)


def test_data_without_dropout_is_refused_instead_of_answered_confidently() -> None:
    # Dropout probability ~ Beta(a, b) with a tiny: nobody ever drops out, a limit BG/NBD reaches only
    # as a -> 0 and b -> infinity, where the likelihood goes flat (or the optimizer hits a bound).
    simulated = simulate_customers(5_000, TrueParameters(a=1e-6, b=50.0), seed=3)
    summary = summarize_transactions(simulated.transactions, simulated.end)
    with pytest.raises((BoundaryFitError, DegenerateFitError), match=r"bound|flat"):
        bgnbd.fit_bgnbd(summary)


def test_fit_accepts_transactions_directly(simulated_20k) -> None:
    from_transactions = bgnbd.fit_bgnbd(simulated_20k.transactions, simulated_20k.end)
    from_summary = bgnbd.fit_bgnbd(summarize_transactions(simulated_20k.transactions, simulated_20k.end))
    assert from_transactions.params == pytest.approx(from_summary.params, rel=1e-9)
    assert from_transactions.to_metadata()["time_unit"] == "day"
