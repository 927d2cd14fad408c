"""Build the sandbox's data for many persons and report time, memory and record throughput as JSON.

Run: ``.venv/bin/python benchmarks/sandbox_memory.py --persons 1000000 [--truth-dir DIR]``.
Numbers live here, not in test assertions: they depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import tempfile
import time

import psutil

from cdp_platform.sandbox.config import STREAMS, SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.truth import write_truth


def _rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sample", type=int, default=2_000, help="records made per stream to time generation"
    )
    parser.add_argument("--truth", action="store_true", help="also time write_truth (into a temp dir)")
    args = parser.parse_args()

    config = SandboxConfig(persons=args.persons, seed=args.seed)
    rss_before = _rss_mb()
    started = time.perf_counter()
    data = SandboxData(config)
    build_s = time.perf_counter() - started
    rss_built = _rss_mb()

    counts = {stream: data.count(stream) for stream in STREAMS}
    throughput = {}
    for stream in STREAMS:
        n = min(args.sample, counts[stream])
        started = time.perf_counter()
        for position in range(n):
            data.record(stream, position)
        throughput[stream] = round(n / (time.perf_counter() - started))
    day = config.history_end - datetime.timedelta(days=1)
    started = time.perf_counter()
    windows = 0
    for stream in STREAMS:
        for _ in range(100):
            windows += len(data.window(stream, day, config.history_end))
    window_us = (time.perf_counter() - started) / (100 * len(STREAMS)) * 1e6

    result = {
        "persons": args.persons,
        "records_total": sum(counts.values()),
        "records_per_stream": counts,
        "build_seconds": round(build_s, 2),
        "rss_mb_before_build": rss_before,
        "rss_mb_after_build": rss_built,
        "rss_mb_after_sampling": _rss_mb(),
        "peak_rss_mb": _peak_mb(),
        "records_per_second_by_stream": throughput,
        "window_query_microseconds": round(window_us, 1),
    }
    if args.truth:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            write_truth(config, out)
            result["truth_seconds"] = round(time.perf_counter() - started, 2)
            result["peak_rss_mb_with_truth"] = _peak_mb()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
