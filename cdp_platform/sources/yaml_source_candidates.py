"""Identity candidates of the sources declared in YAML: their people, for identity resolution.

Identity resolution reads ``int_identity_candidates`` (one row per person-like record, the same
columns for every source). The shipped sources reach it through their dbt staging models; a YAML
source has none, so each of its cleansed entities whose fields carry identity roles gets one
asset, ``identity_candidates/<source>/<entity>``, writing the table
``identity_candidates.<source>__<entity>`` in exactly those columns: the role's field fills its
column (already normalized by the cleansed layer: emails lowercased, phones E.164, names cased),
``record_id`` is ``<source>:<entity>:<record id>`` as every person record key, and each record
appears once, at its latest version across all the cleansed partitions (first and last seen are
its earliest and latest change). ``int_identity_candidates`` unions every table of that schema
(the ``configured_identity_candidates`` macro), and the asset is one of its dependencies, so it
is built before the profile reads it.
"""

from collections.abc import Sequence

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.cleansed.entity import CleansedEntity, record_key_prefix
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.sources.profiles import profile_identifiers
from cdp_platform.sources.registry import configured
from cdp_platform.sources.yaml_source import CANDIDATE_COLUMN

CANDIDATE_SCHEMA = "identity_candidates"
# The dbt model the candidates are unioned into (and the identity asset reads).
CANDIDATES_MODEL = dg.AssetKey("int_identity_candidates")
# The columns of int_identity_candidates, with their types; the networks' identifier columns come
# from the declarations (``profile_identifier``) between the CRM id and the web client id.
_PERSON_COLUMNS: dict[str, pl.DataType] = {
    "record_id": pl.String(),
    "source": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "full_name": pl.String(),
    "email": pl.String(),
    "phone": pl.String(),
    "date_of_birth": pl.Date(),
    "street": pl.String(),
    "city": pl.String(),
    "postcode": pl.String(),
    "country": pl.String(),
    "crm_id": pl.String(),
}
_SEEN_COLUMNS: dict[str, pl.DataType] = {
    "ga_client_id": pl.String(),
    "first_seen_at": pl.Datetime("us", "UTC"),
    "last_seen_at": pl.Datetime("us", "UTC"),
}


def candidate_columns() -> dict[str, pl.DataType]:
    """The identity input's columns, the declared networks' identifiers included."""
    networks = {p.column: pl.String() for p in profile_identifiers()}
    return {**_PERSON_COLUMNS, **networks, **_SEEN_COLUMNS}

def candidate_table(entity: CleansedEntity) -> str:
    return f"{CANDIDATE_SCHEMA}.{entity.source}__{entity.entity}"


def has_identity(entity: CleansedEntity) -> bool:
    return any(f.role in CANDIDATE_COLUMN for f in entity.fields)


def candidates(entity: CleansedEntity, cleansed: pl.DataFrame) -> pl.DataFrame:
    """One candidate per record of the cleansed table (every partition of it), at its latest version."""
    if cleansed.is_empty():
        return pl.DataFrame(schema=candidate_columns())
    seen = cleansed.group_by("record_id").agg(
        pl.col("updated_at").min().alias("first_seen_at"), pl.col("updated_at").max().alias("last_seen_at")
    )
    latest = (
        cleansed.sort(["record_id", "updated_at", "partition_date"], nulls_last=False)
        .unique(subset=["record_id"], keep="last", maintain_order=True)
        .join(seen, on="record_id", how="left")
    )
    by_column: dict[str, pl.Expr] = {}
    for field_ in entity.fields:
        column = CANDIDATE_COLUMN.get(field_.role or "")
        if column is not None and column not in by_column:
            by_column[column] = pl.col(field_.name)
    if "full_name" not in by_column and {"first_name", "last_name"} <= by_column.keys():
        by_column["full_name"] = pl.concat_str(
            [by_column["first_name"], by_column["last_name"]], separator=" ", ignore_nulls=True
        )
    prefix = record_key_prefix(entity.source, entity.entity)
    computed = {
        "record_id": pl.lit(prefix) + pl.col("record_id"),
        "source": pl.lit(f"{entity.source}/{entity.entity}"),
        "first_seen_at": pl.col("first_seen_at"),
        "last_seen_at": pl.col("last_seen_at"),
        **by_column,
    }
    return latest.select(
        (computed[name] if name in computed else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in candidate_columns().items()
    ).sort("record_id")


def _read_cleansed(connection, entity: CleansedEntity) -> pl.DataFrame:
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [entity.schema_name, entity.entity],
    ).fetchone()[0]
    if not exists:
        return pl.DataFrame()
    return connection.execute(f"select * from {entity.schema_name}.{entity.entity}").pl()


def candidate_asset(entity: CleansedEntity) -> dg.AssetsDefinition:
    @dg.asset(
        key=[CANDIDATE_SCHEMA, entity.source, entity.entity],
        deps=[dg.AssetKey(entity.asset_path)],
        group_name="profile",
        kinds={"python", "duckdb"},
        pool=WAREHOUSE_POOL,
        metadata={"table": candidate_table(entity)},
        description=(
            f"The people of cleansed/{entity.source}/{entity.entity} as identity candidates (one per "
            "record, latest version; the fields with identity roles), unioned into int_identity_candidates."
        ),
    )
    def _candidates(context: dg.AssetExecutionContext, warehouse: DuckDBResource) -> dg.MaterializeResult:
        with warehouse.get_connection() as connection:
            frame = candidates(entity, _read_cleansed(connection, entity))
            rows = frame.to_arrow()  # noqa: F841  (DuckDB reads the Python variable by name)
            connection.execute(f"create schema if not exists {CANDIDATE_SCHEMA}")
            # Replaced whole: the table is derived from every cleansed partition, so a re-run or a
            # backfill below never doubles a candidate.
            connection.execute(f"create or replace table {candidate_table(entity)} as select * from rows")
        counts = {
            f"with_{column}": dg.MetadataValue.int(frame.height - frame[column].null_count())
            for column in ("email", "phone", "full_name", "crm_id")
        }
        return dg.MaterializeResult(metadata={"candidates": dg.MetadataValue.int(frame.height), **counts})

    return _candidates


def candidate_assets() -> list[dg.AssetsDefinition]:
    """One asset per cleansed entity of a YAML source whose fields identify a person."""
    return [
        candidate_asset(entity)
        for source in configured().values()
        for entity in source.entities
        if has_identity(entity)
    ]


def feeding_candidates(
    profile_assets: Sequence[dg.AssetsDefinition], candidate_keys: Sequence[dg.AssetKey]
) -> list[dg.AssetsDefinition]:
    """The profile's assets with ``int_identity_candidates`` depending on the YAML sources'
    candidate assets (the dbt model reads their tables by schema, which dbt's manifest cannot say)."""
    if not candidate_keys:
        return list(profile_assets)

    def with_deps(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.key != CANDIDATES_MODEL:
            return spec
        return spec.replace_attributes(deps=[*spec.deps, *(dg.AssetDep(key) for key in candidate_keys)])

    return [
        a.map_asset_specs(with_deps)
        if isinstance(a, dg.AssetsDefinition) and CANDIDATES_MODEL in a.keys
        else a
        for a in profile_assets
    ]
