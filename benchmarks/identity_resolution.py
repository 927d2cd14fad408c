"""Identity resolution at scale: time, peak memory and quality on sandbox records.

    python benchmarks/identity_resolution.py --records 100000
    python benchmarks/identity_resolution.py --persons 2000 --unique-name-max-expected-holders 0.01

Prints one JSON object: the wall-clock seconds of ``resolve`` alone, the peak RSS of the process
that ran it, pairwise precision/recall/F1 and the number of clients holding more than one true
person. The input is built once from the sandbox (persons scaled to give about ``--records`` rows,
then a seeded sample of exactly that many) and cached as Parquet, because making a million
vendor-shaped records takes minutes; resolution then runs in a fresh child process so that its
peak RSS is the resolver's, not the generator's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

# Person-like records per sandbox person with the default shares (measured at 2,000 persons: 4,482).
RECORDS_PER_PERSON = 2.2


def build_input(records: int | None, seed: int, cache: Path, persons: int | None = None) -> tuple[Path, Path]:
    """Cached (records, truth) Parquet files holding exactly ``records`` rows, or (``persons``) every
    record of a sandbox of that many persons, unsampled: ``--persons 2000`` is the default sandbox
    that ``test_sandbox_quality.py`` grades."""
    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.identity_candidates import sandbox_candidates
    from cdp_platform.sandbox.records import SandboxData

    if persons is None:
        assert records is not None
        persons = max(1, math.ceil(records / RECORDS_PER_PERSON))
    stem = cache / f"identity_{records or 'all'}_{persons}_{seed}"
    records_path, truth_path = stem.with_suffix(".records.parquet"), stem.with_suffix(".truth.parquet")
    if records_path.exists() and truth_path.exists():
        return records_path, truth_path
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    candidates = sandbox_candidates(SandboxData(SandboxConfig(persons=persons, seed=seed)))
    frame = candidates.records
    if records is not None and frame.height > records:
        frame = frame.sample(records, seed=seed, shuffle=True)
    frame.write_parquet(records_path)
    candidates.truth.filter(pl.col("record_id").is_in(frame["record_id"].implode())).write_parquet(truth_path)
    print(
        json.dumps(
            {
                "generated_records": frame.height,
                "persons": persons,
                "seconds": round(time.perf_counter() - started, 1),
            }
        ),
        file=sys.stderr,
    )
    return records_path, truth_path


def measure(records_path: Path, truth_path: Path, max_expected_holders: float | None) -> dict[str, object]:
    """Resolve the cached input in this process and report time, peak RSS and quality."""
    from cdp_platform.identity import ResolutionConfig, evaluate, resolve, summarize

    config = ResolutionConfig()
    if max_expected_holders is not None:
        config = dataclasses.replace(config, unique_name_max_expected_holders=max_expected_holders)
    records = pl.read_parquet(records_path)
    truth = pl.read_parquet(truth_path)
    started = time.perf_counter()
    resolution = resolve(records, config)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scores = evaluate(resolution.mapping, truth)
    summary = summarize(resolution)
    return {
        "records": records.height,
        "unique_name_max_expected_holders": config.unique_name_max_expected_holders,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kib / 1024, 1),
        "precision": round(float(scores["precision"]), 6),
        "recall": round(float(scores["recall"]), 6),
        "f1": round(float(scores["f1"]), 6),
        "multi_person_clusters": scores["multi_person_clusters"],
        "clients": summary["clients"],
        "persons": scores["persons"],
        "links_by_rule": summary["links_by_rule"],
        "refused_merges": summary["refused_merges"],
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--persons",
        type=int,
        default=None,
        help="every record of a sandbox of this many persons (2000: the default)",
    )
    parser.add_argument(
        "--unique-name-max-expected-holders",
        type=float,
        default=None,
        help="ResolutionConfig.unique_name_max_expected_holders (default: the config's)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cdp_identity_benchmark")
    parser.add_argument("--measure", nargs=2, type=Path, metavar=("RECORDS", "TRUTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    holders = args.unique_name_max_expected_holders
    if args.measure:
        print(json.dumps(measure(*args.measure, holders)))
        return
    records_path, truth_path = build_input(
        None if args.persons else args.records, args.seed, args.cache, args.persons
    )
    extra = [] if holders is None else ["--unique-name-max-expected-holders", str(holders)]
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(records_path), str(truth_path), *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    print(child.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
