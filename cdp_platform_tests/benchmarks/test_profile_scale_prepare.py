"""``benchmarks/profile_scale.py`` prepares its raw layer faster than the local default lands it (one
range run per source in parallel processes, the sandbox's quota windows 3,600 times shorter, its
people cached without bound), and none of that may change a record: the raw partition files it
writes hold exactly the records (ids, change times, payloads, contexts) that the local default's
raw assets land over HTTP from the in-process sandbox, one daily run after another."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_scale.py"
PERSONS = 200
SPAN_DAYS = 1


def _benchmark():
    spec = importlib.util.spec_from_file_location("profile_scale_under_test", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw_files(lake: Path) -> dict[str, pl.DataFrame]:
    columns = ["record_id", "updated_at", "payload", "context", "partition_date"]
    return {
        str(path.relative_to(lake)): pl.read_parquet(path).select(columns).sort("record_id")
        for path in sorted((lake / "raw").rglob("*.parquet"))
    }


@pytest.mark.slow
def test_prepared_raw_holds_the_records_the_http_path_lands(tmp_path: Path, monkeypatch) -> None:
    bench = _benchmark()
    http_root, fast_root = tmp_path / "http", tmp_path / "fast"
    environ = bench._environ(http_root, PERSONS, SPAN_DAYS)
    # The benchmark's functions set these in os.environ; monkeypatch puts them back afterwards.
    for name, value in {**environ, "CDP_SANDBOX_TIME_SCALE": "60"}.items():
        monkeypatch.setenv(name, value)

    # The local default: the raw assets at the sandbox's default time scale, one run per day.
    defs = build_definitions(load_settings(environ))
    raw_keys = bench._layer_keys(defs, "raw")
    defs = dg.Definitions.merge(
        defs, dg.Definitions(jobs=[dg.define_asset_job("raw_days", selection=raw_keys)])
    )
    instance = dg.DagsterInstance.ephemeral()
    for day in bench._days(SPAN_DAYS):
        assert (
            defs.resolve_job_def("raw_days").execute_in_process(partition_key=day, instance=instance).success
        )

    # The benchmark's prepare, one source at a time in this process.
    groups = sorted({key.path[1] for key in raw_keys})
    landed = [bench.raw_group(fast_root, PERSONS, SPAN_DAYS, group) for group in groups]

    expected, written = _raw_files(http_root / "lake"), _raw_files(fast_root / "lake")
    assert sorted(written) == sorted(expected)
    records = sum(frame.height for frame in expected.values())
    assert records > 500, records  # every vendor's streams, not a few stray rows
    assert sum(group["records"] for group in landed) == records
    for name, frame in expected.items():
        assert written[name].equals(frame), name
