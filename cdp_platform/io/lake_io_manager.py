"""IO manager for the raw lake: one Parquet file per asset partition.

Layout: ``<lake root>/<asset key path>/<partition key>.parquet`` (``.../__all__.parquet`` for an
unpartitioned asset). Writing partition D replaces exactly that one file, atomically (see
:mod:`cdp_platform.io.lake`), so a re-run or a backfill of D never duplicates rows and never
touches D-1.

Loading follows what the downstream asks for: one partition, a range (a partitioned downstream
with a partition mapping, or a single-run backfill), or every partition of the upstream (an
unpartitioned downstream). A partition in the requested set that was never materialized is an
error naming it, unless the input is declared with ``metadata={"allow_missing_partitions": True}``,
the convention of Dagster's own UPath IO managers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import dagster as dg
import polars as pl
from pydantic import Field

from cdp_platform.io.lake import Lake, LakeError, lake_from_root

UNPARTITIONED = "__all__"


def table_schema(frame: pl.DataFrame, declared: dg.TableSchema | None = None) -> dg.TableSchema:
    """The columns written, with their types and, for those the asset's declared
    ``dagster/column_schema`` describes, its descriptions: the materialization's schema is the one
    the UI shows, so what a column holds is not lost once the asset has run."""
    described = {c.name: c.description for c in declared.columns} if declared is not None else {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(dtype), description=described.get(name))
            for name, dtype in frame.schema.items()
        ]
    )


def declared_schema(context: dg.OutputContext) -> dg.TableSchema | None:
    """The ``dagster/column_schema`` the output's asset declares, if any."""
    value = (context.definition_metadata or {}).get("dagster/column_schema")
    if isinstance(value, dg.TableSchemaMetadataValue):
        return value.schema
    return value if isinstance(value, dg.TableSchema) else None


def partition_file(asset_key: dg.AssetKey, partition_key: str | None) -> str:
    return "/".join([*asset_key.path, f"{partition_key or UNPARTITIONED}.parquet"])


def write_frame(lake: Lake, key: str, frame: pl.DataFrame) -> int:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    data = buffer.getvalue()
    lake.write_bytes(key, data)
    return len(data)


def _file_metadata(
    lake: Lake, key: str, frame: pl.DataFrame, size: int, declared: dg.TableSchema | None = None
) -> dict:
    return {
        "row_count": dg.MetadataValue.int(frame.height),
        "bytes": dg.MetadataValue.int(size),
        "uri": dg.MetadataValue.path(lake.uri(key)),
        "dagster/column_schema": table_schema(frame, declared),
    }


def read_frame(lake: Lake, key: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(lake.read_bytes(key)))


def _missing_message(asset_key: dg.AssetKey, missing: Sequence[str], lake: Lake) -> str:
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        f"{asset_key.to_user_string()}: {len(missing)} partition(s) of the requested range were never "
        f"materialized ({shown}); looked under {lake.uri('/'.join(asset_key.path))}. Materialize them "
        "first (a backfill of that range), or narrow the range."
    )


class RawLakeIOManager(dg.ConfigurableIOManager):
    """Stores polars DataFrames as Parquet in the lake, one file per partition."""

    lake_root: str = Field(default=".cdp/lake", description="A folder, or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint; unset for AWS.")
    s3_region: str = Field(default="us-east-1")

    def lake(self) -> Lake:
        return lake_from_root(self.lake_root, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the raw lake stores polars DataFrames, got "
                f"{type(obj).__name__}"
            )
        lake = self.lake()
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            self._write_range(context, lake, obj)
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        key = partition_file(context.asset_key, partition)
        size = write_frame(lake, key, obj)
        context.add_output_metadata(_file_metadata(lake, key, obj, size, declared_schema(context)))

    def _write_range(self, context: dg.OutputContext, lake: Lake, obj: pl.DataFrame) -> None:
        """One output covering several daily partitions (a single-run backfill): each day's rows
        go to that day's own file, chosen by ``partition_date``, and each day's materialization
        gets its own row count, size and path. A day without rows gets an empty file, as a
        one-day run would write it."""
        if "partition_date" not in obj.columns:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: one output covers {len(context.asset_partition_keys)} "
                "partitions but has no partition_date column to split it by day."
            )
        wanted = list(context.asset_partition_keys)
        by_day = {
            str(day): part
            for (day,), part in obj.partition_by("partition_date", as_dict=True, maintain_order=True).items()
        }
        outside = sorted(set(by_day) - set(wanted))
        if outside:
            raise ValueError(
                f"{context.asset_key.to_user_string()}: rows of {', '.join(outside[:5])} are outside the "
                f"run's range {wanted[0]}..{wanted[-1]}."
            )
        empty = obj.clear()
        for partition in wanted:
            part = by_day.get(partition, empty)
            key = partition_file(context.asset_key, partition)
            size = write_frame(lake, key, part)
            context.step_context.add_asset_metadata(
                _file_metadata(lake, key, part, size, declared_schema(context)),
                asset_key=context.asset_key,
                partition_key=partition,
            )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        asset_key = context.asset_key
        lake = self.lake()
        if not context.has_asset_partitions:
            return read_frame(lake, partition_file(asset_key, None))
        keys = list(context.asset_partition_keys)
        files = [partition_file(asset_key, key) for key in keys]
        present = set(lake.list_keys("/".join(asset_key.path)))
        missing = [key for key, file in zip(keys, files, strict=True) if file not in present]
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions", False))
        if missing and not allow_missing:
            raise LakeError(_missing_message(asset_key, missing, lake))
        frames = [read_frame(lake, file) for file in files if file in present]
        if not frames:
            return pl.DataFrame()
        # Partitions written months apart may differ in columns (vendor drift): keep every column.
        return pl.concat(frames, how="diagonal_relaxed")
