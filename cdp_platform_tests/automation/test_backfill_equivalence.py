"""A 30-day backfill lands exactly the rows that 30 daily runs land.

Two lakes and warehouses are filled from the same sandbox over the same 30 days:

- daily: what the schedule and the automation do day after day, one run per day D with the raw
  and cleansed partition D; then the profile the timeline reads (dbt staging and intermediate
  models, ``identity_map``, ``interaction_sentiment``) and the timeline ``client_interactions``.
- backfill: on the production instance (deploy/dagster.yaml: PostgreSQL, the run queue, the pools),
  real Dagster backfills launched as the UI launches them (GraphQL ``launchPartitionBackfill``)
  and carried out by the backfill daemon's and the run queue's own code, their iterations called in
  process (the run launcher runs each run in this process instead of a subprocess): raw and
  cleansed over the 30 days; the profile once; the timeline over the 30 days. The runs are checked
  against the backfill policies: raw and cleansed together in one run over the whole range (each day
  of raw still its own partition file), the timeline in one run over it.

Then every table of the two warehouses (cleansed, quarantine, identity, sentiment, the timeline)
must hold the same rows, ignoring only when and by which run a row was written.

Kept within budget (a run costs Dagster's bookkeeping, a fraction of a second a step; a dbt
invocation re-parses the project, several seconds, because each warehouse path is new to it):

- the 30-day window covers one stream, ``google_analytics/user_daily_activity``: every row is both
  a person to resolve and an interaction (a web session day), so the stream reaches identity
  resolution and the timeline every day of the window. Every stream's raw and cleansed assets come
  from the same two builders, so one stream exercises the per-partition and the range code paths.
  The other thirteen streams are loaded for the last day only, identically in both arms, so that
  every table dbt reads exists and identity resolution has more people to resolve;
- the profile is what the timeline reads; ``client_360``, ``client_identities`` and the scores are
  full rebuilds from these same tables, by the same code in both arms;
- the profile and the timeline are built once in the daily arm too: the unpartitioned profile reads
  every day anyway, and thirty timeline runs would be thirty dbt parses;
- the two arms run side by side, the daily one in a second process.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import logging
import multiprocessing
import os
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml

from cdp_platform_tests.sources.support import SANDBOX_TODAY, sandbox_environ

PROJECT = Path(__file__).resolve().parents[2]
PERSONS = 300
DAYS = 30
FIRST_DAY = datetime.date.fromisoformat(SANDBOX_TODAY) - datetime.timedelta(days=DAYS)
WINDOW = [(FIRST_DAY + datetime.timedelta(days=n)).isoformat() for n in range(DAYS)]
BACKFILLED = ("google_analytics", "user_daily_activity")
TIMELINE = dg.AssetKey("client_interactions")
PARTITION, RANGE_START, RANGE_END = (
    "dagster/partition",
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
)
# When, and by which run, a row was written: the only columns allowed to differ.
LOAD_COLUMNS = {"first_seen", "logged_at", "run_id"}

# The code location of the backfill: the platform's assets, steps in process (a test has no room
# for a process per step).
LOCATION = textwrap.dedent(
    """
    import dagster as dg

    from cdp_platform.definitions import layer_definitions
    from cdp_platform.settings import load_settings

    defs = dg.Definitions.merge(
        layer_definitions(load_settings()), dg.Definitions(executor=dg.in_process_executor)
    )
    """
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def arm_environ(root: Path) -> dict[str, str]:
    return {
        **sandbox_environ(root, PERSONS, DAYS, partitions_start=WINDOW[0]),
        # dbt's per-invocation target folders go with the arm, not into the project's dbt/target.
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        # One installation's key for both arms: identity.link_evidence and identity_map.link_evidence
        # hold keyed hashes of the shared values, which differ between two lakes' random key files.
        "CDP_PRIVACY_HMAC_KEY": "backfill-equivalence-test-key-0123456789abcdef",
    }


def layer_keys(graph, layer: str, *, backfilled: bool) -> list[dg.AssetKey]:
    """The raw or cleansed assets of the 30-day stream (or of every other stream)."""
    source, stream = BACKFILLED

    def is_backfilled(key: dg.AssetKey) -> bool:
        return key.path[1] == source and key.path[2] in (stream, f"{stream}_rejected")

    return sorted(
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and k.path[0] == layer and is_backfilled(k) == backfilled
    )


def profile_keys(graph) -> list[dg.AssetKey]:
    """The unpartitioned assets the timeline reads, directly or not (dbt views, identity, sentiment)."""
    upstream = dg.AssetSelection.assets(TIMELINE).upstream().resolve(graph)
    return sorted(
        k for k in upstream if graph.get(k).is_materializable and graph.get(k).partitions_def is None
    )


def cpu_seconds() -> float:
    """CPU time of this process and of the processes it waited for (dbt)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Phases(dict):
    """CPU seconds spent in each phase of an arm, printed with the test's output."""

    def __init__(self) -> None:
        super().__init__()
        self._last = cpu_seconds()

    def done(self, name: str) -> None:
        now = cpu_seconds()
        self[name] = round(now - self._last, 1)
        self._last = now


