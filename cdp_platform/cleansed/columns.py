"""The Pandera column rules the cleansed tables share, so one kind of value is checked one way.

An identifier is a non-empty string, unique within its partition; an email matches the same syntax
the quarantine enforces; a phone is E.164; a timestamp is UTC; money and counts are not negative.
Nullable unless the entity's fields make the value required.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandera.polars as pa
import polars as pl

from cdp_platform.cleansed.normalize import AMOUNT, EMAIL_PATTERN, LETTER, UTC_DATETIME

E164_PATTERN = r"^\+[1-9]\d{6,14}$"
HANDLE_PATTERN = r"^[a-z0-9_.]{1,30}$"


def identifier(*, unique: bool = True) -> pa.Column:
    return pa.Column(pl.String, nullable=False, unique=unique, checks=pa.Check.str_length(min_value=1))


def reference() -> pa.Column:
    """The id of another record (an account, a post): optional, never empty when present."""
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_length(min_value=1))


def text(*, nullable: bool = True) -> pa.Column:
    return pa.Column(pl.String, nullable=nullable)


def person_name() -> pa.Column:
    """A first, last or full name: it has a letter in some script (an emoji or a flag left of a
    display name is not a name, issue 17)."""
    # A polars expression rather than Check.str_contains: pandera compiles that pattern with
    # Python's re, which has no \p{L}.
    has_a_letter = pa.Check(
        lambda data: data.lazyframe.select(pl.col(data.key).str.contains(LETTER).fill_null(True)),
        name="has_a_letter",
        error="a name has at least one letter",
    )
    return pa.Column(pl.String, nullable=True, checks=has_a_letter)


def one_of(values: Iterable[str]) -> pa.Column:
    return pa.Column(pl.String, nullable=True, checks=pa.Check.isin(sorted(values)))


def email() -> pa.Column:
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(EMAIL_PATTERN))


def phone() -> pa.Column:
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(E164_PATTERN))


def handle() -> pa.Column:
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(HANDLE_PATTERN))


def country_code() -> pa.Column:
    return pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(r"^[A-Z]{2}$"))


def timestamp(*, nullable: bool = True) -> pa.Column:
    return pa.Column(UTC_DATETIME, nullable=nullable)


def day(*, nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Date, nullable=nullable)


def amount() -> pa.Column:
    return pa.Column(AMOUNT, nullable=True, checks=pa.Check.ge(0))


def count(*, nullable: bool = True) -> pa.Column:
    return pa.Column(pl.Int64, nullable=nullable, checks=pa.Check.ge(0))


def flag() -> pa.Column:
    return pa.Column(pl.Boolean, nullable=True)


def name_columns() -> dict[str, pa.Column]:
    return {"first_name": person_name(), "last_name": person_name(), "full_name": person_name()}


def person_columns() -> dict[str, pa.Column]:
    """The columns identity resolution reads, with the same rules in every table that has them."""
    return {
        **name_columns(),
        "email": email(),
        "phone": phone(),
    }
