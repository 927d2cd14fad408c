"""Many writers at once on a DuckLake: two Celery workers, several sources' cleansed partitions.

The deployment of deploy/celery/ for real, with ``CDP_WAREHOUSE=ducklake``: Redis as the broker,
two worker processes started as the README starts them (both on every queue: on DuckLake no step
needs the warehouse host), the PostgreSQL instance of deploy/dagster.yaml, the DuckLake's catalog
in another PostgreSQL database and its Parquet files on moto's S3 server.

Raw partitions of three vendors for two days are landed first (in process; they are not under
test). Then two runs, one per day, are started at the same moment, each materializing the three
cleansed tables of its day: six warehouse writers, three tables. Per-table pools let different
tables be written at once and keep two steps off one table; the DuckLake commits them all. Every
raw row must end up exactly once (cleansed, quarantined, or collapsed as a duplicate), no step
may have overlapped another of its own table, and the steps must have run on both workers.
"""

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.io.warehouse import connect_warehouse
from cdp_platform.settings import load_settings
from cdp_platform_tests.deploy.test_celery import (  # noqa: F401  (redis_db is a fixture)
    CELERY,
    PROJECT,
    Worker,
    redis_db,
    wait_until_ready,
)
from cdp_platform_tests.sources.support import SANDBOX_TODAY, ingest, landed

PERSONS = 600
DAYS = ("2026-11-24", "2026-11-25")
STREAMS = ("hubspot/contacts", "salesforce/contacts", "salesforce/leads")
RAW = [dg.AssetKey(["raw", *s.split("/")]) for s in STREAMS]
CLEANSED = [
    dg.AssetKey(["cleansed", *f"{stream}{suffix}".split("/")])
    for stream in STREAMS
    for suffix in ("", "_rejected")
]

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered"),
]


