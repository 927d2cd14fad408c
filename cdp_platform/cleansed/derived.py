"""Columns derived from other cleansed columns, shared by entities about a person.

A system holds either the parts of a name (CRMs) or the whole of it (social networks); identity
resolution compares both, so each table gets all three: ``full_name`` from the parts when the
system has none, and the parts from ``full_name`` (first word, last word) when it has only that.
"""

from __future__ import annotations

import polars as pl


def full_name_from_parts(frame: pl.DataFrame) -> pl.DataFrame:
    joined = pl.concat_str([pl.col("first_name"), pl.col("last_name")], separator=" ", ignore_nulls=True)
    full = pl.when(joined == "").then(None).otherwise(joined)
    if "full_name" in frame.columns:
        return frame.with_columns(pl.coalesce(pl.col("full_name"), full).alias("full_name"))
    return frame.with_columns(full.alias("full_name"))


def parts_from_full_name(frame: pl.DataFrame) -> pl.DataFrame:
    """``Mary Ann Smith`` → first ``Mary``, last ``Smith``; a single word is a first name. Parts the
    system already holds (a form that asked for them) are kept."""
    words = pl.col("full_name").str.split(" ")
    first = words.list.first()
    last = pl.when(words.list.len() > 1).then(words.list.last()).otherwise(None)
    if "first_name" in frame.columns:
        first = pl.coalesce(pl.col("first_name"), first)
    if "last_name" in frame.columns:
        last = pl.coalesce(pl.col("last_name"), last)
    return frame.with_columns(first.alias("first_name"), last.alias("last_name"))


def null_placeholders(column: str, placeholders: tuple[str, ...]) -> pl.Expr:
    """A vendor's "no value" spelled as a value (``(not set)``, ``[not provided]``; each entity declares its own)."""
    return (
        pl.when(pl.col(column).is_in(list(placeholders))).then(None).otherwise(pl.col(column)).alias(column)
    )
