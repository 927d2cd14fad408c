"""One ingestion job per source, and the full rebuild of the profile.

An ingestion job holds exactly one source's raw assets, one daily partition per run, so every asset
in it shares that multi-asset's ``BackfillPolicy.multi_run(1)`` (Dagster refuses a job whose assets
disagree, issue 22254), and a backfill launched from the job runs partition by partition, each
resumable from its checkpoints.

The profile rebuild (:func:`profile_rebuild_job`, weekly by schedule) runs everything between the
cleansed tables and the marts in one run without a partition, tagged ``cdp/full_refresh=true``: the
dbt assets then build with ``--full-refresh``, so the incremental timeline is recreated from what its
inputs hold now. Daily runs only replace the rows of their window, so an interaction whose record
left the layers below (deleted at the vendor, erased, re-resolved away) stays in the timeline until
this rebuild drops it.
"""

from __future__ import annotations

import dagster as dg

from cdp_platform.automation.conditions import PROFILE, REFERENCE_GROUP
from cdp_platform.sources import SOURCES

PROFILE_REBUILD_JOB_NAME = "profile_full_rebuild"
# A run with this tag set to "true" and no partition builds the dbt models with --full-refresh.
FULL_REFRESH_TAG = "cdp/full_refresh"


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


def profile_rebuild_job() -> dg.UnresolvedAssetJobDefinition:
    """The whole profile from the cleansed tables: staging and intermediate models, identity
    resolution, sentiment and scores, and the marts, incremental ones rebuilt from scratch.

    The timeline is daily-partitioned, so the job is too, but its runs carry no partition: a run
    without one builds the whole timeline (see ``cdp_platform.profile.assets``).
    """
    return dg.define_asset_job(
        name=PROFILE_REBUILD_JOB_NAME,
        selection=PROFILE | dg.AssetSelection.groups(REFERENCE_GROUP),  # the seeds reloaded too
        description=(
            "Full rebuild of the profile: the seeds, every dbt model (incremental ones with --full-refresh), "
            "identity_map, interaction_sentiment and client_scores. Launch it without a partition."
        ),
        tags={FULL_REFRESH_TAG: "true", "cdp/layer": "profile"},
    )