@pytest.fixture
def dagster_database(postgres_url) -> str:
    """The Dagster instance's own database (the DuckLake's catalog is ``fresh_database``)."""
    import psycopg2

    name = f"cdp_dagster_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def test_two_workers_write_several_tables_of_one_ducklake_at_once(
    ducklake_environ,
    dagster_database,
    redis_db,  # noqa: F811 (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    broker = f"redis://127.0.0.1:6379/{redis_db}"
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": dagster_database,
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "logs"),
        "DAGSTER_CELERY_BROKER_URL": broker,
        "DAGSTER_CELERY_BACKEND_URL": broker,
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "unused" / "cdp_wh.duckdb"),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_SPAN_DAYS": "10",  # the persons spread over ten days: many records a day
        "CDP_PARTITIONS_START": "2026-11-01",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **ducklake_environ,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    assert settings.warehouse.is_lake
    ingest(env, list(DAYS), selection=[k.to_user_string() for k in RAW])

    # Dagster writes a pool's row at its default limit when a run first claims the pool; two runs
    # starting at the same instant race on that insert (a UniqueViolation on
    # concurrency_limits_concurrency_key_key failed one run in CI). A deployment sets its pools
    # once before runs start (README, Production), and so does the test.
    defs = build_definitions(settings)
    pools = {defs.resolve_assets_def(key).node_def.pool for key in CLEANSED} - {None}
    assert pools and all(pool.startswith("warehouse/") for pool in pools), pools
    with dg.DagsterInstance.get() as instance:
        for pool in pools:
            instance.event_log_storage.set_concurrency_slots(pool, 1)

    worker_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    suffix = uuid.uuid4().hex[:6]
    names = [f"one-{suffix}", f"two-{suffix}"]
    workers = [Worker(n, "dagster,warehouse", worker_env, tmp_path / f"{n}.log") for n in names]
    try:
        wait_until_ready(broker, workers)
        # Two runs at once, each from a process of its own (as two launched runs are): one Dagster
        # instance shared by two threads of one process stalls on its PostgreSQL connections.
        launchers = [
            subprocess.Popen(
                [sys.executable, "-c", LAUNCH, day, json.dumps([k.path for k in CLEANSED])],
                cwd=PROJECT,
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=(tmp_path / f"launch-{day}.log").open("w"),
                text=True,
            )
            for day in DAYS
        ]
        launched = {}
        for day, launcher in zip(DAYS, launchers, strict=True):
            out, _ = launcher.communicate(timeout=900)
            assert launcher.returncode == 0, (tmp_path / f"launch-{day}.log").read_text()[-3000:]
            launched[day] = json.loads(out.strip().splitlines()[-1])
        with dg.DagsterInstance.get() as instance:
            steps = _steps(instance, [r["run_id"] for r in launched.values()])
            results = {day: instance.get_records_for_run(r["run_id"]).records for day, r in launched.items()}
            failures = {
                day: [
                    rec.event_log_entry.message
                    for rec in records
                    if rec.event_log_entry.is_dagster_event and rec.event_log_entry.dagster_event.is_failure
                ]
                for day, records in results.items()
            }
            materializations = {
                day: [
                    rec.event_log_entry.dagster_event
                    for rec in records
                    if rec.event_log_entry.is_dagster_event
                    and rec.event_log_entry.dagster_event.event_type
                    == dg.DagsterEventType.ASSET_MATERIALIZATION
                ]
                for day, records in results.items()
            }
    finally:
        for worker in workers:
            worker.stop()

    for day, run in launched.items():
        assert run["success"], (day, failures[day])
    assert len(steps) == len(DAYS) * len(STREAMS)
    # Both workers wrote the lake.
    assert {s["worker"] for s in steps} == set(names), steps
    # Two steps of one table never ran at the same time (its pool); print how much ran together.
    for a in steps:
        for b in steps:
            if a is not b and a["step"] == b["step"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    overlapping = sum(
        1
        for a in steps
        for b in steps
        if a["step"] < b["step"] and a["start"] < b["end"] and b["start"] < a["end"]
    )
    print(f"pairs of different tables written at the same time: {overlapping}")

    # Every raw row once: cleansed (with distinct record ids) + quarantined + collapsed = raw.
    collapsed = {
        (day, e.asset_key.path[1] + "/" + e.asset_key.path[2]): e.materialization.metadata[
            "collapsed_duplicates"
        ].value
        for day, events in materializations.items()
        for e in events
        if "collapsed_duplicates" in e.materialization.metadata
    }
    written = 0
    with connect_warehouse(settings.warehouse, read_only=True) as con:
        for stream in STREAMS:
            schema_table = "cleansed_" + stream.replace("/", ".")
            for day in DAYS:
                raw = landed(tmp_path / "lake", stream, day).height
                clean, distinct = con.execute(
                    f"select count(*), count(distinct record_id) from {schema_table} where partition_date = ?",
                    [day],
                ).fetchone()
                rejected = con.execute(
                    f"select count(*) from {schema_table}_rejected where partition_date = ?", [day]
                ).fetchone()[0]
                written += clean
                assert clean == distinct, (stream, day)
                assert clean + rejected + collapsed[(day, stream)] == raw, (stream, day, clean, rejected, raw)
    assert written > 100, "the sandbox's days should hold records of these streams"


# One run of the cleansed assets of one day, through the Celery code location; prints its outcome.
LAUNCH = """
import json, sys
import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
day, keys = sys.argv[1], [dg.AssetKey(k) for k in json.loads(sys.argv[2])]
job = ReconstructableRepository.for_file(
    "deploy/celery/definitions.py", "defs", working_directory="."
).get_reconstructable_job("__ASSET_JOB")
with dg.DagsterInstance.get() as instance:
    result = dg.execute_job(job, instance=instance, asset_selection=keys, tags={"dagster/partition": day})
    print(json.dumps({"run_id": result.run_id, "success": result.success}))
"""


def _steps(instance: dg.DagsterInstance, run_ids: list[str]) -> list[dict]:
    """Each step: its name, the worker that ran it, when it started and ended (event times)."""
    steps: dict[tuple[str, str], dict] = {}
    for run_id in run_ids:
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or record.step_key is None:
                continue
            step = steps.setdefault((run_id, record.step_key), {"step": record.step_key})
            when = datetime.datetime.fromtimestamp(record.timestamp, datetime.UTC)
            if event.event_type == dg.DagsterEventType.STEP_START:
                step["start"] = when
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                step["end"] = when
            elif event.event_type == dg.DagsterEventType.ENGINE_EVENT:
                data = event.engine_event_data
                with contextlib.suppress(AttributeError, KeyError, TypeError):
                    step["worker"] = data.metadata["Celery worker"].value.split("@")[0]
    return [s for s in steps.values() if "start" in s]
