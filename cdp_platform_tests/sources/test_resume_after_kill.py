"""A raw ingestion killed with SIGKILL mid-partition resumes from its checkpoint, exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from cdp_platform_tests.sources.support import (
    SANDBOX_TODAY,
    SandboxServer,
    expected_ids,
    ingest,
    landed,
    truth_records,
)

PERSONS = 20_000
PARTITION = "2026-11-20"
SELECTION = ["raw/hubspot/contacts", "raw/salesforce/contacts"]

RUNNER = """
import json, sys
import dagster as dg
from cdp_platform_tests.sources.support import ingest
environ, partition, selection = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
ingest(environ, [partition], selection=[dg.AssetKey.from_user_string(k) for k in selection])
"""


@pytest.fixture
def slow_server():
    # 40 ms a response and 5 records a page: the partition takes dozens of pages, long enough to
    # kill the run in the middle.
    server = SandboxServer(
        "--persons", str(PERSONS), "--today", SANDBOX_TODAY, "--latency-ms", "40", "--no-rate-limits"
    )
    yield server
    server.stop()


def _environ(tmp_path, name, server, monkeypatch):
    return {
        "CDP_LAKE_ROOT": str(tmp_path / name / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / name / "warehouse.duckdb"),
        "CDP_HUBSPOT_PAGE_SIZE": "5",
        "CDP_SALESFORCE_PAGE_SIZE": "200",
        **server.environ(monkeypatch),
    }


def _spooled_pages(lake) -> int:
    return len(list(lake.glob("_checkpoints/raw/hubspot/contacts/**/pages/**/*.parquet")))


def _keys(selection):
    import dagster as dg

    return [dg.AssetKey.from_user_string(k) for k in selection]


def test_sigkill_then_resume_fetches_less_and_lands_exactly_once(tmp_path, slow_server, monkeypatch):
    environ = _environ(tmp_path, "killed", slow_server, monkeypatch)
    lake = tmp_path / "killed" / "lake"
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(environ), PARTITION, json.dumps(SELECTION)],
        env={**os.environ, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _spooled_pages(lake) < 5:
        assert process.poll() is None, "the ingestion ended before it could be killed"
        assert time.monotonic() < deadline, "no pages were spooled"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert not (lake / "raw" / "hubspot" / "contacts" / f"{PARTITION}.parquet").exists()
    pages_before = _spooled_pages(lake)

    before = slow_server.requests("hubspot")
    [resumed] = ingest(environ, [PARTITION], selection=_keys(SELECTION))
    assert resumed.success
    resumed_requests = slow_server.requests("hubspot") - before
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in resumed.get_asset_materialization_events()
    }
    assert metadata["raw/hubspot/contacts"]["resumed"].value is True

    before = slow_server.requests("hubspot")
    [fresh] = ingest(
        _environ(tmp_path, "fresh", slow_server, monkeypatch), [PARTITION], selection=_keys(SELECTION)
    )
    assert fresh.success
    fresh_requests = slow_server.requests("hubspot") - before
    assert resumed_requests < fresh_requests, (resumed_requests, fresh_requests, pages_before)

    truth = truth_records(PERSONS, 7, tmp_path / "truth")
    for stream in ("hubspot/contacts", "salesforce/contacts"):
        frame = landed(lake, stream, PARTITION)
        assert frame["record_id"].n_unique() == frame.height
        assert sorted(frame["record_id"].to_list()) == expected_ids(truth, stream, PARTITION)
        fresh_frame = landed(tmp_path / "fresh" / "lake", stream, PARTITION)
        assert (
            frame.select("record_id", "payload")
            .sort("record_id")
            .equals(fresh_frame.select("record_id", "payload").sort("record_id"))
        )
    assert not list(lake.glob("_checkpoints/**/*.*")), "the checkpoint was not cleared"
    assert pl.read_parquet(lake / "raw" / "hubspot" / "contacts" / f"{PARTITION}.parquet").height > 25
