"""Materialize everything on the local default, as "Materialize all" in the UI does, and report it.

    python benchmarks/materialize_all.py --root /tmp/cdp_materialize_all

The local default is what ``bash scripts/dev.sh`` serves: the in-process sandbox (2,000 persons, two
years of history) and daily partitions from ``CDP_PARTITIONS_START``. Only the lake, the warehouse
and Dagster's storage go under ``--root``, so nothing of ``.cdp/`` is touched; any ``CDP_*``
variable set in the environment applies as it would to ``dagster dev``.

Runs the layers in the order the UI's backfill runs them: one run per daily partition of the raw
assets, one range run of the cleansed layer, the unpartitioned profile (dbt, identity, scores), the
timeline over every partition, the pseudonymized copies. Prints one JSON object: seconds per layer,
peak RSS, every asset check that did not pass (with its description), client_360's rows and
identified rows, and ``identity_map``'s own grading against the sandbox's true persons.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="an empty folder for the lake, warehouse and runs")
    parser.add_argument("--days", type=int, default=None, help="only the last N daily partitions (default: all)")
    parser.add_argument(
        "--raw-slice",
        default=None,
        metavar="FROM:TO",
        help="only the raw runs of these partitions (Python slice of the day list), then stop: "
        "several processes can fill one lake side by side, each with its own --instance",
    )
    parser.add_argument("--skip-raw", action="store_true", help="the raw partitions are in the lake already")
    parser.add_argument("--instance", default="dagster_home", help="Dagster's storage folder under --root")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    environ = {
        **os.environ,
        "CDP_LAKE_ROOT": str(args.root / "lake"),
        "CDP_WAREHOUSE_PATH": str(args.root / "warehouse.duckdb"),
        "CDP_PSEUDONYMIZED_WAREHOUSE_PATH": str(args.root / "pseudonymized.duckdb"),
    }
    os.environ.update(environ)  # dbt reads the warehouse path from the environment (profiles.yml)

    import dagster as dg
    import duckdb

    from cdp_platform.definitions import build_definitions
    from cdp_platform.settings import load_settings

    settings = load_settings(environ)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    start = datetime.date.fromisoformat(settings.partitions_start)
    yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    days = [(start + datetime.timedelta(days=n)).isoformat() for n in range((yesterday - start).days + 1)]
    if args.days:
        days = days[-args.days :]

    def keys(predicate) -> list[dg.AssetKey]:
        return [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and predicate(k)]

    jobs = {
        "raw": keys(lambda k: k.path[0] == "raw"),
        "cleansed": keys(lambda k: k.path[0] == "cleansed"),
        "profile": keys(lambda k: graph.get(k).partitions_def is None and k.path[0] != "pseudonymized"),
        "timeline": [dg.AssetKey("client_interactions")],
        "pseudonymized": keys(lambda k: k.path[0] == "pseudonymized"),
    }
    defs = dg.Definitions.merge(
        defs, dg.Definitions(jobs=[dg.define_asset_job(name, selection=sel) for name, sel in jobs.items()])
    )
    (args.root / args.instance).mkdir(exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(args.root / args.instance))
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    seconds: dict[str, float] = {}
    results = []

    def run(name: str, **kwargs) -> None:
        started = time.perf_counter()
        result = defs.resolve_job_def(name).execute_in_process(instance=instance, raise_on_error=False, **kwargs)
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - started, 1)
        results.append(result)
        if not result.success:
            raise SystemExit(f"the {name} run {result.run_id} failed; see {args.root / args.instance}")

    if args.raw_slice is not None:
        first, _, last = args.raw_slice.partition(":")
        for day in days[slice(int(first) if first else None, int(last) if last else None)]:
            run("raw", partition_key=day)
        print(json.dumps({"raw_runs": len(results), "seconds": seconds}))
        return
    if not args.skip_raw:
        for day in days:
            run("raw", partition_key=day)
    run("cleansed", tags=window)
    run("profile")
    run("timeline", tags=window)
    run("pseudonymized")

    not_passed = sorted(
        {
            (e.asset_key.to_user_string(), e.check_name, str(e.severity.value), e.description or "")
            for r in results
            for e in r.get_asset_check_evaluations()
            if not e.passed
        }
    )
    checks = sum(len(r.get_asset_check_evaluations()) for r in results)
    meta = next(
        e.materialization.metadata
        for r in results
        for e in r.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("identity_map")
    )
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows, identified = con.execute(
            "select count(*), count(*) filter (where is_identified) from marts.client_360"
        ).fetchone()
    print(
        json.dumps(
            {
                "partitions": len(days),
                "first_partition": days[0],
                "last_partition": days[-1],
                "seconds": seconds,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "check_evaluations": checks,
                "checks_not_passed": [
                    {"asset": a, "check": c, "severity": s, "description": d[:300]} for a, c, s, d in not_passed
                ],
                "client_360_rows": rows,
                "client_360_identified": identified,
                "identity": {
                    name.removeprefix("eval_"): value.value
                    for name, value in meta.items()
                    if name.startswith("eval_")
                },
                "cpu_count": os.cpu_count(),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
