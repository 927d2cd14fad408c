"""One ingestion job per source: its raw multi-asset, one daily partition per run.

A job holds exactly one source's raw assets, so every asset in it shares that multi-asset's
``BackfillPolicy.multi_run(1)`` (Dagster refuses a job whose assets disagree, issue 22254), and
a backfill launched from the job runs partition by partition, each resumable from its checkpoints.
"""

from __future__ import annotations

import dagster as dg

from cdp_platform.sources import SOURCES


def ingestion_job_name(source: str) -> str:
    return f"ingest_{source}"


def raw_asset_keys(source: str) -> list[dg.AssetKey]:
    """The raw assets of one source, one per stream: ``raw/<source>/<stream>``."""
    return [dg.AssetKey(stream.asset_path) for stream in SOURCES[source].STREAMS]


def ingestion_job(source: str) -> dg.UnresolvedAssetJobDefinition:
    """Partitioned like its assets (Dagster infers the daily partitions from the selection)."""
    return dg.define_asset_job(
        name=ingestion_job_name(source),
        selection=dg.AssetSelection.assets(*raw_asset_keys(source)),
        description=f"Raw ingestion of {source}: every stream, one daily partition per run.",
        tags={"cdp/source": source, "cdp/layer": "raw"},
    )


def ingestion_jobs() -> dict[str, dg.UnresolvedAssetJobDefinition]:
    return {source: ingestion_job(source) for source in SOURCES}
