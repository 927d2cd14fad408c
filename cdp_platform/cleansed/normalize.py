"""Normalization of the values vendors send, as polars expressions and small pure functions.

Each function takes the raw value the way some vendor sends it and returns one canonical form, or
null when the value cannot be read. The cleansed assets keep the original beside the canonical
value and quarantine rows whose required values come back null, so nothing is silently changed
or dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import polars as pl

UTC_DATETIME = pl.Datetime("us", "UTC")
AMOUNT = pl.Decimal(18, 2)

# Syntax only (RFC 5322 is far looser than what any mail system accepts): one @, a dot-atom
# local part, a domain with a dot and letters-only top-level label.
EMAIL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"


def timestamp(column: str | pl.Expr) -> pl.Expr:
    """Any vendor timestamp as UTC: ``+0000`` offsets, ``Z``, fractional seconds or not, ms epoch
    (HubSpot property values), ``YYYYMMDD`` (GA4) and ``YYYY-MM-DD`` dates. Unreadable → null."""
    text = (pl.col(column) if isinstance(column, str) else column).cast(pl.String).str.strip_chars()
    # "+0000" and "+00:00" are both ISO 8601; chrono's %z accepts either, %:z only the latter.
    candidates = [
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"),
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", strict=False, time_zone="UTC", time_unit="us"),
        text.str.replace(r"Z$", "+0000").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"
        ),
        text.str.replace(r"Z$", "+0000").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%z", strict=False, time_zone="UTC", time_unit="us"
        ),
        pl.when(text.str.contains(r"^\d{12,14}$"))
        .then(text.cast(pl.Int64, strict=False))
        .otherwise(None)
        .cast(pl.Datetime("ms"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us"),
        pl.when(text.str.contains(r"^\d{8}$"))
        .then(text.str.to_date("%Y%m%d", strict=False))
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
        pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    ]
    return pl.coalesce(candidates)


def date(column: str | pl.Expr) -> pl.Expr:
    return timestamp(column).dt.date()


def email(column: str | pl.Expr) -> pl.Expr:
    """Trimmed and lowercased; the syntax is checked separately by :func:`email_is_valid`."""
    expr = pl.col(column) if isinstance(column, str) else column
    cleaned = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def email_is_valid(column: str | pl.Expr) -> pl.Expr:
    return email(column).str.contains(EMAIL_PATTERN)


@lru_cache(maxsize=200_000)
def phone_to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """A phone number as E.164 (``+14155550123``), or ``None`` when it is not a valid number."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or not re.search(r"\d", text):
        return None
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone(column: str | pl.Expr, default_region: str = "US") -> pl.Expr:
    """E.164 via ``phonenumbers``. Parsing runs once per distinct value (most repeat)."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.cast(pl.String).map_batches(
        lambda series: _phones(series, default_region), return_dtype=pl.String
    )


def _phones(series: pl.Series, default_region: str) -> pl.Series:
    unique = series.unique().drop_nulls()
    mapping = {value: phone_to_e164(value, default_region) for value in unique.to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def name(column: str | pl.Expr) -> pl.Expr:
    """Whitespace collapsed; a word in ALL CAPS or all lowercase title-cased (``McDonald`` is
    kept as typed); empty → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    collapsed = expr.cast(pl.String).str.strip_chars().str.replace_all(r"\s+", " ")
    word = pl.element()
    fixed = (
        collapsed.str.split(" ")
        .list.eval(
            pl.when((word == word.str.to_uppercase()) | (word == word.str.to_lowercase()))
            .then(word.str.to_titlecase())
            .otherwise(word)
        )
        .list.join(" ")
    )
    return pl.when(collapsed == "").then(None).otherwise(fixed)


def amount(column: str | pl.Expr) -> pl.Expr:
    """A money amount (JSON number or numeric string) as Decimal(18, 2); unreadable → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String).str.strip_chars().str.replace_all(",", "")
    return text.cast(pl.Float64, strict=False).round(2).cast(AMOUNT, strict=False)


def integer(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)


def boolean(column: str | pl.Expr) -> pl.Expr:
    """``true``/``false`` in any case, ``1``/``0``, JSON booleans; anything else → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["true", "1", "yes"]))
        .then(True)
        .when(text.is_in(["false", "0", "no"]))
        .then(False)
        .otherwise(None)
    )
