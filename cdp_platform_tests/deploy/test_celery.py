"""The Celery deployment (deploy/celery/) for real: Redis as broker, two worker processes started
with the documented command, the PostgreSQL instance of deploy/dagster.yaml and its pools.

A run of the platform's own assets (two raw assets of two vendors against the in-process sandbox,
then their cleansed tables in the warehouse) is executed with the code location
``deploy/celery/definitions.py``: every step must have run in a worker, never in the test process.
Worker ``ingest`` listens on ``dagster``, worker ``warehouse`` on ``warehouse`` only, so both take
part whatever the timing, and each warehouse writer must have been routed to the warehouse worker.
Redis state is isolated: the test claims an empty Redis database (atomically) and empties it after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cdp_platform_tests.sources.support import SANDBOX_TODAY, expected_ids, landed, truth_key, truth_records
from cdp_platform_tests.support.services import require_service

PROJECT = Path(__file__).resolve().parents[2]
CELERY = PROJECT / "deploy" / "celery"
PARTITION = "2026-11-25"
PERSONS = 1000
STREAMS = {
    "google_analytics/user_daily_activity": "vendor_google_analytics",
    "hubspot/contacts": "vendor_hubspot",
}
RAW = [dg.AssetKey(["raw", *stream.split("/")]) for stream in STREAMS]
CLEANSED = [
    dg.AssetKey(["cleansed", *f"{stream}{suffix}".split("/")])
    for stream in STREAMS
    for suffix in ("", "_rejected")
]
STEPS = {
    "raw_google_analytics",
    "raw_hubspot",
    "cleansed_google_analytics_user_daily_activity",
    "cleansed_hubspot_contacts",
}
WAREHOUSE_STEPS = {"cleansed_google_analytics_user_daily_activity", "cleansed_hubspot_contacts"}

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.slow,
    # dagster-celery registers its step task again for every step it sends; Celery warns each time.
    pytest.mark.filterwarnings("ignore:Task name 'execute_plan' is already registered"),
]

# Claims database N when it is empty, in one step, so two test runs never share one.
CLAIM = (
    "if redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', 600) return 1 end return 0"
)


@pytest.fixture
def redis_db() -> Iterator[int]:
    """An empty Redis database of the machine's server, emptied again afterwards."""
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    token = uuid.uuid4().hex
    for number in range(1, 16):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.eval(CLAIM, 1, "cdp_platform_tests:claim", token):
            try:
                yield number
            finally:
                client.flushdb()
                client.close()
            return
        client.close()
    pytest.fail("no empty Redis database among 1..15 to run the Celery test in")


class Worker:
    """``dagster-celery worker start`` in its own process group, as the README starts one."""

    def __init__(self, name: str, queues: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        command = [
            str(Path(sys.executable).with_name("dagster-celery")),
            *("worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY / "executor.yaml")),
            *("-q", queues, "--name", name, "--", "--concurrency=1"),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # The prefork children may outlive the main process by a moment: the group goes entirely.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def wait_until_ready(broker: str, workers: list[Worker], timeout: float = 60) -> None:
    """Both workers answer a ping through the broker (a real round trip through Redis)."""
    from celery import Celery

    app = Celery(broker=broker)
    deadline = time.monotonic() + timeout
    answered: set[str] = set()
    while time.monotonic() < deadline:
        for worker in workers:
            assert worker.process.poll() is None, worker.log.read_text()[-3000:]
        answered = {host.split("@")[0] for reply in app.control.ping(timeout=1) for host in reply}
        if {w.name for w in workers} <= answered:
            return
        time.sleep(0.5)
    raise AssertionError(f"workers not ready, answered: {answered}\n" + workers[0].log.read_text()[-3000:])


def test_two_celery_workers_run_the_steps_of_a_platform_run(fresh_database, redis_db, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    broker = f"redis://127.0.0.1:6379/{redis_db}"
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": fresh_database,
        "DAGSTER_PG_USERNAME": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "logs"),
        "DAGSTER_CELERY_BROKER_URL": broker,
        "DAGSTER_CELERY_BACKEND_URL": broker,
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "cdp_wh.duckdb"),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_PARTITIONS_START": "2026-11-01",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The worker CLI starts `celery` from PATH: the environment's own, as with an activated venv.
    worker_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    suffix = uuid.uuid4().hex[:6]
    workers = [
        Worker(f"ingest-{suffix}", "dagster", worker_env, tmp_path / "ingest.log"),
        Worker(f"warehouse-{suffix}", "warehouse", worker_env, tmp_path / "warehouse.log"),
    ]
    try:
        wait_until_ready(broker, workers)
        from dagster._core.definitions.reconstruct import ReconstructableRepository

        job = ReconstructableRepository.for_file(
            str(CELERY / "definitions.py"), "defs", working_directory=str(PROJECT)
        ).get_reconstructable_job("__ASSET_JOB")
        with dg.DagsterInstance.get() as instance:
            result = dg.execute_job(
                job, instance=instance, asset_selection=RAW + CLEANSED, tags={"dagster/partition": PARTITION}
            )
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            ran_on: dict[str, str] = {}
            for record in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                data = record.dagster_event.engine_event_data
                if data and "Celery worker" in data.metadata:
                    ran_on[record.step_key] = data.metadata["Celery worker"].value.split("@")[0]
            successes = {
                e.step_key: e.pid
                for e in result.all_events
                if e.event_type == dg.DagsterEventType.STEP_SUCCESS
            }
            pools = {pool: instance.event_log_storage.get_concurrency_info(pool) for pool in STREAMS.values()}
    finally:
        for worker in workers:
            worker.stop()

    # Every step ran in a worker process, and each worker ran the steps of its own queue.
    assert set(successes) == STEPS
    assert os.getpid() not in successes.values()
    assert ran_on == {
        step: (f"warehouse-{suffix}" if step in WAREHOUSE_STEPS else f"ingest-{suffix}") for step in STEPS
    }
    # The instance's pools applied: each vendor's pool got the limit of deploy/dagster.yaml.
    assert {pool: info.slot_count for pool, info in pools.items()} == dict.fromkeys(STREAMS.values(), 1)

    # The outputs are right: the raw partitions hold exactly the sandbox's records of the day, and
    # the cleansed tables hold those records (or their quarantine).
    truth = truth_records(PERSONS, 7, tmp_path / "truth")
    lake = tmp_path / "lake"
    with duckdb.connect(env["CDP_WAREHOUSE_PATH"], read_only=True) as con:
        for stream in STREAMS:
            raw = landed(lake, stream, PARTITION)
            table = stream.replace("/", ".")
            assert raw.height > 0
            assert truth_key(stream, raw) == expected_ids(truth, stream, PARTITION)
            clean, rejected = (
                con.execute(
                    f"select count(*) from cleansed_{t} where partition_date = ?", [PARTITION]
                ).fetchone()[0]
                for t in (table, f"{table}_rejected")
            )
            assert clean > 0 and clean + rejected <= raw.height
