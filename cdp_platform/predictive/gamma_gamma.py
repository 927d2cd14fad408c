"""Gamma-Gamma: how much a customer spends per purchase (Fader & Hardie 2013, "The Gamma-Gamma Model
of Monetary Value"; first in Fader, Hardie & Lee 2005, "RFM and CLV").

Each purchase of a customer is worth Gamma(shape p, rate nu), and nu ~ Gamma(shape q, rate gamma)
across customers. Observing x repeat purchases of mean value m, the likelihood is

    Gamma(px+q) / (Gamma(px) Gamma(q)) * gamma^q * m^(px-1) * x^(px) / (gamma + m x)^(px+q)

and the expected spend per purchase of that customer is p (gamma + x m) / (px + q - 1): a weighted
mean of the population mean p gamma / (q - 1) and their own mean. The model assumes spend per purchase
is independent of how often one buys; a clear correlation in the data raises a warning.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import digamma, gammaln

from cdp_platform.predictive.errors import DegenerateFitError, InsufficientDataError, PredictiveWarning
from cdp_platform.predictive.mle import maximize
from cdp_platform.predictive.summary import is_transactions, summarize_transactions, validate_summary

PARAMETER_NAMES = ("p", "q", "gamma")
MODEL = "Gamma-Gamma"
MIN_REPEAT_BUYERS = 30
# |Pearson correlation| of frequency and mean spend above which independence is in doubt.
_DEPENDENCE_WARNING = 0.3


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma, parameters by their published names; spend in the data's currency."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    standard_errors: dict[str, float]
    iterations: int
    frequency_spend_correlation: float

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean_spend(self) -> float:
        """E[spend per purchase] of a customer nothing is known about: p gamma / (q - 1)."""
        return self.p * self.gamma / (self.q - 1)

    def expected_average_value(self, summary: pl.DataFrame) -> np.ndarray:
        """Expected spend per future purchase, per row of a summary (``frequency``, ``monetary_value``);
        customers without repeat purchases get the population mean."""
        return expected_average_value(
            self.params,
            summary["frequency"].cast(pl.Float64).to_numpy(),
            summary["monetary_value"].cast(pl.Float64).to_numpy(),
        )

    def to_metadata(self) -> dict[str, object]:
        return {
            "model": MODEL,
            "parameters": self.params,
            "standard_errors": self.standard_errors,
            "log_likelihood": self.log_likelihood,
            "repeat_buyers": self.n_customers,
            "population_mean_spend": self.population_mean_spend,
            "frequency_spend_correlation": self.frequency_spend_correlation,
            "iterations": self.iterations,
        }


def log_likelihood(params: dict[str, float], frequency: np.ndarray, monetary_value: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood of repeat buyers' mean spend (frequency > 0 only)."""
    value, _ = _Likelihood(frequency, monetary_value).evaluate(
        np.array([params[name] for name in PARAMETER_NAMES]), gradient=False
    )
    return value


