"""Raw ingestion of all six sources against the sandbox, graded against its ground truth."""

import polars as pl
import pytest

from cdp_platform.sandbox.config import STREAMS
from cdp_platform_tests.sources.support import (
    SANDBOX_TODAY,
    SandboxServer,
    dead_letters,
    expected_ids,
    ingest,
    landed,
    truth_key,
    truth_records,
)

PERSONS = 2000
PARTITIONS = ["2026-11-20", "2026-11-21"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    return truth_records(PERSONS, 7, tmp_path_factory.mktemp("truth"))


def _environ(tmp_path, faults: str) -> dict[str, str]:
    return {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_FAULTS": faults,
    }


@pytest.mark.parametrize("faults", ["none", "storm"])
def test_every_partition_holds_exactly_the_truth(tmp_path, truth, faults):
    results = ingest(_environ(tmp_path, faults), PARTITIONS)
    for result in results:
        failures = [e.event_specific_data.error.message for e in result.get_step_failure_events()]
        assert result.success, failures
    _assert_exactly_the_truth(tmp_path / "lake", truth)


def _assert_exactly_the_truth(lake, truth) -> None:
    for stream in STREAMS:
        for partition in PARTITIONS:
            frame = landed(lake, stream, partition)
            assert frame["record_id"].n_unique() == frame.height, f"{stream} {partition}: doubled records"
            got = truth_key(stream, frame)
            want = expected_ids(truth, stream, partition)
            unidentified = [d for d in dead_letters(lake, stream, partition) if "has no" in d["error"]]
            missing = sorted(set(want) - set(got))
            assert set(got) <= set(want), f"{stream} {partition}: records outside the window {set(got) - set(want)}"
            assert len(missing) == len(unidentified), (
                f"{stream} {partition}: {len(missing)} record(s) lost, {len(unidentified)} dead-lettered without id"
            )
    assert not list(lake.glob("_checkpoints/**/*.parquet")), "checkpoints left behind"


def test_rows_keep_the_record_as_received_and_where_it_came_from(tmp_path, truth):
    ingest(_environ(tmp_path, "none"), ["2026-11-20"])
    frame = landed(tmp_path / "lake", "hubspot/contacts", "2026-11-20")
    assert frame.height > 0
    assert frame.schema["updated_at"] == pl.Datetime("us", "UTC")
    row = frame.row(0, named=True)
    assert row["payload"].startswith('{"id":')
    assert row["request"].startswith("POST http://sandbox.cdp.invalid/hubspot/crm/v3/objects/contacts/search")
    assert str(row["partition_date"]) == "2026-11-20"
    assert row["updated_at"].date().isoformat() == "2026-11-20"


@pytest.fixture
def storm_server():
    server = SandboxServer("--persons", str(PERSONS), "--seed", "7", "--today", SANDBOX_TODAY, "--faults", "storm")
    yield server
    server.stop()


def test_storm_on_a_real_port_loses_and_doubles_nothing(tmp_path, truth, storm_server, monkeypatch):
    """The sandbox served by ``cdp-sandbox serve --faults storm``: 429 bursts, 5xx, slow and cut
    responses, duplicated records, repeated cursors, self links; quotas on."""
    environ = {**_environ(tmp_path, "none"), **storm_server.environ(monkeypatch)}
    results = ingest(environ, PARTITIONS)
    for result in results:
        assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]
    faults = storm_server.stats()["faults"]
    assert sum(sum(kinds.values()) for kinds in faults.values()) > 20, faults
    _assert_exactly_the_truth(tmp_path / "lake", truth)
