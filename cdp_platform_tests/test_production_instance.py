"""deploy/dagster.yaml against the machine's real PostgreSQL: runs and events are stored there."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.postgres


@dg.asset
def tiny() -> int:
    return 42


def test_production_instance_stores_runs_and_events_in_postgres(fresh_database, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_PG_DB", fresh_database)
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_DIR", str(tmp_path / "logs"))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        result = dg.materialize([tiny], instance=instance)
        assert result.success
        run_id = result.run_id

    import psycopg2

    with psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=fresh_database) as con:
        with con.cursor() as cur:
            cur.execute("select status from runs where run_id = %s", [run_id])
            assert cur.fetchone() == ("SUCCESS",)
            cur.execute(
                "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
                [run_id],
            )
            assert cur.fetchone() == (1,)
