"""Running raw ingestion in tests and grading it against the sandbox's ground truth."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import polars as pl

from cdp_platform.definitions import build_definitions
from cdp_platform.io.dead_letters import read_dead_letters
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox.config import STREAMS, SandboxConfig
from cdp_platform.sandbox.credentials import SANDBOX_CREDENTIALS
from cdp_platform.sandbox.in_process import SANDBOX_PREFIX
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.settings import env_var_name, load_settings
from cdp_platform_tests.support.services import free_port

SANDBOX_TODAY = "2026-11-26"


def sandbox_environ(
    root: Path, persons: int, span_days: int, partitions_start: str = "2026-11-01"
) -> dict[str, str]:
    """The environment of a whole-pipeline test: lake and warehouse under ``root``, a small pinned sandbox."""
    return {
        "CDP_LAKE_ROOT": str(root / "lake"),
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_PERSONS": str(persons),
        "CDP_SANDBOX_SPAN_DAYS": str(span_days),
        "CDP_PARTITIONS_START": partitions_start,
    }


def ingest(
    environ: dict[str, str],
    partitions: list[str],
    *,
    selection: list[str] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Materialize the raw assets (or the ``selection`` of asset keys) one partition per run."""
    defs = build_definitions(load_settings(environ))
    raw = [
        a
        for a in defs.assets
        # Not every entry is an AssetsDefinition: specs (webhook events, observable sources) have no op.
        if isinstance(a, dg.AssetsDefinition) and a.is_executable and a.node_def.name.startswith("raw_")
    ]
    return [
        dg.materialize(
            raw,
            partition_key=partition,
            resources=defs.resources,
            instance=instance,
            selection=selection,
            raise_on_error=False,
        )
        for partition in partitions
    ]


def truth_records(persons: int, seed: int, out: Path, span_days: int = 730) -> pl.DataFrame:
    config = SandboxConfig(
        persons=persons, seed=seed, today=datetime.date.fromisoformat(SANDBOX_TODAY), span_days=span_days
    )
    write_truth(config, out)
    return pl.read_parquet(out / "records.parquet")


def expected_ids(truth: pl.DataFrame, stream: str, partition: str) -> list[str]:
    start = datetime.datetime.fromisoformat(partition).replace(tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=1)
    source, name = stream.split("/")
    rows = truth.filter(
        (pl.col("source") == source)
        & (pl.col("stream") == stream if "/" in truth["stream"][0] else pl.col("stream") == name)
        & (pl.col("modified_at") >= start)
        & (pl.col("modified_at") < end)
    )
    return sorted(rows["record_id"].to_list())


def landed(lake_root: Path, stream: str, partition: str) -> pl.DataFrame:
    return pl.read_parquet(lake_root / "raw" / stream / f"{partition}.parquet")


def truth_key(stream: str, frame: pl.DataFrame) -> list[str]:
    """Raw record ids in the truth's terms (GA4 rows are keyed by date and client id there)."""
    if stream == "google_analytics/user_daily_activity":
        ids = frame["record_id"].str.split(":")
        # The storm sends some dates as YYYY-MM-DD: still the same row (cleansed quarantines it).
        return sorted((ids.list.get(0).str.replace_all("-", "") + ":" + ids.list.get(1)).to_list())
    return sorted(frame["record_id"].to_list())


def dead_letters(lake_root: Path, stream: str, partition: str) -> list[dict]:
    source, name = stream.split("/")
    return read_dead_letters(LocalLake(lake_root), source, name, partition)


class SandboxServer:
    """``cdp-sandbox serve`` in its own process group on a free loopback port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "cdp_platform.sandbox.cli", "serve", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        self.info = json.loads(self.process.stdout.readline())
        deadline = time.monotonic() + 60
        while True:
            try:
                self.stats()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.root}/_sandbox/stats", timeout=5) as response:
            return json.loads(response.read())

    def requests(self, vendor: str) -> int:
        return self.stats()["requests"].get(vendor, {}).get("total", 0)

    def environ(self, monkeypatch, only: tuple[str, ...] | None = None) -> dict[str, str]:
        """Settings pointing every vendor (or the ``only`` ones; the others stay in process) at this
        server; credentials become real env vars, read through Dagster ``EnvVar`` as in production."""
        environ = dict(self.info["accounts"])
        for source, prefix in SANDBOX_PREFIX.items():
            if only is not None and source not in only:
                continue
            environ[env_var_name(source, "base_url")] = f"{self.root}/{prefix}"
            for role, value in SANDBOX_CREDENTIALS[source].items():
                monkeypatch.setenv(env_var_name(source, role), value)
                environ[env_var_name(source, role)] = value
        return environ

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def assert_exactly_the_truth(lake: Path, truth: pl.DataFrame, partitions: list[str]) -> None:
    """Every stream's partitions hold exactly the truth's records of their windows: none lost
    (but as many as were dead-lettered for having no id), none doubled, none from outside the window."""
    for stream in STREAMS:
        for partition in partitions:
            frame = landed(lake, stream, partition)
            assert frame["record_id"].n_unique() == frame.height, f"{stream} {partition}: doubled records"
            got = truth_key(stream, frame)
            want = expected_ids(truth, stream, partition)
            unidentified = [d for d in dead_letters(lake, stream, partition) if "has no" in d["error"]]
            missing = sorted(set(want) - set(got))
            assert set(got) <= set(want), (
                f"{stream} {partition}: records outside the window {set(got) - set(want)}"
            )
            # A record damaged on one answer can arrive intact on a page asked again (after a
            # repeated cursor or a duplicate), so there may be more such dead letters than losses.
            assert len(missing) <= len(unidentified), (
                f"{stream} {partition}: {len(missing)} record(s) lost, {len(unidentified)} dead-lettered without id"
            )
    assert not list(lake.glob("_checkpoints/**/*.parquet")), "checkpoints left behind"


# What the storm tests say they survive, each to be seen happening: the paging faults (a cursor or
# next link that loops back, a record on two pages, a cursor to an empty page), damaged records,
# throttles with and without a Retry-After header, server errors, cut connections and credentials
# answered as expired. 5xx counts 500 and the gateways' 502/503/504 together.
NAMED_FAULTS: dict[str, tuple[str, ...]] = {
    "repeated_cursor": ("repeated_cursor",),
    "self_link": ("self_link",),
    "duplicate_record": ("duplicate_record",),
    "empty_last_page": ("empty_last_page",),
    "malformed_record": ("malformed_record",),
    "schema_drift": ("schema_drift",),
    "429 without Retry-After": ("rate_limited",),
    "429 with Retry-After": ("retry_after_zero",),
    "5xx": ("http_500", "http_502", "http_503", "http_504"),
    "cut_connection": ("cut_connection",),
    "expired_token": ("expired_token",),
}


def fault_counts(stats: dict, before: dict | None = None) -> dict[str, int]:
    """Injected faults per named kind, from the sandbox's own counters (minus those in ``before``)."""
    totals, earlier = stats["fault_totals"], (before or {}).get("fault_totals", {})
    return {
        name: sum(totals.get(kind, 0) - earlier.get(kind, 0) for kind in kinds)
        for name, kinds in NAMED_FAULTS.items()
    }


def assert_every_fault_happened(stats: dict, minimum: int, before: dict | None = None) -> dict[str, int]:
    """Each named fault kind was injected at least ``minimum`` times: a green storm test means the
    client met every one of them, not only the transport faults."""
    counts = fault_counts(stats, before)
    rare = {name: n for name, n in counts.items() if n < minimum}
    assert not rare, f"fault kinds injected fewer than {minimum} times: {rare} (all: {counts})"
    return counts
