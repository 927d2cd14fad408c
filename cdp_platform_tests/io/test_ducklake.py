"""The DuckLake warehouse kind: chosen by settings alone, written in parallel, forgetting on demand.

Settings and pools need no service. The others use a DuckLake whose catalog is a fresh database of
the machine's PostgreSQL and whose Parquet files are in a fresh bucket of moto's S3 server
(``ducklake_environ``: skipped when PostgreSQL is unreachable, failed under CI). One lake is
built per test; they are small (a few rows), so each test takes seconds.
"""

import datetime
import logging
import threading

import dagster as dg
import polars as pl
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.io import lake_history
from cdp_platform.io.warehouse import (
    WAREHOUSE_POOL,
    WarehouseIOManager,
    connect_warehouse,
    retry_conflicts,
    transaction,
)
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform_tests.conftest import parquet_objects

LAKE = {
    "CDP_WAREHOUSE": "ducklake",
    "CDP_DUCKLAKE_CATALOG": "dbname=cdp_lake host=127.0.0.1 user=cdp",
    "CDP_DUCKLAKE_DATA_PATH": "s3://warehouse-bucket/cdp",
}


# --- settings and pools (no service) -------------------------------------------------------------


def test_the_kind_is_chosen_by_settings_alone(tmp_path):
    file = load_settings({})
    assert (file.warehouse_kind, file.dbt_target, file.warehouse.is_lake) == ("file", "local", False)
    lake = load_settings(LAKE)
    assert lake.warehouse.is_lake and lake.dbt_target == "ducklake"
    assert lake.warehouse.ducklake_data_path == "s3://warehouse-bucket/cdp/"
    assert lake.ducklake_snapshot_retention_days == 7
    folder = load_settings(
        {**LAKE, "CDP_DUCKLAKE_DATA_PATH": "lake-files", "CDP_DUCKLAKE_SNAPSHOT_RETENTION_DAYS": "30"}
    )
    assert folder.ducklake_data_path.startswith("/") and folder.ducklake_data_path.endswith("lake-files/")
    assert folder.ducklake_snapshot_retention_days == 30


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CDP_WAREHOUSE": "iceberg"}, "CDP_WAREHOUSE='iceberg' is not a warehouse kind"),
        ({"CDP_DUCKLAKE_CATALOG": ""}, "CDP_DUCKLAKE_CATALOG is not set"),
        ({"CDP_DUCKLAKE_CATALOG": "host=db user=cdp"}, "names no database"),
        ({"CDP_DUCKLAKE_DATA_PATH": ""}, "CDP_DUCKLAKE_DATA_PATH is not set"),
        ({"CDP_DUCKLAKE_DATA_PATH": "s3:///x"}, "names no bucket"),
        ({"CDP_DUCKLAKE_DATA_PATH": "gs://b/x"}, "unsupported scheme"),
        ({"CDP_DBT_TARGET": "production"}, "does not match CDP_WAREHOUSE=ducklake"),
        ({"CDP_DUCKLAKE_SNAPSHOT_RETENTION_DAYS": "0"}, "must be at least 1"),
    ],
)
def test_wrong_lake_settings_name_the_variable(change, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({**LAKE, **change})


def test_a_password_in_the_catalog_string_is_refused_without_echoing_it():
    with pytest.raises(SettingsError) as raised:
        load_settings({**LAKE, "CDP_DUCKLAKE_CATALOG": "dbname=cdp_lake host=db password=hunter2-secret"})
    assert "PGPASSWORD" in str(raised.value) and "hunter2-secret" not in str(raised.value)


def _pools(environ) -> dict[str, str | None]:
    defs = build_definitions(load_settings(environ))
    return {
        a.node_def.name: a.node_def.pool
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.is_executable
    }


def test_on_ducklake_each_writer_gets_the_pool_of_its_table(tmp_path):
    environ = {"CDP_LAKE_ROOT": str(tmp_path / "lake"), "CDP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb")}
    file_pools, lake_pools = _pools(environ), _pools({**environ, **LAKE})
    writers = {name for name, pool in file_pools.items() if pool == WAREHOUSE_POOL}
    assert {"cleansed_hubspot_contacts", "cleansed_salesforce_contacts", "identity_map"} <= writers
    # The file: one slot for all. The lake: one pool per table (one asset) or per op (several).
    assert lake_pools["cleansed_hubspot_contacts"] == "warehouse/cleansed_hubspot_contacts"
    assert lake_pools["identity_map"] == "warehouse/identity_map"
    assert WAREHOUSE_POOL not in lake_pools.values()
    assert len({lake_pools[name] for name in writers}) == len(writers)
    # Everything else is untouched (the vendors' pools of the raw steps).
    assert {n: p for n, p in lake_pools.items() if n not in writers} == {
        n: p for n, p in file_pools.items() if n not in writers
    }
    # On Celery, only the single slot's steps go to the warehouse host's queue.
    celery = _celery_definitions()
    queue_for, WAREHOUSE_QUEUE = celery.queue_for, celery.WAREHOUSE_QUEUE
    assert queue_for(WAREHOUSE_POOL, {}, "dagster") == WAREHOUSE_QUEUE
    assert queue_for(lake_pools["identity_map"], {}, "dagster") == "dagster"