def expected_average_value(
    params: dict[str, float], frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """p (gamma + x m) / (p x + q - 1); with x = 0 this is the population mean p gamma / (q - 1)."""
    p, q, gamma = (params[name] for name in PARAMETER_NAMES)
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    return p * (gamma + x * m) / (p * x + q - 1)


def fit_gamma_gamma(
    data: pl.DataFrame,
    observation_end: datetime.date | datetime.datetime | None = None,
    *,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma on transactions or a summary with ``monetary_value``; only repeat
    buyers (frequency > 0) carry information and are used.

    Raises :class:`InsufficientDataError` below ``min_repeat_buyers``, :class:`DegenerateFitError` when
    q <= 1 (an infinite mean spend: no finite CLV exists) and the optimizer checks' errors.
    """
    summary = summarize_transactions(data, observation_end) if is_transactions(data) else data
    validate_summary(summary, monetary=True)
    buyers = summary.filter(pl.col("frequency") > 0)
    return fit_gamma_gamma_arrays(
        buyers["frequency"].cast(pl.Float64).to_numpy(),
        buyers["monetary_value"].cast(pl.Float64).to_numpy(),
        min_repeat_buyers=min_repeat_buyers,
    )


def fit_gamma_gamma_arrays(
    frequency: np.ndarray, monetary_value: np.ndarray, *, min_repeat_buyers: int = MIN_REPEAT_BUYERS
) -> GammaGammaFit:
    """:func:`fit_gamma_gamma` on validated arrays of repeat buyers (frequency > 0, spend > 0)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    if x.size < min_repeat_buyers:
        raise InsufficientDataError(
            f"{MODEL}: {x.size} repeat buyers, at least {min_repeat_buyers} are needed"
        )
    correlation = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 and np.ptp(m) > 0 else 0.0
    if abs(correlation) > _DEPENDENCE_WARNING:
        warnings.warn(
            f"{MODEL}: purchase frequency and spend per purchase are correlated (r={correlation:.2f}); "
            "the model assumes they are independent, so CLV will be biased",
            PredictiveWarning,
            stacklevel=2,
        )
    # Fit in units of the mean spend: gamma scales with currency and nothing else does.
    scale = float(np.mean(m))
    likelihood = _Likelihood(x, m / scale)
    fit = maximize(likelihood.objective, np.array([2.0, 3.0, 2.0]), PARAMETER_NAMES, x.size, MODEL)
    values = fit.values.copy()
    values[2] *= scale
    errors = fit.standard_errors.copy()
    errors[2] *= scale
    params = dict(zip(PARAMETER_NAMES, values.tolist(), strict=True))
    if params["q"] <= 1:
        raise DegenerateFitError(
            f"{MODEL}: q={params['q']:.3g} <= 1 means spend per purchase has no finite mean; "
            "expected spend and CLV do not exist for this data"
        )
    return GammaGammaFit(
        **params,
        log_likelihood=float(np.sum(log_likelihood(params, x, m))),
        n_customers=int(x.size),
        standard_errors=dict(zip(PARAMETER_NAMES, errors.tolist(), strict=True)),
        iterations=fit.iterations,
        frequency_spend_correlation=correlation,
    )


class _Likelihood:
    """Log-likelihood and analytic gradient; digamma terms once per distinct x."""

    def __init__(self, frequency: np.ndarray, monetary_value: np.ndarray) -> None:
        self.x = np.asarray(frequency, dtype=float)
        self.m = np.asarray(monetary_value, dtype=float)
        self.log_m = np.log(self.m)
        self.log_x = np.log(self.x)
        self.unique_x, self.index = np.unique(self.x, return_inverse=True)
        self.counts = np.bincount(self.index, minlength=self.unique_x.size).astype(float)
        self.sum_x_log_mx = float(np.dot(self.x, self.log_m + self.log_x))
        self.n = self.x.size

    def objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        values, gradient = self.evaluate(params, gradient=True)
        return -float(values.sum()) / self.n, -gradient * params / self.n  # type: ignore[operator]

    def evaluate(self, params: np.ndarray, gradient: bool) -> tuple[np.ndarray, np.ndarray | None]:
        p, q, gamma = params
        ux = self.unique_x
        px = p * self.x
        log_total = np.log(gamma + self.m * self.x)
        constant_u = gammaln(p * ux + q) - gammaln(p * ux) - gammaln(q) + q * np.log(gamma)
        values = constant_u[self.index] + (px - 1) * self.log_m + px * self.log_x - (px + q) * log_total
        if not gradient:
            return values, None
        psi_pxq = digamma(p * ux + q)
        d_p = (
            float(np.dot(self.counts * ux, psi_pxq - digamma(p * ux)))
            + self.sum_x_log_mx
            - float(np.dot(self.x, log_total))
        )
        d_q = (
            float(np.dot(self.counts, psi_pxq))
            - self.n * digamma(q)
            + self.n * np.log(gamma)
            - float(log_total.sum())
        )
        d_gamma = self.n * q / gamma - float(np.sum((px + q) / (gamma + self.m * self.x)))
        return values, np.array([d_p, d_q, d_gamma])
