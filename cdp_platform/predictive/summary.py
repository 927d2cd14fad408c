"""From a table of purchases to the per-customer summary the buy-till-you-die models read.

Transactions have ``customer_id``, ``date`` (a polars ``Date`` or ``Datetime``) and ``amount``. The
summary has one row per customer with the conventional columns (as in Fader, Hardie & Lee 2005 and
the ``lifetimes`` package), all times in days:

- ``frequency``: repeat purchases, i.e. distinct purchase times after the first one;
- ``recency``: age of the customer at their last purchase (0 without repeats);
- ``T``: age of the customer at the end of observation;
- ``monetary_value``: mean value of the repeat purchases (0 without repeats). The first purchase is
  left out on purpose: it is the one that made the customer, often a different kind of basket, and
  Gamma-Gamma is published and usually fitted on repeat spend.

Purchases at the same instant (the same day, for a ``Date`` column) count as one purchase of the summed
amount: the models describe purchase occasions, not order lines.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp_platform.predictive.errors import InvalidInputError, PredictiveWarning

TRANSACTION_COLUMNS = ("customer_id", "date", "amount")
SUMMARY_COLUMNS = ("frequency", "recency", "T")
MS_PER_DAY = 86_400_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def is_transactions(frame: pl.DataFrame) -> bool:
    """True when ``frame`` has the transaction columns (and so needs summarizing first)."""
    return all(column in frame.columns for column in TRANSACTION_COLUMNS)


def epoch_days(moment: datetime.date | datetime.datetime) -> float:
    """Days since 1970-01-01 UTC; a naive datetime is read as UTC, a date as its midnight."""
    if isinstance(moment, datetime.datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
        return (aware - _EPOCH).total_seconds() / 86_400
    return float((moment - _EPOCH.date()).days)


def purchase_days(transactions: pl.DataFrame) -> pl.DataFrame:
    """The purchases as ``customer_id``, ``day`` (float epoch days) and ``amount`` (Float64), one row per
    purchase occasion, nulls refused and non-positive amounts dropped with a warning."""
    missing = [column for column in TRANSACTION_COLUMNS if column not in transactions.columns]
    if missing:
        raise InvalidInputError(f"transactions need columns {list(TRANSACTION_COLUMNS)}; missing {missing}")
    dtype = transactions.schema["date"]
    if dtype == pl.Date:
        day = pl.col("date").cast(pl.Int32).cast(pl.Float64)
    elif isinstance(dtype, pl.Datetime):
        day = pl.col("date").dt.epoch("ms").cast(pl.Float64) / MS_PER_DAY
    else:
        raise InvalidInputError(f"transactions.date must be a polars Date or Datetime, not {dtype}")
    nulls = transactions.select(pl.any_horizontal(pl.col(TRANSACTION_COLUMNS).is_null()).sum()).item()
    if nulls:
        raise InvalidInputError(f"{nulls} transactions have a null customer_id, date or amount")
    frame = transactions.select(
        "customer_id", day.alias("day"), pl.col("amount").cast(pl.Float64).alias("amount")
    )
    bad = frame.select((~(pl.col("amount") > 0)).sum()).item()
    if bad:
        warnings.warn(
            f"{bad} transactions with an amount that is not positive (refunds, zero orders) are not "
            "purchases in these models and were left out",
            PredictiveWarning,
            stacklevel=2,
        )
        frame = frame.filter(pl.col("amount") > 0)
    return frame.group_by("customer_id", "day").agg(pl.col("amount").sum())


def summarize_purchases(purchases: pl.DataFrame, observation_end_day: float) -> pl.DataFrame:
    """The summary of :func:`purchase_days` output observed until ``observation_end_day`` (epoch days).

    Purchases after the end are ignored; customers whose first purchase is after it are not customers
    yet and are absent from the summary.
    """
    seen = purchases.filter(pl.col("day") <= observation_end_day).sort("customer_id", "day")
    return (
        seen.group_by("customer_id", maintain_order=True)
        .agg(
            pl.len().alias("_occasions"),
            pl.col("day").first().alias("first_day"),
            pl.col("day").last().alias("_last_day"),
            pl.col("amount").first().alias("_first_amount"),
            pl.col("amount").sum().alias("_total"),
        )
        .select(
            "customer_id",
            (pl.col("_occasions") - 1).cast(pl.Float64).alias("frequency"),
            (pl.col("_last_day") - pl.col("first_day")).alias("recency"),
            (pl.lit(observation_end_day) - pl.col("first_day")).alias("T"),
            pl.when(pl.col("_occasions") > 1)
            .then((pl.col("_total") - pl.col("_first_amount")) / (pl.col("_occasions") - 1))
            .otherwise(0.0)
            .alias("monetary_value"),
            "first_day",
        )
    )


def summarize_transactions(
    transactions: pl.DataFrame, observation_end: datetime.date | datetime.datetime | None = None
) -> pl.DataFrame:
    """Per-customer ``frequency``, ``recency``, ``T``, ``monetary_value`` (days) and ``first_day`` (epoch
    days) observed until ``observation_end`` (default: the last purchase)."""
    purchases = purchase_days(transactions)
    if purchases.height == 0:
        raise InvalidInputError("there are no purchases to summarize")
    end = purchases["day"].max() if observation_end is None else epoch_days(observation_end)
    return summarize_purchases(purchases, float(end))  # type: ignore[arg-type]


def validate_summary(summary: pl.DataFrame, *, monetary: bool = False) -> None:
    """Refuse a summary the likelihoods would silently misread; ``monetary`` also checks spend."""
    needed = [*SUMMARY_COLUMNS, *(["monetary_value"] if monetary else [])]
    missing = [column for column in needed if column not in summary.columns]
    if missing:
        raise InvalidInputError(f"the summary needs columns {needed}; missing {missing}")
    if summary.height == 0:
        raise InvalidInputError("the summary has no customers")
    values = summary.select(pl.col(needed).cast(pl.Float64))
    if values.select(pl.any_horizontal(pl.col(needed).is_null() | ~pl.col(needed).is_finite()).any()).item():
        raise InvalidInputError("the summary has null or non-finite values")
    checks = {
        "frequency must be a non-negative whole number": (pl.col("frequency") < 0)
        | (pl.col("frequency") != pl.col("frequency").floor()),
        "recency must lie in [0, T]": (pl.col("recency") < 0) | (pl.col("recency") > pl.col("T")),
        "recency must be 0 for customers without repeat purchases": (pl.col("frequency") == 0)
        & (pl.col("recency") != 0),
    }
    if monetary:
        checks["monetary_value must be positive for repeat buyers"] = (pl.col("frequency") > 0) & (
            pl.col("monetary_value") <= 0
        )
    for reason, violated in checks.items():
        count = values.select(violated.sum()).item()
        if count:
            raise InvalidInputError(f"{reason} ({count} customers violate it)")


def as_summary(
    data: pl.DataFrame, observation_end: datetime.date | datetime.datetime | None = None
) -> pl.DataFrame:
    """Accept transactions or a summary; return a validated summary."""
    summary = summarize_transactions(data, observation_end) if is_transactions(data) else data
    validate_summary(summary)
    return summary


@dataclass(frozen=True)
class RFM:
    """The summary as float64 arrays, the form the likelihoods compute on."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray

    @classmethod
    def from_frame(cls, summary: pl.DataFrame) -> RFM:
        return cls(
            summary["frequency"].cast(pl.Float64).to_numpy(),
            summary["recency"].cast(pl.Float64).to_numpy(),
            summary["T"].cast(pl.Float64).to_numpy(),
        )