def _celery_definitions():
    """deploy/celery/definitions.py (a code location file, not a package module)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "deploy" / "celery" / "definitions.py"
    spec = importlib.util.spec_from_file_location("cdp_celery_definitions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- on PostgreSQL and moto S3 -------------------------------------------------------------------


@pytest.fixture
def lake(ducklake_environ, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return load_settings(ducklake_environ)


DAILY = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")


@dg.asset(
    key=["cleansed", "test", "orders"],
    partitions_def=DAILY,
    metadata={"partition_expr": "cast(partition_date as date)", "schema": "cleansed_test"},
    pool=WAREHOUSE_POOL,
)
def orders(context: dg.AssetExecutionContext) -> pl.DataFrame:
    n = int(context.run.tags.get("rows", "2"))
    day = context.partition_key
    return pl.DataFrame({"id": [f"{day}-{i}" for i in range(n)], "partition_date": [day] * n})


def test_the_io_manager_replaces_partition_slices_in_the_lake(lake):
    io = WarehouseIOManager.from_target(lake.warehouse)
    for day, rows in (("2026-11-02", "2"), ("2026-11-03", "3"), ("2026-11-03", "4")):
        result = dg.materialize(
            [orders], partition_key=day, resources={"io_manager": io}, tags={"rows": rows}
        )
        assert result.success
    with connect_warehouse(lake.warehouse, read_only=True) as con:
        rows = con.execute(
            "select partition_date, count(*), count(distinct id) from cleansed_test.orders group by 1 order by 1"
        ).fetchall()
        kind = con.execute(
            "select type from duckdb_databases() where database_name = current_database()"
        ).fetchone()
    assert rows == [("2026-11-02", 2, 2), ("2026-11-03", 4, 4)]
    assert kind == ("ducklake",)
    # The rows are Parquet files in the bucket (no inlined rows in the catalog).
    bucket = lake.ducklake_data_path.removeprefix("s3://").split("/")[0]
    assert parquet_objects(lake.s3_endpoint_url, bucket, "warehouse/")


def test_a_conflicting_commit_is_retried_and_nothing_is_lost(lake, caplog):
    """Two writers replace two slices of one table at the same moment: DuckLake lets one commit
    and refuses the other (both deleted from the table); the loser is retried and written."""
    with connect_warehouse(lake.warehouse) as con:
        con.execute("create schema cleansed_test")
        con.execute("create table cleansed_test.events (slice varchar, n integer)")
        con.execute("insert into cleansed_test.events values ('a', -1), ('b', -1)")
    both_began = threading.Barrier(2, timeout=60)
    attempts: dict[str, int] = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def writer(slice_: str) -> None:
        connection = connect_warehouse(lake.warehouse)

        def write() -> None:
            attempts[slice_] += 1
            with transaction(connection):
                connection.execute("delete from cleansed_test.events where slice = ?", [slice_])
                connection.execute(
                    "insert into cleansed_test.events select ?, range from range(100)", [slice_]
                )
                if attempts[slice_] == 1:
                    both_began.wait()  # both have written, neither has committed

        try:
            retry_conflicts(write, f"writing slice {slice_}")
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.WARNING, logger="cdp_platform.io.warehouse"):
        threads = [threading.Thread(target=writer, args=(s,)) for s in "ab"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert not errors, errors
    assert sorted(attempts.values()) == [1, 2], attempts  # exactly one lost the race, once
    assert any("transaction conflict" in r.getMessage() for r in caplog.records)
    with connect_warehouse(lake.warehouse, read_only=True) as con:
        rows = con.execute(
            "select slice, count(*), count(distinct n), min(n) from cleansed_test.events group by 1 order by 1"
        ).fetchall()
    assert rows == [("a", 100, 100, 0), ("b", 100, 100, 0)]


def test_a_conflict_that_never_resolves_is_raised_not_swallowed(lake):
    calls = []

    def always_conflicts():
        calls.append(1)
        import duckdb

        raise duckdb.TransactionException("Transaction conflict - another transaction has deleted from it")

    import duckdb

    with pytest.raises(duckdb.TransactionException):
        retry_conflicts(always_conflicts, "a hopeless write", attempts=3)
    assert len(calls) == 3


def _bucket_bytes(lake, needle: bytes) -> list[str]:
    bucket = lake.ducklake_data_path.removeprefix("s3://").split("/")[0]
    return [
        key for key, data in parquet_objects(lake.s3_endpoint_url, bucket).items() if needle in _values(data)
    ]


def _values(data: bytes) -> bytes:
    """A Parquet file's values as text (its pages may be compressed), plus its raw bytes."""
    import io

    import pyarrow.parquet as pq

    return data + repr(pq.read_table(io.BytesIO(data)).to_pylist()).encode()


