"""Per-client churn, purchase propensity and CLV: what the ``client_scores`` asset materializes.

One call fits BG/NBD and Gamma-Gamma on all purchases observed until ``observation_end`` and scores
every customer with them. The table's columns:

- ``customer_id``, ``frequency``, ``recency``, ``T``, ``monetary_value`` (the summary, days);
- ``p_alive`` and ``churn_probability`` = 1 - ``p_alive``;
- ``expected_purchases``: purchases expected in the next ``propensity_days`` (the propensity);
- ``expected_average_value``: expected spend per future purchase;
- ``clv``: discounted expected spend over the next ``clv_months``.

The horizons and the discount rate travel with the result (``settings``) and into the asset's metadata
(:mod:`cdp_platform.predictive.metadata`), so a reader of the table knows what "expected_purchases" and
"clv" were computed over.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import polars as pl

from cdp_platform.predictive.bgnbd import MIN_CUSTOMERS, MIN_REPEAT_BUYERS, BGNBDFit, fit_bgnbd
from cdp_platform.predictive.clv import customer_lifetime_value
from cdp_platform.predictive.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from cdp_platform.predictive.summary import as_summary, validate_summary

SCORE_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "churn_probability",
    "expected_purchases",
    "expected_average_value",
    "clv",
)


@dataclass(frozen=True)
class ScoringSettings:
    """Horizons and thresholds of a scoring run; defaults follow the issue (90 days, 12 months)."""

    propensity_days: float = 90.0
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    min_customers: int = MIN_CUSTOMERS
    min_repeat_buyers: int = MIN_REPEAT_BUYERS

    def to_metadata(self) -> dict[str, float | int]:
        return {
            "propensity_days": self.propensity_days,
            "clv_months": self.clv_months,
            "annual_discount_rate": self.annual_discount_rate,
        }


DEFAULT_SETTINGS = ScoringSettings()


@dataclass(frozen=True)
class ClientScores:
    """The scored table (columns in :data:`SCORE_COLUMNS`) and the two fits behind it."""

    table: pl.DataFrame
    bgnbd: BGNBDFit
    gamma_gamma: GammaGammaFit
    settings: ScoringSettings


def fit_models(
    summary: pl.DataFrame, settings: ScoringSettings = DEFAULT_SETTINGS
) -> tuple[BGNBDFit, GammaGammaFit]:
    """Both fits on one validated summary (``monetary_value`` included)."""
    validate_summary(summary, monetary=True)
    bgnbd = fit_bgnbd(
        summary, min_customers=settings.min_customers, min_repeat_buyers=settings.min_repeat_buyers
    )
    gamma_gamma = fit_gamma_gamma(summary, min_repeat_buyers=settings.min_repeat_buyers)
    return bgnbd, gamma_gamma


def score_summary(
    summary: pl.DataFrame,
    bgnbd: BGNBDFit,
    gamma_gamma: GammaGammaFit,
    settings: ScoringSettings = DEFAULT_SETTINGS,
) -> pl.DataFrame:
    """Score every row of a summary with already fitted models."""
    p_alive = bgnbd.probability_alive(summary)
    return summary.select("customer_id", "frequency", "recency", "T", "monetary_value").with_columns(
        pl.Series("p_alive", p_alive),
        pl.Series("churn_probability", 1.0 - p_alive),
        pl.Series("expected_purchases", bgnbd.expected_purchases(settings.propensity_days, summary)),
        pl.Series("expected_average_value", gamma_gamma.expected_average_value(summary)),
        pl.Series(
            "clv",
            customer_lifetime_value(
                bgnbd,
                gamma_gamma,
                summary,
                months=settings.clv_months,
                annual_discount_rate=settings.annual_discount_rate,
            ),
        ),
    )


def score_clients(
    data: pl.DataFrame,
    observation_end: datetime.date | datetime.datetime | None = None,
    settings: ScoringSettings = DEFAULT_SETTINGS,
) -> ClientScores:
    """Fit on transactions (or a summary with ``customer_id``) and score every customer."""
    summary = as_summary(data, observation_end)
    if "customer_id" not in summary.columns:
        summary = summary.with_row_index("customer_id")
    bgnbd, gamma_gamma = fit_models(summary, settings)
    return ClientScores(score_summary(summary, bgnbd, gamma_gamma, settings), bgnbd, gamma_gamma, settings)
