"""CLV: expected purchases month by month, times expected spend, discounted at an annual rate."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cdp_platform.predictive.bgnbd import BGNBDFit
from cdp_platform.predictive.clv import DAYS_PER_MONTH, customer_lifetime_value
from cdp_platform.predictive.errors import InvalidInputError
from cdp_platform.predictive.gamma_gamma import GammaGammaFit

BGNBD = BGNBDFit(
    r=0.75,
    alpha=60.0,
    a=0.8,
    b=2.5,
    log_likelihood=0.0,
    n_customers=0,
    n_repeat_buyers=0,
    standard_errors={},
    iterations=0,
)
GAMMA_GAMMA = GammaGammaFit(
    p=6.0,
    q=3.8,
    gamma=40.0,
    log_likelihood=0.0,
    n_customers=0,
    standard_errors={},
    iterations=0,
    frequency_spend_correlation=0.0,
)
SUMMARY = pl.DataFrame(
    {
        "frequency": [0.0, 1.0, 4.0, 4.0],
        "recency": [0.0, 20.0, 300.0, 30.0],
        "T": [50.0, 300.0, 310.0, 310.0],
        "monetary_value": [0.0, 80.0, 45.0, 45.0],
    }
)


def test_without_discount_clv_is_expected_purchases_times_expected_spend() -> None:
    clv = customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY, months=12, annual_discount_rate=0.0)
    expected = BGNBD.expected_purchases(12 * DAYS_PER_MONTH, SUMMARY) * GAMMA_GAMMA.expected_average_value(
        SUMMARY
    )
    np.testing.assert_allclose(clv, expected, rtol=1e-10)


def test_discounting_lowers_value_and_longer_horizons_raise_it() -> None:
    undiscounted = customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY, annual_discount_rate=0.0)
    discounted = customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY, annual_discount_rate=0.2)
    longer = customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY, months=24, annual_discount_rate=0.2)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.2)
    assert np.all(longer > discounted)


def test_a_recently_active_customer_is_worth_more_than_a_lapsed_one() -> None:
    clv = customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY)
    # Rows 2 and 3 differ only in recency: the one who bought 10 days ago vs 280 days ago.
    assert clv[2] > 2 * clv[3]


@pytest.mark.parametrize(("months", "rate"), [(0, 0.1), (12, -1.0)])
def test_impossible_settings_are_refused(months: int, rate: float) -> None:
    with pytest.raises(InvalidInputError):
        customer_lifetime_value(BGNBD, GAMMA_GAMMA, SUMMARY, months=months, annual_discount_rate=rate)
