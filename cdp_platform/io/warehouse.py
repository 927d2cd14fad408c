"""The DuckDB warehouse: an IO manager for polars DataFrames and the writer pool.

Built on ``dagster-duckdb-polars`` so partition handling is Dagster's own: an asset with a
``partition_expr`` metadata entry has exactly its partition's rows deleted and re-inserted on
every materialization, so a re-run replaces its slice and never doubles it.

DuckDB allows one writing process per database file. Every asset that writes the warehouse is
put in the :data:`WAREHOUSE_POOL` Dagster pool, whose limit of 1 (set in the instance's
``dagster.yaml``) serializes writers across runs, so concurrent runs queue instead of failing
with lock errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import polars as pl
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDBIOManager
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

from cdp_platform.io.lake_io_manager import table_schema

WAREHOUSE_POOL = "duckdb_writer"


class WarehousePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """The stock handler, except that an empty frame still creates (or keeps) its table.

    The stock handler skips empty frames entirely, so a day without records would leave no table
    and every downstream query would fail on a missing relation. An empty partition is a fact
    (nothing changed that day), not an error.
    """

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection
    ) -> None:
        obj_arrow = obj.to_arrow()  # noqa: F841  (DuckDB resolves the Python variable by name)
        connection.execute(f'create schema if not exists "{table_slice.schema}"')
        connection.execute(
            f'create table if not exists "{table_slice.schema}"."{table_slice.table}" as '
            "select * from obj_arrow limit 0"
        )
        existing = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [table_slice.schema, table_slice.table],
            ).fetchall()
        }
        # A column the vendor started sending is added rather than failing the insert; the drift
        # check of the cleansed layer reports it.
        for name, duck_type, *_ in connection.execute("describe select * from obj_arrow").fetchall():
            if name not in existing:
                connection.execute(
                    f'alter table "{table_slice.schema}"."{table_slice.table}" add column "{name}" {duck_type}'
                )
        if obj.height:
            connection.execute(
                f'insert into "{table_slice.schema}"."{table_slice.table}" by name select * from obj_arrow'
            )
        context.add_output_metadata(
            {
                "dagster/row_count": dg.MetadataValue.int(obj.height),
                "dagster/column_schema": table_schema(obj),
                "table": dg.MetadataValue.text(f"{table_slice.schema}.{table_slice.table}"),
            }
        )


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager for polars DataFrames, partition-aware through ``partition_expr``."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [WarehousePolarsTypeHandler()]

    @staticmethod
    def default_load_type() -> type:
        return pl.DataFrame
