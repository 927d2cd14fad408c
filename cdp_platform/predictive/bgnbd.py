"""BG/NBD: how often customers buy and when they silently stop (Fader, Hardie & Lee 2005).

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(shape r, rate alpha); after
each purchase they drop out for good with probability p ~ Beta(a, b). From a customer's frequency x,
recency t_x and age T (days) the model gives the probability they are still alive and the purchases
to expect in the next t days. Time unit: days, so alpha is "per day" as in the sandbox.

Everything is vectorized and kept in log space: the likelihood combines its two terms with
``logaddexp``, P(alive) is a logistic of a log-odds, and the conditional expectation uses the Pfaff
transformation of the published hypergeometric term,

    ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))
        = 2F1(r+x, a-1; a+b+x-1; -t/(alpha+T)),

which never forms the huge power and the huge 2F1 whose product it is. SciPy evaluates that 2F1 to
about 1e-12 wherever it returns a finite value, but gives NaN for heavy buyers far ahead (x in the
hundreds, t several times alpha+T); there :func:`_hyp2f1_of_negative` sums the series of the second
Pfaff form, which converges fast exactly when x is large.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from cdp_platform.predictive.errors import ConvergenceError, InsufficientDataError
from cdp_platform.predictive.mle import maximize
from cdp_platform.predictive.summary import RFM, as_summary

PARAMETER_NAMES = ("r", "alpha", "a", "b")
MODEL = "BG/NBD"
# Below these the four parameters are not identified in practice; callers may lower them knowingly.
MIN_CUSTOMERS = 100
MIN_REPEAT_BUYERS = 30
# The expectation's (a+b+x-1)/(a-1) factor is 0/0 at a = 1; this close to 1 we evaluate just beside it.
_A_NEAR_ONE = 1e-7
_SERIES_MAX_TERMS = 100_000


@dataclass(frozen=True)
class BGNBDFit:
    """Fitted BG/NBD, parameters by their published names; rates per day."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    n_repeat_buyers: int
    standard_errors: dict[str, float]
    iterations: int

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def probability_alive(self, summary: pl.DataFrame) -> np.ndarray:
        """P(alive | x, t_x, T) per row of a summary frame."""
        rfm = RFM.from_frame(summary)
        return probability_alive(self.params, rfm.frequency, rfm.recency, rfm.T)

    def expected_purchases(self, t: float, summary: pl.DataFrame) -> np.ndarray:
        """Expected purchases in the next ``t`` days per row of a summary frame (propensity)."""
        rfm = RFM.from_frame(summary)
        return conditional_expected_purchases(self.params, t, rfm.frequency, rfm.recency, rfm.T)

    def expected_repeat_purchases(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)]: repeat purchases a new customer makes in their first ``t`` days."""
        return unconditional_expected_purchases(self.params, t)

    def to_metadata(self) -> dict[str, object]:
        return {
            "model": MODEL,
            "time_unit": "day",
            "parameters": self.params,
            "standard_errors": self.standard_errors,
            "log_likelihood": self.log_likelihood,
            "customers": self.n_customers,
            "repeat_buyers": self.n_repeat_buyers,
            "iterations": self.iterations,
        }


def log_likelihood(
    params: dict[str, float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer log-likelihood (FHL 2005, eq. 6)."""
    value, _ = _Likelihood(frequency, recency, T).evaluate(
        np.array([params[name] for name in PARAMETER_NAMES]), gradient=False
    )
    return value


