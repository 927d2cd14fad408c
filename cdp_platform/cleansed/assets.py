"""The cleansed assets, built from :class:`~cdp_platform.cleansed.entity.CleansedEntity` specs.

Each entity becomes one multi-asset with two tables in the warehouse, ``cleansed/<source>/<entity>``
and ``cleansed/<source>/<entity>_rejected`` (the quarantine), partitioned like raw, and five checks
that run with every materialization: the blocking identifier schema, the warning value schema,
the accounting invariant, schema drift and the quarantine size.

A backfill runs as one run over its whole range (``BackfillPolicy.single_run``): the raw range is
read once, cleansed partition by partition, and the warehouse replaces exactly that range.
"""

from datetime import date

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.cleansed import checks
from cdp_platform.cleansed.entity import (
    REJECTED_COLUMNS,
    REJECTED_SCHEMA,
    CleansedEntity,
    cleanse,
    column_descriptions,
)
from cdp_platform.io.warehouse import WAREHOUSE_POOL

PARTITION_EXPR = "partition_date"


def _check_specs(entity: CleansedEntity) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(entity.asset_path)
    return [
        dg.AssetCheckSpec(
            "identifiers_schema",
            asset=key,
            blocking=True,
            description=f"Pandera: {', '.join(entity.key_columns)} are present, typed and unique per partition.",
        ),
        dg.AssetCheckSpec(
            "values_schema", asset=key, description="Pandera: every other column's type and rules."
        ),
        dg.AssetCheckSpec(
            "raw_rows_accounted_for",
            asset=key,
            blocking=True,
            description="raw rows = cleansed rows + rejected rows + collapsed duplicates, per run.",
        ),
        dg.AssetCheckSpec(
            "schema_drift",
            asset=key,
            description="Fields in the accepted raw payloads against the expected fields.",
        ),
        dg.AssetCheckSpec(
            "quarantine_empty",
            asset=dg.AssetKey(entity.rejected_path),
            description="Warns while rows of this range are quarantined.",
        ),
    ]


def _stored_rows(connection: duckdb.DuckDBPyConnection, table: str, dates: list) -> int:
    if not dates:
        return 0
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_schema || '.' || table_name = ?", [table]
    ).fetchone()[0]
    if not exists:
        return 0
    return connection.execute(
        f"select count(*) from {table} where {PARTITION_EXPR} in (select unnest(?::date[]))", [dates]
    ).fetchone()[0]


def column_schema(entity: CleansedEntity) -> dg.TableSchema:
    """The cleansed table's columns, types and what each holds (what dbt staging reads), shown in
    the Dagster UI.

    Derived by cleansing an empty raw partition, so it is exactly what the asset writes."""
    empty = pl.DataFrame(
        schema={
            "record_id": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "payload": pl.String,
            "context": pl.String,
        }
    )
    clean = cleanse(empty, entity, date(1970, 1, 1)).clean
    return _described(clean.schema, column_descriptions(entity))


def rejected_column_schema() -> dg.TableSchema:
    """The quarantine's columns, the same for every entity."""
    return _described(pl.Schema(REJECTED_SCHEMA), REJECTED_COLUMNS)


def _described(schema: pl.Schema, descriptions: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=descriptions.get(name) or None)
            for name, dtype in schema.items()
        ]
    )


def build_cleansed_asset(
    entity: CleansedEntity, partitions_def: dg.PartitionsDefinition, phone_region: str
) -> dg.AssetsDefinition:
    schema_meta = {"partition_expr": PARTITION_EXPR, "schema": entity.schema_name}
    clean_meta = {**schema_meta, "dagster/column_schema": column_schema(entity)}
    rejected_meta = {**schema_meta, "dagster/column_schema": rejected_column_schema()}

    @dg.multi_asset(
        name=f"cleansed_{entity.source}_{entity.entity}",
        outs={
            "clean": dg.AssetOut(
                key=entity.asset_path,
                group_name="cleansed",
                metadata=clean_meta,
                description=entity.description or f"{entity.source} {entity.entity}, typed and normalized.",
                kinds={"polars", "duckdb"},
            ),
            "rejected": dg.AssetOut(
                key=entity.rejected_path,
                group_name="cleansed",
                metadata=rejected_meta,
                description=f"Quarantine of {entity.source} {entity.entity}: each rejected raw row with its rule.",
                kinds={"polars", "duckdb"},
            ),
        },
        ins={"raw": dg.AssetIn(key=entity.raw_path)},
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        check_specs=_check_specs(entity),
        required_resource_keys={"warehouse"},
    )
    def _cleansed(context: dg.AssetExecutionContext, raw: pl.DataFrame):
        keys = context.partition_keys
        frames, rejected, payloads, collapsed = [], [], [], 0
        for key in keys:
            day = pl.Series([key]).str.to_date()[0]
            part = raw.filter(pl.col("partition_date") == day) if raw.height else raw
            result = cleanse(part, entity, day, phone_region)
            frames.append(result.clean)
            rejected.append(result.rejected)
            payloads.append(result.accepted_payloads)
            collapsed += result.collapsed
        clean = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        quarantined = pl.concat(rejected) if rejected else pl.DataFrame()
        yield dg.Output(clean, output_name="clean", metadata={"collapsed_duplicates": collapsed})
        yield dg.Output(quarantined, output_name="rejected")

        asset_key = dg.AssetKey(entity.asset_path)
        yield checks.schema_check(
            clean,
            entity.schema,
            entity.key_columns,
            check_name="identifiers_schema",
            asset_key=asset_key,
            severity=dg.AssetCheckSeverity.ERROR,
            partition_column=PARTITION_EXPR,
        )
        yield checks.schema_check(
            clean,
            entity.schema,
            [c for c in entity.schema.columns if c not in entity.key_columns],
            check_name="values_schema",
            asset_key=asset_key,
            severity=dg.AssetCheckSeverity.WARN,
            partition_column=PARTITION_EXPR,
        )
        dates = [pl.Series([k]).str.to_date()[0] for k in keys]
        warehouse: DuckDBResource = context.resources.warehouse
        with warehouse.get_connection() as connection:
            stored_clean = _stored_rows(connection, f"{entity.schema_name}.{entity.entity}", dates)
            stored_rejected = _stored_rows(
                connection, f"{entity.schema_name}.{entity.entity}_rejected", dates
            )
        yield checks.invariant_check(
            asset_key=asset_key,
            raw_rows=raw.height,
            stored_clean=stored_clean,
            stored_rejected=stored_rejected,
            collapsed=collapsed,
        )
        yield checks.drift_check(
            asset_key=asset_key,
            payloads=pl.concat(payloads) if payloads else pl.Series([], dtype=pl.String),
            expected=entity.expected_payload,
        )
        by_rule = (
            quarantined.group_by("rule", "field").agg(pl.len().alias("rows")).sort("rows", descending=True)
            if quarantined.height
            else None
        )
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(entity.rejected_path),
            check_name="quarantine_empty",
            passed=quarantined.height == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{quarantined.height} row(s) quarantined",
            metadata={
                "rejected_rows": quarantined.height,
                "by_rule": dg.MetadataValue.md(
                    checks.markdown_table(by_rule) if by_rule is not None else "none"
                ),
            },
        )

    return _cleansed