def load_last_day_of_other_streams(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """The thirteen other streams, raw then cleansed, for the last day only (the same in both arms)."""
    graph = defs.resolve_asset_graph()
    for layer in ("raw", "cleansed"):
        materialize(defs, instance, layer_keys(graph, layer, backfilled=False), partition_key=WINDOW[-1])


def materialize(defs: dg.Definitions, instance: dg.DagsterInstance, selection, **kwargs) -> None:
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        assets, selection=selection, resources=defs.resources, instance=instance, **kwargs
    )
    assert result.success


def daily_arm(root: str) -> dict:
    """One run a day of raw and cleansed, then the profile and the timeline over the 30 days.

    Runs in its own process: dbt finds the warehouse through the environment."""
    environ = arm_environ(Path(root))
    os.environ.update(environ)
    from cdp_platform.definitions import layer_definitions
    from cdp_platform.settings import load_settings

    defs = layer_definitions(load_settings(environ))
    graph = defs.resolve_asset_graph()
    day_job = dg.define_asset_job(
        "daily",
        selection=[
            *layer_keys(graph, "raw", backfilled=True),
            *layer_keys(graph, "cleansed", backfilled=True),
        ],
    )
    daily = dg.Definitions.merge(defs, dg.Definitions(jobs=[day_job], executor=dg.in_process_executor))
    instance = dg.DagsterInstance.ephemeral()
    phases = Phases()
    load_last_day_of_other_streams(defs, instance)
    phases.done("other streams")
    runs = [
        daily.resolve_job_def("daily").execute_in_process(partition_key=day, instance=instance)
        for day in WINDOW
    ]
    phases.done("30 daily runs")
    materialize(defs, instance, profile_keys(graph))
    phases.done("profile")
    materialize(defs, instance, [TIMELINE], tags={RANGE_START: WINDOW[0], RANGE_END: WINDOW[-1]})
    phases.done("timeline")
    return {"daily_runs": [r.success for r in runs], "cpu": dict(phases), "cpu_total": cpu_seconds()}


def backfill(workspace, instance: dg.DagsterInstance, selection: list[dg.AssetKey]) -> list[dg.DagsterRun]:
    """Launch a backfill of ``selection`` over the 30 days as the UI does, then tick the backfill
    daemon and the run queue until it is complete. The queue is drained between two ticks of the
    backfill daemon, as when every run of a tick has finished before the next one."""
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._daemon.backfill import execute_backfill_iteration
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
    from dagster_graphql.client.query import LAUNCH_PARTITION_BACKFILL_MUTATION
    from dagster_graphql.test.utils import execute_dagster_graphql

    params = {"partitionNames": WINDOW, "assetSelection": [{"path": k.path} for k in selection]}
    launched = execute_dagster_graphql(
        workspace.create_request_context(), LAUNCH_PARTITION_BACKFILL_MUTATION, {"backfillParams": params}
    )
    assert launched.errors is None, launched.errors
    outcome = launched.data["launchPartitionBackfill"]
    assert outcome["__typename"] == "LaunchBackfillSuccess", outcome
    backfill_id = outcome["backfillId"]
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    logger = logging.getLogger("backfill_equivalence")
    for _ in range(20):
        list(execute_backfill_iteration(workspace, logger))
        while instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]), limit=1):
            list(queue.run_iteration(workspace))
        status = instance.get_backfill(backfill_id).status
        if status != BulkActionStatus.REQUESTED:
            break
    assert status == BulkActionStatus.COMPLETED_SUCCESS, status
    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    return [r.dagster_run for r in sorted(records, key=lambda r: r.create_timestamp)]


