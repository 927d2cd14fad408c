"""The dbt project as Dagster assets: one multi-asset for the models, one for the incremental timeline.

Every model but ``client_interactions`` is unpartitioned: each build reads all cleansed partitions
and keeps the latest version of each record. ``client_interactions`` is incremental and carries the
daily partitions of the layers below, so a partition run (or a backfill, as one run over its range)
rebuilds exactly its window: the window is handed to dbt as ``CDP_TIMELINE_MIN_DATE`` and
``CDP_TIMELINE_MAX_DATE`` in its environment (see ``WINDOW_ENV``).

Both run ``dbt build``, so a model's tests run right after it and come back as asset checks. dbt
writes the DuckDB warehouse, which allows one writing process: both are in the warehouse pool.

A run tagged ``cdp/full_refresh=true`` without a partition (the weekly ``profile_full_rebuild``)
builds with ``--full-refresh``: the timeline is recreated from its inputs, which drops the rows
whose records are gone from the layers below; a daily window run only replaces its own rows.
"""

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject, dbt_assets
from dagster_duckdb import DuckDBResource

from cdp_platform.automation.jobs import FULL_REFRESH_TAG
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.profile.table_metadata import with_table_metadata
from cdp_platform.profile.translator import ProfileTranslator

INCREMENTAL_SELECT = "client_interactions"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def stream_and_clean(invocation: DbtCliInvocation, warehouse: DuckDBResource | None = None) -> Iterator[Any]:
    """The invocation's events, each model's with its table's metadata; then, once it succeeded,
    its own target folder is removed.

    With ``warehouse``, the events are held until dbt has exited and each built model's
    materialization then gets its row count, every column with its type, and a preview (see
    :mod:`cdp_platform.profile.table_metadata`): read from the warehouse by this step itself,
    because DuckDB lets one process at a time open the file for writing and the dbt process holds
    it until it exits (dagster-dbt's ``fetch_row_counts`` and ``fetch_column_metadata`` query
    through the dbt adapter while dbt is still running, which that lock refuses). The events
    reach Dagster a few seconds later than dbt wrote them, all at once.

    dagster-dbt gives every invocation a folder under ``dbt/target`` (manifest, run results, dbt's
    log: about 3 MB here), and nothing removes them: a daily schedule plus sensor-triggered runs
    would grow it without bound. What Dagster needs from the folder it has read by the end of the
    stream. A failed invocation raises before this point and keeps its folder for inspection.
    """
    if warehouse is None:
        yield from invocation.stream()
    else:
        events = list(invocation.stream())
        yield from with_table_metadata(events, invocation.manifest, warehouse)
    keep_parse_state(invocation.target_path, invocation.project_dir)
    shutil.rmtree(invocation.target_path, ignore_errors=True)


def keep_parse_state(invocation_target: Path, project_dir: Path) -> None:
    """Leave the invocation's partial-parsing state where dagster-dbt takes the next invocation's
    from (``DBT_TARGET_PATH``, else the project's ``target``), when it is not the one there already.

    dbt reuses a parse only for the same --target, vars and rendered profile (the warehouse path):
    one parsed by ``scripts/bootstrap.sh`` for another warehouse than the running one was discarded
    by every invocation, each parsing in full (about 6 CPU-seconds, half of a small ``dbt build``).
    Replaced atomically, so a concurrent invocation reads the old state or the new, never half."""
    source = invocation_target / PARTIAL_PARSE_FILE
    current = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    shared = (current if current.is_absolute() else Path(project_dir) / current) / PARTIAL_PARSE_FILE
    if not source.exists() or (shared.exists() and shared.read_bytes() == source.read_bytes()):
        return
    staging = shared.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shared.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staging)
    os.replace(staging, shared)


def partition_window_vars(context: dg.AssetExecutionContext) -> dict[str, str]:
    """``{min_date, max_date}`` of the run's partition window ([min, max), ISO dates), or empty.

    A run without a partition (a plain materialization) rebuilds the whole timeline.
    """
    if not (context.has_partition_key or context.has_partition_key_range):
        return {}
    window = context.partition_time_window
    return {"min_date": window.start.date().isoformat(), "max_date": window.end.date().isoformat()}


# The partition window reaches the timeline model as environment variables rather than `--vars`:
# dbt keys its partial parsing on the command line's vars, so every window given as `--vars` made
# dbt parse the whole project again (measured: 12.1 CPU-seconds for the timeline's `dbt build`
# instead of 6.6-7.1); an environment variable a model reads makes dbt parse that one file again.
# The model still takes the vars `min_date` and `max_date` from a plain `dbt build --vars`.
WINDOW_ENV = {"min_date": "CDP_TIMELINE_MIN_DATE", "max_date": "CDP_TIMELINE_MAX_DATE"}


@contextmanager
def dbt_environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` while a dbt process is started in the block (``DbtCliResource.
    cli`` hands dbt a copy of the environment when it starts it), as it was afterwards. A step
    runs alone in its process (in-process executor locally, a process per step in production)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def full_refresh_args(context: dg.AssetExecutionContext) -> list[str]:
    """``["--full-refresh"]`` for a run tagged for it, unless the run has a partition: a full refresh
    limited to one window would recreate the timeline with that window's rows only."""
    if context.run.tags.get(FULL_REFRESH_TAG) != "true":
        return []
    if context.has_partition_key or context.has_partition_key_range:
        context.log.warning(f"{FULL_REFRESH_TAG} ignored: a partition run rebuilds only its window")
        return []
    return ["--full-refresh"]


def build_dbt_assets(
    project: DbtProject, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The two dbt multi-assets of ``project``; the timeline is partitioned by ``partitions_def``."""
    translator = ProfileTranslator()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        exclude=INCREMENTAL_SELECT,
        name="profile_dbt_models",
        pool=WAREHOUSE_POOL,
    )
    def profile_dbt_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource
    ) -> Iterator[Any]:
        yield from stream_and_clean(
            dbt.cli(["build", *full_refresh_args(context)], context=context), warehouse
        )

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        select=INCREMENTAL_SELECT,
        name="profile_dbt_timeline",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def profile_dbt_timeline(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBResource
    ) -> Iterator[Any]:
        window = partition_window_vars(context)
        with dbt_environment({name: window.get(var, "") for var, name in WINDOW_ENV.items()}):
            invocation = dbt.cli(["build", *full_refresh_args(context)], context=context)
        yield from stream_and_clean(invocation, warehouse)

    return [profile_dbt_models, profile_dbt_timeline]
