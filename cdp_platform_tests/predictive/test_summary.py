"""Transactions become the per-customer frequency / recency / T / monetary summary the models read."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from cdp_platform.predictive.errors import InvalidInputError, PredictiveWarning
from cdp_platform.predictive.summary import as_summary, summarize_transactions, validate_summary

D = datetime.date


def _transactions(rows: list[tuple[str, datetime.date | datetime.datetime, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["customer_id", "date", "amount"], orient="row")


def test_daily_transactions_give_the_conventional_summary() -> None:
    transactions = _transactions(
        [
            ("a", D(2024, 1, 1), 10.0),
            ("a", D(2024, 1, 11), 20.0),
            ("a", D(2024, 1, 11), 5.0),  # same day: one purchase occasion of 25
            ("a", D(2024, 1, 31), 35.0),
            ("b", D(2024, 1, 21), 99.0),
            ("c", D(2024, 3, 1), 50.0),  # after the end: not a customer yet
        ]
    )
    summary = summarize_transactions(transactions, D(2024, 2, 10)).sort("customer_id")
    assert summary["customer_id"].to_list() == ["a", "b"]
    assert summary["frequency"].to_list() == [2.0, 0.0]
    assert summary["recency"].to_list() == [30.0, 0.0]
    assert summary["T"].to_list() == [40.0, 20.0]
    # Mean of the repeat occasions only (25 and 35); the first purchase is left out.
    assert summary["monetary_value"].to_list() == [30.0, 0.0]


def test_timestamps_give_fractional_days_and_the_default_end_is_the_last_purchase() -> None:
    utc = datetime.UTC
    transactions = _transactions(
        [
            ("a", datetime.datetime(2024, 1, 1, 0, tzinfo=utc), 10.0),
            ("a", datetime.datetime(2024, 1, 2, 12, tzinfo=utc), 30.0),
            ("b", datetime.datetime(2024, 1, 3, 0, tzinfo=utc), 5.0),
        ]
    ).with_columns(pl.col("date").cast(pl.Datetime("ms", "UTC")))
    summary = summarize_transactions(transactions).sort("customer_id")
    assert summary["recency"].to_list() == [1.5, 0.0]
    assert summary["T"].to_list() == [2.0, 0.0]


def test_refunds_are_left_out_with_a_warning() -> None:
    transactions = _transactions(
        [("a", D(2024, 1, 1), 10.0), ("a", D(2024, 1, 5), -10.0), ("a", D(2024, 1, 9), 0.0)]
    )
    with pytest.warns(PredictiveWarning, match="2 transactions"):
        summary = summarize_transactions(transactions, D(2024, 1, 10))
    assert summary["frequency"].to_list() == [0.0]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"customer_id": ["a"], "date": [D(2024, 1, 1)]}), "missing"),
        (
            pl.DataFrame({"customer_id": ["a"], "date": ["2024-01-01"], "amount": [1.0]}),
            "Date or Datetime",
        ),
        (
            pl.DataFrame({"customer_id": ["a", None], "date": [D(2024, 1, 1)] * 2, "amount": [1.0, 2.0]}),
            "null",
        ),
    ],
)
def test_malformed_transactions_are_refused(frame: pl.DataFrame, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        summarize_transactions(frame, D(2024, 2, 1))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"frequency": [1.0], "recency": [5.0]}, "missing"),
        ({"frequency": [-1.0], "recency": [0.0], "T": [5.0]}, "non-negative whole"),
        ({"frequency": [1.5], "recency": [1.0], "T": [5.0]}, "non-negative whole"),
        ({"frequency": [1.0], "recency": [6.0], "T": [5.0]}, r"\[0, T\]"),
        ({"frequency": [0.0], "recency": [2.0], "T": [5.0]}, "recency must be 0"),
        ({"frequency": [1.0], "recency": [float("nan")], "T": [5.0]}, "non-finite"),
        ({"frequency": [1.0], "recency": [2.0], "T": [5.0], "monetary_value": [0.0]}, "positive"),
    ],
)
def test_invalid_summaries_are_refused(columns: dict[str, list[float]], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        validate_summary(pl.DataFrame(columns), monetary="monetary_value" in columns)


def test_a_summary_passes_through_unchanged() -> None:
    summary = pl.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 10.0], "T": [20.0, 30.0]})
    assert as_summary(summary).equals(summary)