def backfill_arm(root: Path, location: Path, home: Path, phases: Phases) -> dict[str, list[dg.DagsterRun]]:
    """On the production instance (PostgreSQL, the run queue, the pools), with runs launched in this
    process: backfill raw and cleansed, build the profile once, backfill the timeline."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    from cdp_platform.definitions import layer_definitions
    from cdp_platform.settings import load_settings

    production = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    overrides = {
        "storage": production["storage"],
        "concurrency": production["concurrency"],
        "run_launcher": {
            "module": "dagster._core.launcher.sync_in_memory_run_launcher",
            "class": "SyncInMemoryRunLauncher",
        },
    }
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(location), attribute="defs", working_directory=str(PROJECT)),
        location_name="backfill_equivalence",
    )
    defs = layer_definitions(load_settings(arm_environ(root)))
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as instance:
        load_last_day_of_other_streams(defs, instance)
        phases.done("other streams")
        with create_test_daemon_workspace_context(
            InProcessWorkspaceLoadTarget(origin), instance
        ) as workspace:
            graph = workspace.create_request_context().asset_graph
            history = [
                *layer_keys(graph, "raw", backfilled=True),
                *layer_keys(graph, "cleansed", backfilled=True),
            ]
            runs = {"history": backfill(workspace, instance, history)}
            phases.done("backfill of raw and cleansed")
            materialize(defs, instance, profile_keys(defs.resolve_asset_graph()))
            phases.done("profile")
            runs["timeline"] = backfill(workspace, instance, [TIMELINE])
            phases.done("backfill of the timeline")
    return runs


def partitions_of(run: dg.DagsterRun) -> list[str]:
    if PARTITION in run.tags:
        return [run.tags[PARTITION]]
    if RANGE_START not in run.tags:
        return []
    return [day for day in WINDOW if run.tags[RANGE_START] <= day <= run.tags[RANGE_END]]


def table_rows(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every table of a warehouse without its load columns, rows in a fixed order."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        out = {}
        for schema, name in tables:
            frame = con.execute(f'select * from "{schema}"."{name}"').pl()
            frame = frame.select([c for c in frame.columns if c not in LOAD_COLUMNS])
            flat = [c for c, dtype in frame.schema.items() if not dtype.is_nested()]
            out[f"{schema}.{name}"] = frame.sort(flat, nulls_last=True)
    return out


def test_a_30_day_backfill_lands_the_rows_of_30_daily_runs(fresh_database, tmp_path, monkeypatch):
    started = time.monotonic()
    daily_root, backfill_root = tmp_path / "daily", tmp_path / "backfill"
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        daily_future = pool.submit(daily_arm, str(daily_root))
        environ = {
            **arm_environ(backfill_root),
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_DB": fresh_database,
            "DAGSTER_PG_USERNAME": "postgres",
            "DAGSTER_PG_PASSWORD": "",
        }
        for name, value in environ.items():
            monkeypatch.setenv(name, value)  # the instance, the code location and dbt read them
        location = tmp_path / "location.py"
        location.write_text(LOCATION)
        (tmp_path / "dagster_home").mkdir()
        phases = Phases()
        runs = backfill_arm(backfill_root, location, tmp_path / "dagster_home", phases)
        daily = daily_future.result()
    print(
        f"wall {time.monotonic() - started:.1f}s, CPU {cpu_seconds():.1f}s; "
        f"daily arm CPU {daily['cpu_total']:.1f}s {dict(daily['cpu'])}; backfill arm CPU {dict(phases)}"
    )

    assert daily["daily_runs"] == [True] * DAYS
    history, timeline = runs["history"], runs["timeline"]
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in history + timeline)
    # Raw and cleansed: both BackfillPolicy.single_run on the same partitions, so one run fetches the
    # 30 days of the stream (each day its own file, checkpoint and metadata) and cleanses them.
    assert [partitions_of(run) for run in history] == [WINDOW]
    assert {k.path[0] for k in history[0].asset_selection} == {"raw", "cleansed"}
    # The timeline: one run over the 30 days.
    assert [partitions_of(run) for run in timeline] == [WINDOW]
    assert [set(run.asset_selection) for run in timeline] == [{TIMELINE}]

    daily_tables = table_rows(daily_root / "warehouse.duckdb")
    backfill_tables = table_rows(backfill_root / "warehouse.duckdb")
    assert sorted(daily_tables) == sorted(backfill_tables)
    cleansed_days = set(daily_tables["cleansed_google_analytics.user_daily_activity"]["partition_date"])
    sessions = daily_tables["marts.client_interactions"].filter(pl.col("channel") == "google_analytics")
    assert len(cleansed_days) > DAYS * 0.8, f"only {len(cleansed_days)} days with data: too little to compare"
    assert set(sessions["occurred_at"].dt.date()) == cleansed_days, "the timeline misses days of the window"
    different = {
        name: (daily_tables[name].height, backfill_tables[name].height)
        for name in daily_tables
        if not daily_tables[name].equals(backfill_tables[name], null_equal=True)
    }
    assert different == {}, different
