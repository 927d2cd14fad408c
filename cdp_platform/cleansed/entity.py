"""How a raw stream becomes a cleansed table: a declarative spec and the pure function that applies it.

A cleansed entity is data: which fields to read from the raw payload (a JSONPath each) and what
kind of value each holds. :func:`cleanse` turns one raw partition into three parts that together
account for every raw row:

- ``clean``: typed, normalized rows, the latest version of each id within the partition;
- ``rejected``: rows that broke a row-level rule, with the rule and the offending value;
- ``collapsed``: how many older versions of an id were dropped in favour of the latest.

so that ``raw rows = clean + rejected + collapsed`` always holds (the invariant check verifies it
against what was actually stored). Row rules follow from the field kinds: a timestamp that cannot
be read, an email that fails the syntax check, a number that is not a number, a required value
that is missing. Nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from cdp_platform.cleansed import normalize

KINDS = ("string", "timestamp", "date", "email", "phone", "name", "amount", "integer", "float", "boolean")

# Columns every raw partition carries (written by the raw assets) and the cleansed tables keep.
RAW_ID, RAW_UPDATED, RAW_PAYLOAD = "record_id", "updated_at", "payload"


@dataclass(frozen=True)
class Field:
    """One output column: where it is in the raw payload and what kind of value it holds.

    ``path`` is a JSONPath into the payload (``$.properties.email``), or ``None`` when an entity's
    ``prepare`` step already produced a string column named ``name``.
    """

    name: str
    kind: str = "string"
    path: str | None = None
    required: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}; expected one of {KINDS}")


@dataclass(frozen=True)
class CleansedEntity:
    """Everything specific to one cleansed table.

    ``prepare`` runs on the raw frame before normalization, for shapes a JSONPath cannot reach
    (Graph ``field_data`` pivoted to columns); ``extra_columns`` derives columns from the
    normalized ones (a full name from first and last). ``key_columns`` are the identifiers whose
    schema check blocks downstream assets when it fails; the rest of the schema only warns.
    ``expected_payload`` maps each payload field (dotted path) to its JSON type, for drift.
    """

    source: str
    entity: str
    raw_stream: str
    fields: tuple[Field, ...]
    schema: pa.DataFrameSchema
    key_columns: tuple[str, ...]
    expected_payload: dict[str, str]
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    extra_columns: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    description: str = ""

    @property
    def asset_path(self) -> list[str]:
        return ["cleansed", self.source, self.entity]

    @property
    def rejected_path(self) -> list[str]:
        return ["cleansed", self.source, f"{self.entity}_rejected"]

    @property
    def raw_path(self) -> list[str]:
        return ["raw", self.source, self.raw_stream]

    @property
    def schema_name(self) -> str:
        return f"cleansed_{self.source}"


@dataclass(frozen=True)
class CleanseResult:
    clean: pl.DataFrame
    rejected: pl.DataFrame
    raw_rows: int
    collapsed: int
    # Payloads of the rows that passed the row rules: drift is judged on these, since a quarantined
    # record already carries its own reason and one malformed record is not a schema change.
    accepted_payloads: pl.Series


REJECTED_SCHEMA = {
    "record_id": pl.String,
    "updated_at": pl.Datetime("us", "UTC"),
    "rule": pl.String,
    "field": pl.String,
    "value": pl.String,
    "payload": pl.String,
    "partition_date": pl.Date,
}


def _normalized(field_: Field, raw: pl.Expr, phone_region: str) -> pl.Expr:
    kind = field_.kind
    if kind == "timestamp":
        return normalize.timestamp(raw)
    if kind == "date":
        return normalize.date(raw)
    if kind == "email":
        return normalize.email(raw)
    if kind == "phone":
        return normalize.phone(raw, phone_region)
    if kind == "name":
        return normalize.name(raw)
    if kind == "amount":
        return normalize.amount(raw)
    if kind == "integer":
        return normalize.integer(raw)
    if kind == "float":
        return raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    if kind == "boolean":
        return normalize.boolean(raw)
    return pl.when(raw.str.strip_chars() == "").then(None).otherwise(raw.str.strip_chars())


def _violation(field_: Field, raw: pl.Expr, value: pl.Expr) -> tuple[str, pl.Expr] | None:
    """The rule a field breaks on a row, as (rule name, expression true when broken)."""
    present = raw.is_not_null() & (raw.str.strip_chars() != "")
    if field_.kind in ("timestamp", "date"):
        return "unparseable_timestamp", present & value.is_null()
    if field_.kind == "email":
        return "invalid_email", present & ~normalize.email_is_valid(raw).fill_null(False)
    if field_.kind in ("amount", "integer", "float", "boolean"):
        return "wrong_type", present & value.is_null()
    return None


def cleanse(
    raw: pl.DataFrame, entity: CleansedEntity, partition_date, phone_region: str = "US"
) -> CleanseResult:
    """Apply ``entity`` to one raw partition (columns ``record_id``, ``updated_at``, ``payload``)."""
    frame = raw.select(RAW_ID, RAW_UPDATED, RAW_PAYLOAD)
    frame = frame.with_columns(
        [
            pl.col(RAW_PAYLOAD).str.json_path_match(f.path).alias(f"__raw_{f.name}")
            for f in entity.fields
            if f.path is not None
        ]
    )
    if entity.prepare is not None:
        frame = entity.prepare(frame)
    for f in entity.fields:
        if f.path is None:
            frame = frame.with_columns(pl.col(f.name).cast(pl.String).alias(f"__raw_{f.name}"))

    frame = frame.with_columns(
        [_normalized(f, pl.col(f"__raw_{f.name}"), phone_region).alias(f.name) for f in entity.fields]
    )

    # Each row's first broken rule (in field order) is its reason; a row breaks at most one here.
    rule = pl.lit(None, pl.String)
    bad_field = pl.lit(None, pl.String)
    bad_value = pl.lit(None, pl.String)
    checks = []
    for f in entity.fields:
        raw_col = pl.col(f"__raw_{f.name}")
        if f.required:
            checks.append(
                ("missing_required", f.name, raw_col.is_null() | (raw_col.str.strip_chars() == ""), raw_col)
            )
        violation = _violation(f, raw_col, pl.col(f.name))
        if violation is not None:
            checks.append((violation[0], f.name, violation[1], raw_col))
    for name, field_name, broken, raw_col in reversed(checks):
        rule = pl.when(broken).then(pl.lit(name)).otherwise(rule)
        bad_field = pl.when(broken).then(pl.lit(field_name)).otherwise(bad_field)
        bad_value = pl.when(broken).then(raw_col).otherwise(bad_value)
    frame = frame.with_columns(rule.alias("__rule"), bad_field.alias("__field"), bad_value.alias("__value"))

    partition = pl.lit(partition_date, pl.Date).alias("partition_date")
    rejected = frame.filter(pl.col("__rule").is_not_null()).select(
        pl.col(RAW_ID).alias("record_id"),
        pl.col(RAW_UPDATED).alias("updated_at"),
        pl.col("__rule").alias("rule"),
        pl.col("__field").alias("field"),
        pl.col("__value").alias("value"),
        pl.col(RAW_PAYLOAD).alias("payload"),
        partition,
    )
    accepted = frame.filter(pl.col("__rule").is_null())
    originals = [
        pl.col(f"__raw_{f.name}").alias(f"{f.name}_original")
        for f in entity.fields
        if f.kind in ("email", "phone")
    ]
    accepted = accepted.select(
        pl.col(RAW_ID).alias("record_id"),
        pl.col(RAW_UPDATED).alias("updated_at"),
        *[pl.col(f.name) for f in entity.fields if f.name not in ("record_id", "updated_at")],
        *originals,
        partition,
    )
    if entity.extra_columns is not None:
        accepted = entity.extra_columns(accepted)
    latest = accepted.sort(["record_id", "updated_at"], nulls_last=False).unique(
        subset=["record_id"], keep="last", maintain_order=True
    )
    return CleanseResult(
        clean=latest,
        rejected=rejected.cast(REJECTED_SCHEMA),  # type: ignore[arg-type]
        raw_rows=raw.height,
        collapsed=accepted.height - latest.height,
        accepted_payloads=frame.filter(pl.col("__rule").is_null())[RAW_PAYLOAD],
    )