def test_forgetting_history_removes_deleted_rows_from_every_file(lake):
    """A DELETE alone leaves the row in its Parquet file (a delete file marks it) and in every
    older snapshot; forget_history leaves no file in the bucket that holds it."""
    with connect_warehouse(lake.warehouse) as con:
        con.execute("create schema marts")
        con.execute("create table marts.people (email varchar, city varchar)")
        con.execute(
            "insert into marts.people values ('erase.me@example.org', 'Lyon'), ('keep.me@example.org', 'Oslo')"
        )
        con.execute("update marts.people set city = 'Paris' where email = 'erase.me@example.org'")
        con.execute("delete from marts.people where email = 'erase.me@example.org'")
        assert _bucket_bytes(lake, b"erase.me@example.org"), "the deleted row is still in its files"
        before, after = lake_history.forget_history(con)
        left = con.execute("select email from marts.people").fetchall()
        snapshots = con.execute("select count(*) from ducklake_snapshots('lake')").fetchone()[0]
    assert _bucket_bytes(lake, b"erase.me@example.org") == []
    assert _bucket_bytes(lake, b"keep.me@example.org")
    assert left == [("keep.me@example.org",)]
    assert snapshots == 1 and after.snapshots == 1 < before.snapshots
    assert after.stored_bytes < before.stored_bytes and after.stored_files < before.stored_files


def test_maintenance_merges_small_files_and_expires_old_snapshots(lake):
    with connect_warehouse(lake.warehouse) as con:
        con.execute("create schema cleansed_test")
        con.execute("create table cleansed_test.days (day integer, n integer)")
        for day in range(6):  # one small file per daily write, as the cleansed assets make
            con.execute("insert into cleansed_test.days select ?, range from range(50)", [day])
        con.execute("delete from cleansed_test.days where day = 0")
        recent = lake_history.maintain(con, retention_days=7)
        # Nothing is older than a week: files are merged, but no snapshot or file may go.
        assert recent["snapshots_expired"] == 0 and recent["files_deleted"] == 0
        assert recent["after"]["live_files"] < recent["before"]["live_files"]
        later = lake_history.maintain(
            con, retention_days=7, now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
        )
        rows = con.execute("select count(*), count(distinct day) from cleansed_test.days").fetchone()
    # A week later, the history goes and the files only it needed are deleted from the bucket.
    assert later["snapshots_expired"] > 0 and later["files_deleted"] > 0
    assert later["after"]["stored_bytes"] < later["before"]["stored_bytes"]
    assert later["after"]["snapshots"] == 1
    assert rows == (250, 5)


def test_the_scheduled_maintenance_job_reports_files_and_bytes_before_and_after(lake, tmp_path):
    from cdp_platform.automation.ducklake_maintenance import MAINTENANCE_JOB_NAME

    environ = {"CDP_LAKE_ROOT": str(tmp_path / "lake"), "CDP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb")}
    file_defs = build_definitions(load_settings(environ))
    assert MAINTENANCE_JOB_NAME not in {j.name for j in file_defs.jobs or []}  # the file has no such job
    with connect_warehouse(lake.warehouse) as con:
        con.execute("create schema cleansed_test")
        con.execute("create table cleansed_test.days (day integer, n integer)")
        for day in range(4):
            con.execute("insert into cleansed_test.days select ?, range from range(20)", [day])
    defs = build_definitions(lake)
    schedule = defs.resolve_schedule_def(f"{MAINTENANCE_JOB_NAME}_daily")
    assert schedule.cron_schedule == "30 3 * * *"
    result = defs.resolve_job_def(MAINTENANCE_JOB_NAME).execute_in_process()
    assert result.success
    meta = next(
        e.event_specific_data.metadata
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.STEP_OUTPUT
    )
    assert meta["live_files_before"].value == 4 and meta["live_files_after"].value == 1
    assert meta["retention_days"].value == 7 and meta["snapshots_expired"].value == 0
    with connect_warehouse(lake.warehouse, read_only=True) as con:
        assert con.execute("select count(*) from cleansed_test.days").fetchone() == (80,)
