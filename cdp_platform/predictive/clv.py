"""Customer lifetime value over a finite horizon: BG/NBD purchases times Gamma-Gamma spend, discounted.

CLV_i = sum over months k = 1..K of (E_i[Y(k m)] - E_i[Y((k-1) m)]) * E_i[spend] / (1 + d)^(k/12),

with m = 365.25/12 days, E_i[Y(t)] the BG/NBD conditional expectation and d an annual discount rate.
Each month's purchases are discounted as if they happened at its end, as in the usual discrete
approximation (Fader, Hardie & Lee 2005, "RFM and CLV"); monthly steps keep the error well below the
model's own.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp_platform.predictive.bgnbd import BGNBDFit, conditional_expected_purchases
from cdp_platform.predictive.errors import InvalidInputError
from cdp_platform.predictive.gamma_gamma import GammaGammaFit, expected_average_value
from cdp_platform.predictive.summary import RFM

DAYS_PER_MONTH = 365.25 / 12


def customer_lifetime_value(
    bgnbd: BGNBDFit,
    gamma_gamma: GammaGammaFit,
    summary: pl.DataFrame,
    *,
    months: int = 12,
    annual_discount_rate: float = 0.10,
) -> np.ndarray:
    """Discounted expected spend over the next ``months`` per row of a summary with ``frequency``,
    ``recency``, ``T`` (days) and ``monetary_value``."""
    if months < 1:
        raise InvalidInputError(f"the CLV horizon must be at least one month, not {months}")
    if not annual_discount_rate > -1:
        raise InvalidInputError(f"the discount rate must be above -100 %, not {annual_discount_rate}")
    rfm = RFM.from_frame(summary)
    spend = expected_average_value(
        gamma_gamma.params, rfm.frequency, summary["monetary_value"].cast(pl.Float64).to_numpy()
    )
    value = np.zeros(rfm.frequency.size)
    previous = np.zeros(rfm.frequency.size)
    for month in range(1, months + 1):
        cumulative = conditional_expected_purchases(
            bgnbd.params, month * DAYS_PER_MONTH, rfm.frequency, rfm.recency, rfm.T
        )
        value += (cumulative - previous) * (1.0 + annual_discount_rate) ** (-month / 12)
        previous = cumulative
    return value * spend
