"""Running raw ingestion in tests and grading it against the sandbox's ground truth."""

from __future__ import annotations

import datetime
from pathlib import Path

import dagster as dg
import polars as pl

from cdp_platform.definitions import build_definitions
from cdp_platform.io.dead_letters import read_dead_letters
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.settings import load_settings

SANDBOX_TODAY = "2026-11-26"


def ingest(environ: dict[str, str], partitions: list[str], *, instance: dg.DagsterInstance | None = None) -> list:
    defs = build_definitions(load_settings(environ))
    raw = [a for a in defs.assets if a.is_executable and a.node_def.name.startswith("raw_")]
    results = []
    for partition in partitions:
        results.append(
            dg.materialize(raw, partition_key=partition, resources=defs.resources, instance=instance, raise_on_error=False)
        )
    return results


def truth_records(persons: int, seed: int, out: Path) -> pl.DataFrame:
    config = SandboxConfig(persons=persons, seed=seed, today=datetime.date.fromisoformat(SANDBOX_TODAY))
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
        return sorted((ids.list.get(0) + ":" + ids.list.get(1)).to_list())
    return sorted(frame["record_id"].to_list())


def dead_letters(lake_root: Path, stream: str, partition: str) -> list[dict]:
    source, name = stream.split("/")
    return read_dead_letters(LocalLake(lake_root), source, name, partition)
