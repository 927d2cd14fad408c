"""The production instance end to end: dagster-daemon on PostgreSQL (deploy/dagster.yaml) ticks a
schedule, queues and launches the run, and the run lands yesterday's partition in the lake."""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CODE_LOCATION = """
import dagster as dg

from cdp_platform.automation.jobs import ingestion_job
from cdp_platform.automation.schedules import daily_ingestion_schedule
from cdp_platform.definitions import layer_definitions
from cdp_platform.settings import load_settings

settings = load_settings()
job = ingestion_job("twitter")
# The real daily schedule, ticking every minute so the drill does not wait for 01:45.
schedule = daily_ingestion_schedule(
    "twitter", job, settings.partitions_start, dg.DefaultScheduleStatus.RUNNING, cron_schedule="* * * * *"
)
defs = dg.Definitions.merge(layer_definitions(settings), dg.Definitions(jobs=[job], schedules=[schedule]))
"""


def test_a_schedule_tick_launches_a_run_that_lands_yesterday(fresh_database, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "location.py").write_text(CODE_LOCATION)
    (tmp_path / "workspace.yaml").write_text(
        textwrap.dedent(
            f"""\
            load_from:
              - python_file:
                  relative_path: location.py
                  working_directory: {tmp_path}
                  executable_path: {sys.executable}
                  location_name: drill
            """
        )
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": fresh_database,
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "logs"),
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "cdp_wh.duckdb"),
        "CDP_SANDBOX_PERSONS": "200",
        "CDP_PARTITIONS_START": "2026-01-01",
    }
    env.pop("CDP_SANDBOX_TODAY", None)  # the sandbox's today is the wall clock's, like the schedule's
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(tmp_path / "workspace.yaml")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "daemon.log").open("w"),
        start_new_session=True,
    )
    try:
        for key in env:
            if key.startswith("DAGSTER_PG_") or key == "DAGSTER_COMPUTE_LOG_DIR":
                monkeypatch.setenv(key, env[key])
        with dg.DagsterInstance.from_config(str(home)) as instance:
            run = None
            deadline = time.monotonic() + 200
            while time.monotonic() < deadline:
                # The first tick's run: the schedule ticks every minute, so under load a later tick's
                # run may already be queued or running beside it (newest first, hence the last one).
                runs = instance.get_runs(
                    filters=dg.RunsFilter(tags={"dagster/schedule_name": "ingest_twitter_daily"})
                )
                if runs and runs[-1].is_finished:
                    run = runs[-1]
                    break
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(2)
            assert run is not None, (tmp_path / "daemon.log").read_text()[-3000:]
            yesterday = (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)).isoformat()
            assert run.status == dg.DagsterRunStatus.SUCCESS
            assert run.tags["dagster/partition"] == yesterday
            assert run.job_name == "ingest_twitter"
            landed = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(["raw", "twitter", "mentions"]), asset_partitions=[yesterday]
                ),
                limit=100,
            ).records
            assert run.run_id in {record.run_id for record in landed}
        assert (tmp_path / "lake" / "raw" / "twitter" / "mentions" / f"{yesterday}.parquet").exists()
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
