"""The cleansed layer's asset checks, as functions from data to ``AssetCheckResult``.

- Pandera schemas, split in two checks: the identifier columns (blocking: a broken id would merge
  or lose people downstream) and the rest (a warning). A failure shows how many rows broke which
  check of which column, and sample failing rows.
- The accounting invariant: raw rows = stored clean rows + stored rejected rows + collapsed
  duplicates, counted from what the warehouse actually holds for the partition.
- Schema drift: the fields seen in the raw payloads against the fields expected, naming each new
  field, missing field and changed type.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping

import dagster as dg
import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

SAMPLE_ROWS = 10


def markdown_table(frame: pl.DataFrame) -> str:
    columns = frame.columns
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.iter_rows():
        cells = ["" if v is None else str(v).replace("|", "\\|")[:80] for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def schema_check(
    frame: pl.DataFrame,
    schema: pa.DataFrameSchema,
    columns: Iterable[str],
    *,
    check_name: str,
    asset_key: dg.AssetKey,
    severity: dg.AssetCheckSeverity,
    id_column: str = "record_id",
    partition_column: str | None = None,
) -> dg.AssetCheckResult:
    """Validate ``columns`` of ``frame`` against ``schema`` and report every failure at once.

    With ``partition_column``, each partition is validated on its own: a backfill cleanses many
    days in one run, and an id changed on two days is rightly present once in each of them, so
    uniqueness means unique within a partition.
    """
    wanted = [c for c in columns if c in schema.columns]
    sub = schema.select_columns(wanted) if wanted else schema
    if partition_column is not None and partition_column in frame.columns and frame.height:
        frame = frame.sort(partition_column, maintain_order=True)
        parts = frame.partition_by(partition_column, maintain_order=True)
    else:
        parts = [frame]
    found, offset = [], 0
    for part in parts:
        part_failures = _failures(sub, part)
        if part_failures is not None and not part_failures.is_empty():
            found.append(part_failures.with_columns((pl.col("index").cast(pl.Int64) + offset).alias("index")))
        offset += part.height
    failures = pl.concat(found, how="diagonal_relaxed") if found else None
    if failures is None or failures.is_empty():
        return dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=check_name,
            passed=True,
            severity=severity,
            metadata={"rows": frame.height, "columns_checked": ", ".join(wanted)},
        )
    counts = failures.group_by("column", "check").agg(pl.len().alias("rows")).sort("rows", descending=True)
    # Which record failed which check, never the values: they are people's emails, phones and names,
    # and the event log (PostgreSQL in production) is beyond the reach of an erasure. The record id
    # finds the row in the warehouse, where erasure does reach.
    ids = (
        frame.with_row_index("index").select(
            pl.col("index").cast(pl.Int64), pl.col(id_column).cast(pl.String)
        )
        if id_column in frame.columns
        else pl.DataFrame(schema={"index": pl.Int64, id_column: pl.String})
    )
    sample = (
        failures.join(ids, on="index", how="left")
        .sort("index", nulls_last=True)
        .select(id_column, "column", "check")
        .head(SAMPLE_ROWS)
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=False,
        severity=severity,
        description=f"{failures.height} failure(s) in {counts.height} column check(s)",
        metadata={
            "rows": frame.height,
            "failures": failures.height,
            "failures_by_check": dg.MetadataValue.md(markdown_table(counts)),
            "sample_failing_rows": dg.MetadataValue.md(markdown_table(sample)),
        },
    )


def _failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame | None:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return exc.failure_cases.select(
            pl.col("column").cast(pl.String),
            pl.col("check").cast(pl.String),
            pl.col("failure_case").cast(pl.String),
            pl.col("index").cast(pl.Int64),
        )
    except SchemaError as exc:  # raised for frame-level problems even in lazy mode
        return pl.DataFrame(
            {
                "column": [getattr(exc.schema, "name", None)],
                "check": [str(exc.check)],
                "failure_case": [str(exc)],
                "index": [None],
            },
            schema={"column": pl.String, "check": pl.String, "failure_case": pl.String, "index": pl.Int64},
        )
    return None


def invariant_check(
    *,
    asset_key: dg.AssetKey,
    raw_rows: int,
    stored_clean: int,
    stored_rejected: int,
    collapsed: int,
) -> dg.AssetCheckResult:
    accounted = stored_clean + stored_rejected + collapsed
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="raw_rows_accounted_for",
        passed=accounted == raw_rows,
        description=(
            f"raw {raw_rows} = cleansed {stored_clean} + rejected {stored_rejected} + collapsed {collapsed}"
            if accounted == raw_rows
            else f"{raw_rows - accounted} raw row(s) unaccounted for: raw {raw_rows} != cleansed "
            f"{stored_clean} + rejected {stored_rejected} + collapsed {collapsed}"
        ),
        metadata={
            "raw_rows": raw_rows,
            "cleansed_rows": stored_clean,
            "rejected_rows": stored_rejected,
            "collapsed_duplicates": collapsed,
        },
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def observed_fields(payloads: Iterable[str]) -> dict[str, set[str]]:
    """Every field path in the payloads (objects flattened with dots, arrays not entered) and the
    JSON types seen for it."""
    seen: dict[str, set[str]] = defaultdict(set)

    def walk(prefix: str, obj: Mapping) -> None:
        for key, value in obj.items():
            path = f"{prefix}{key}"
            seen[path].add(_json_type(value))
            if isinstance(value, dict):
                walk(f"{path}.", value)

    for text in payloads:
        try:
            record = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(record, dict):
            walk("", record)
    return dict(seen)


def drift_differences(expected: Mapping[str, str], observed: Mapping[str, set[str]]) -> list[str]:
    """Human-readable differences: ``new field x (string)``, ``missing field y``, ``changed type``.

    An expected type ending in ``?`` marks a field the vendor omits when it has no value (Graph and
    several vendors do), so its absence is not drift. The type ``map`` is an object whose keys are
    the account's own (a payment processor's ``metadata``): what is inside it is never drift.
    """
    differences = []
    maps = tuple(f"{path}." for path, kind in expected.items() if kind.rstrip("?") == "map")
    observed = {p: t for p, t in observed.items() if not p.startswith(maps)} if maps else observed
    expected = {p: ("object" + k[3:] if k.startswith("map") else k) for p, k in expected.items()}
    for path in sorted(set(observed) - set(expected)):
        types = "/".join(sorted(observed[path] - {"null"}) or ["null"])
        differences.append(f"new field {path} ({types})")
    for path in sorted(set(expected) - set(observed)):
        if not expected[path].endswith("?"):
            differences.append(f"missing field {path} (expected {expected[path]})")
    for path in sorted(set(expected) & set(observed)):
        wanted = expected[path].rstrip("?")
        unexpected = observed[path] - {"null", wanted}
        if unexpected:
            differences.append(
                f"changed type of {path}: expected {wanted}, got {'/'.join(sorted(unexpected))}"
            )
    return differences


def drift_check(
    *, asset_key: dg.AssetKey, payloads: pl.Series, expected: Mapping[str, str]
) -> dg.AssetCheckResult:
    if payloads.is_empty():
        return dg.AssetCheckResult(
            asset_key=asset_key,
            check_name="schema_drift",
            passed=True,
            description="no raw records in this partition",
            metadata={"records": 0},
        )
    differences = drift_differences(expected, observed_fields(payloads.to_list()))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name="schema_drift",
        passed=not differences,
        description="; ".join(differences) if differences else "raw fields match the expected schema",
        metadata={
            "records": payloads.len(),
            "differences": len(differences),
            "details": dg.MetadataValue.md("\n".join(f"- {d}" for d in differences) or "none"),
        },
    )