def probability_alive(
    params: dict[str, float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(alive) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), as a logistic of log-odds."""
    r, alpha, a, b = (params[name] for name in PARAMETER_NAMES)
    x = np.asarray(frequency, dtype=float)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            np.log(a)
            - np.log(b + x - 1)
            + (r + x)
            * (np.log(alpha + np.asarray(T, dtype=float)) - np.log(alpha + np.asarray(recency, dtype=float)))
        )
    return np.where(repeat, expit(-np.where(repeat, log_odds_dead, 0.0)), 1.0)


def conditional_expected_purchases(
    params: dict[str, float], t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[Y(t) | x, t_x, T] (FHL 2005, eq. 10), through the Pfaff-transformed 2F1 (module docstring)."""
    r, alpha, _, b = (params[name] for name in PARAMETER_NAMES)
    a = _away_from_one(params["a"])
    x = np.asarray(frequency, dtype=float)
    T = np.asarray(T, dtype=float)
    if t <= 0:
        return np.zeros_like(x)
    c = a + b + x - 1
    growth = (1.0 - _hyp2f1_of_negative(r + x, a - 1, c, t / (alpha + T))) * c / (a - 1)
    return probability_alive(params, x, recency, T) * growth


def unconditional_expected_purchases(params: dict[str, float], t: np.ndarray | float) -> np.ndarray:
    """E[X(t)] (FHL 2005, eq. 7): (a+b-1)/(a-1) [1 - 2F1(r, a-1; a+b-1; -t/alpha)] after Pfaff."""
    r, alpha, _, b = (params[name] for name in PARAMETER_NAMES)
    a = _away_from_one(params["a"])
    t = np.asarray(t, dtype=float)
    return (a + b - 1) / (a - 1) * (1.0 - _hyp2f1_of_negative(r, a - 1, a + b - 1, t / alpha))


def fit_bgnbd(
    data: pl.DataFrame,
    observation_end: datetime.date | datetime.datetime | None = None,
    *,
    min_customers: int = MIN_CUSTOMERS,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD on transactions (``customer_id``, ``date``, ``amount``; observed until
    ``observation_end``) or on a summary (``frequency``, ``recency``, ``T`` in days).

    Raises :class:`InsufficientDataError` below ``min_customers`` or ``min_repeat_buyers``, and the
    errors of :func:`cdp_platform.predictive.mle.maximize` when the optimum cannot be trusted.
    """
    rfm = RFM.from_frame(as_summary(data, observation_end))
    return fit_bgnbd_arrays(
        rfm.frequency, rfm.recency, rfm.T, min_customers=min_customers, min_repeat_buyers=min_repeat_buyers
    )


def fit_bgnbd_arrays(
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    min_customers: int = MIN_CUSTOMERS,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> BGNBDFit:
    """:func:`fit_bgnbd` on validated float arrays."""
    x = np.asarray(frequency, dtype=float)
    n, repeaters = x.size, int(np.count_nonzero(x))
    if n < min_customers:
        raise InsufficientDataError(f"{MODEL}: {n} customers, at least {min_customers} are needed")
    if repeaters < min_repeat_buyers:
        raise InsufficientDataError(
            f"{MODEL}: {repeaters} repeat buyers, at least {min_repeat_buyers} are needed to tell "
            "buying rates from dropout"
        )
    # Fit in units of the mean age: alpha scales with time and nothing else does, so the optimizer
    # sees the same problem whatever the calendar, and alpha is scaled back afterwards.
    scale = float(np.mean(T))
    if not scale > 0:
        raise InsufficientDataError(f"{MODEL}: every customer has age 0, there is no time to learn from")
    likelihood = _Likelihood(x, np.asarray(recency, dtype=float) / scale, np.asarray(T, dtype=float) / scale)
    mean_repeats = max(float(np.mean(x)), 1e-3)
    start = np.array([1.0, 1.0 / mean_repeats, 1.0, 2.0])
    fit = maximize(likelihood.objective, start, PARAMETER_NAMES, n, MODEL)
    values = fit.values.copy()
    values[1] *= scale
    errors = fit.standard_errors.copy()
    errors[1] *= scale
    params = dict(zip(PARAMETER_NAMES, values.tolist(), strict=True))
    total = float(np.sum(log_likelihood(params, x, recency, T)))
    return BGNBDFit(
        **params,
        log_likelihood=total,
        n_customers=n,
        n_repeat_buyers=repeaters,
        standard_errors=dict(zip(PARAMETER_NAMES, errors.tolist(), strict=True)),
        iterations=fit.iterations,
    )


def _hyp2f1_of_negative(
    A: np.ndarray | float, B: float, C: np.ndarray | float, s: np.ndarray | float
) -> np.ndarray:
    """2F1(A, B; C; -s) for s >= 0, with C - A and B of moderate size (the BG/NBD case).

    Where SciPy returns a non-finite value, use the other Pfaff form,
    (1+s)^(-B) 2F1(C-A, B; C; s/(1+s)), summed term by term: its numerator parameters are small
    and C is large there, so the terms shrink like (k/C)^k long before w^k matters.
    """
    A, C, s = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (A, C, s)))
    value = np.array(hyp2f1(A, B, C, -s), dtype=float)
    bad = ~np.isfinite(value)
    if not bad.any():
        return value
    a_bad, c_bad, s_bad = A[bad], C[bad], s[bad]
    delta, w = c_bad - a_bad, s_bad / (1.0 + s_bad)
    term = np.ones_like(w)
    total = np.ones_like(w)
    for k in range(_SERIES_MAX_TERMS):
        term = term * (delta + k) * (B + k) / ((c_bad + k) * (k + 1)) * w
        total += term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    else:
        raise ConvergenceError(
            f"{MODEL}: the hypergeometric series did not converge for {int(bad.sum())} customers"
        )
    value[bad] = (1.0 + s_bad) ** (-B) * total
    return value


def _away_from_one(a: float) -> float:
    return a if abs(a - 1.0) > _A_NEAR_ONE else 1.0 + _A_NEAR_ONE


class _Likelihood:
    """The BG/NBD log-likelihood and its analytic gradient, fast on millions of customers.

    Every term that depends on x alone (gammaln, betaln, digamma) is computed once per distinct x and
    summed with ``bincount`` weights, so a customer costs two logs, a logaddexp and an exp.
    """

    def __init__(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> None:
        self.x = np.asarray(frequency, dtype=float)
        self.t_x = np.asarray(recency, dtype=float)
        self.T = np.asarray(T, dtype=float)
        self.unique_x, self.index = np.unique(self.x, return_inverse=True)
        self.counts = np.bincount(self.index, minlength=self.unique_x.size).astype(float)
        self.n = self.x.size

    def objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean negative log-likelihood and its gradient in log-parameters."""
        params = np.exp(theta)
        values, gradient = self.evaluate(params, gradient=True)
        return -float(values.sum()) / self.n, -gradient * params / self.n  # type: ignore[operator]

    def evaluate(self, params: np.ndarray, gradient: bool) -> tuple[np.ndarray, np.ndarray | None]:
        r, alpha, a, b = params
        ux = self.unique_x
        repeat_u = ux > 0
        beta_stay = betaln(a, b + ux)
        beta_drop = np.full_like(ux, -np.inf)
        beta_drop[repeat_u] = betaln(a + 1, b + ux[repeat_u] - 1)
        constant_u = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) - betaln(a, b)

        rx = r + self.x
        log_age = np.log(alpha + self.T)
        log_recency = np.log(alpha + self.t_x)
        stay = beta_stay[self.index] - rx * log_age
        drop = beta_drop[self.index] - rx * log_recency
        total = np.logaddexp(stay, drop)
        values = constant_u[self.index] + total
        if not gradient:
            return values, None

        w_stay = np.exp(stay - total)
        w_drop = 1.0 - w_stay
        w_stay_u = np.bincount(self.index, weights=w_stay, minlength=ux.size)
        w_drop_u = self.counts - w_stay_u
        psi_abx = digamma(a + b + ux)
        psi_bx = digamma(b + ux)
        psi_bx1 = np.zeros_like(ux)
        psi_bx1[repeat_u] = digamma(b + ux[repeat_u] - 1)
        psi_a, psi_a1, psi_b, psi_ab = digamma([a, a + 1, b, a + b])

        d_r = (
            float(np.dot(self.counts, digamma(r + ux) - digamma(r)))
            + self.n * np.log(alpha)
            - float(np.dot(w_stay, log_age))
            - float(np.dot(w_drop, log_recency))
        )
        d_alpha = self.n * r / alpha - float(
            np.dot(rx, w_stay / (alpha + self.T) + w_drop / (alpha + self.t_x))
        )
        d_a = (
            -self.n * (psi_a - psi_ab)
            + float(np.dot(w_stay_u, psi_a - psi_abx))
            + float(np.dot(w_drop_u, psi_a1 - psi_abx))
        )
        d_b = (
            -self.n * (psi_b - psi_ab)
            + float(np.dot(w_stay_u, psi_bx - psi_abx))
            + float(np.dot(w_drop_u, psi_bx1 - psi_abx))
        )
        return values, np.array([d_r, d_alpha, d_a, d_b])
