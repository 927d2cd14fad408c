"""Row counts, column types and previews on the dbt models' materializations.

What a user opening ``client_360`` in the UI looks for first: how many rows it has, every column
with its type (not only the columns the dbt YAML documents; their descriptions are kept), and a
few rows to see what the values look like. Read from the warehouse once dbt has exited (see
:func:`cdp_platform.profile.assets.stream_and_clean`).

Previews are stored in Dagster's event log, which the privacy layer's erasure does not reach and
which everyone with UI access reads. So a preview shows only values that identify nobody:
numbers, dates, times and flags, and text columns of a handful of distinct values (a channel, a
country, a source name) in a table many times larger; every other text is shown as
``(hidden)``. The personal values stay in the warehouse, where erasure removes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from cdp_platform.profile.column_descriptions import column_descriptions

PREVIEW_ROWS = 5
# A text column is shown in previews when it holds at most this many distinct values...
CATEGORY_MAX_VALUES = 12
# ...in a table with at least this many rows per distinct value (so it cannot single anyone out).
CATEGORY_MIN_ROWS_PER_VALUE = 20
HIDDEN = "(hidden)"
_SHOWN_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "BOOLEAN",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "INTERVAL",
)


def _shown_type(duck_type: str) -> bool:
    return duck_type.upper().startswith(_SHOWN_TYPES)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:40]


def table_metadata(
    connection: duckdb.DuckDBPyConnection, relation_name: str, descriptions: Mapping[str, str]
) -> dict[str, Any]:
    """``dagster/row_count``, ``dagster/column_schema`` (every column, its type and, where dbt
    documents it, its description) and ``preview`` of one built relation."""
    relation = relation_name  # as dbt names it: "<database>"."<schema>"."<table>", quoted already
    columns = connection.execute(f"describe select * from {relation}").fetchall()
    # The rows and every text column's distinct values in one scan (a staging model is a view: each
    # query of it reads its cleansed table again).
    texts = [name for name, duck_type, *_ in columns if str(duck_type).upper() == "VARCHAR"]
    counts = connection.execute(
        "select "
        + ", ".join(["count(*)", *(f'count(distinct "{name}")' for name in texts)])
        + f" from {relation}"
    ).fetchone()
    rows, distinct = counts[0], dict(zip(texts, counts[1:], strict=True))
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(duck_type), description=descriptions.get(name) or None)
            for name, duck_type, *_ in columns
        ]
    )
    shown = []
    for name, duck_type, *_ in columns:
        if _shown_type(str(duck_type)):
            shown.append(name)
        elif name in distinct and rows:
            if distinct[name] <= CATEGORY_MAX_VALUES and rows >= distinct[name] * CATEGORY_MIN_ROWS_PER_VALUE:
                shown.append(name)
    names = [name for name, *_ in columns]
    sample = connection.execute(f"select * from {relation} limit {PREVIEW_ROWS}").fetchall()
    header = "| " + " | ".join(names) + " |\n|" + "---|" * len(names) + "\n"
    body = "".join(
        "| "
        + " | ".join(
            _cell(v) if n in shown else (HIDDEN if v is not None else "")
            for n, v in zip(names, row, strict=True)
        )
        + " |\n"
        for row in sample
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "dagster/column_schema": schema,
        "preview": dg.MetadataValue.md(
            header + body + f"\n{min(rows, PREVIEW_ROWS)} of {rows} rows; personal text shown as {HIDDEN}."
        ),
    }


def with_table_metadata(
    events: Iterable[Any], manifest: Mapping[str, Any], warehouse: DuckDBResource
) -> Iterator[Any]:
    """The events, each built model's ``Output`` or ``AssetMaterialization`` with its table's metadata.

    A table that cannot be read (a model dbt skipped, a view over a missing input) keeps the
    event as dbt reported it, with the reason in ``table_metadata_error``.
    """
    nodes = manifest.get("nodes", {})
    with warehouse.get_connection() as connection:
        for event in events:
            unique_id = _unique_id(event)
            node = nodes.get(unique_id) if unique_id else None
            if node is None or node.get("resource_type") != "model" or not node.get("relation_name"):
                yield event
                continue
            descriptions = column_descriptions(manifest, unique_id)
            try:
                extra = table_metadata(connection, node["relation_name"], descriptions)
            except duckdb.Error as exc:
                extra = {"table_metadata_error": str(exc).splitlines()[0][:300]}
            yield event.with_metadata({**event.metadata, **extra})


def _unique_id(event: Any) -> str | None:
    if not isinstance(event, dg.Output | dg.AssetMaterialization):
        return None
    value = (event.metadata or {}).get("unique_id")
    if value is None:
        return None
    return value.value if isinstance(value, dg.MetadataValue) else str(value)
