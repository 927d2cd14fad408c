"""The profile (dbt, identity, scores) at scale, on the DuckDB file and on a DuckLake.

    python benchmarks/profile_scale.py --persons 100000 --root /tmp/cdp_profile_scale

One sandbox of ``--persons`` persons whose whole history is ``--span-days`` days (so every person
is in the few partitions built) is ingested and cleansed once into the DuckDB file (``prepare``,
timed). Then each arm builds the profile, every unpartitioned asset but the pseudonymized copies
(dbt models, identity_map, the sentiment and the scores), in a process of its own so its peak RSS
is its own:

- ``file``: on the prepared DuckDB file (a copy of it);
- ``ducklake``: the cleansed tables copied into a DuckLake whose catalog is a fresh database of the
  PostgreSQL at ``--postgres`` and whose Parquet files are on a moto S3 server on loopback (the
  copy is not timed as a stage).

Prints one JSON object: per arm, seconds per stage (each Dagster step of the profile run, from its
events) and in all, and peak RSS of the arm's process and of its children (dbt runs in one).
Needs PostgreSQL (trust auth) for the DuckLake arm; nothing downloads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

SANDBOX_TODAY = "2026-11-26"


def _environ(root: Path, persons: int, span_days: int) -> dict[str, str]:
    import datetime

    start = (datetime.date.fromisoformat(SANDBOX_TODAY) - datetime.timedelta(days=span_days)).isoformat()
    return {
        "CDP_LAKE_ROOT": str(root / "lake"),
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_PSEUDONYMIZED_WAREHOUSE_PATH": str(root / "pseudonymized.duckdb"),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_PERSONS": str(persons),
        "CDP_SANDBOX_SPAN_DAYS": str(span_days),
        "CDP_PARTITIONS_START": start,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def _rss_mb() -> dict[str, float]:
    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def prepare(root: Path, persons: int, span_days: int) -> dict:
    """Raw and cleansed for every day of the history, into the DuckDB file."""
    environ = _environ(root, persons, span_days)
    os.environ.update(environ)
    import datetime

    import dagster as dg

    from cdp_platform.definitions import build_definitions
    from cdp_platform.settings import load_settings

    defs = build_definitions(load_settings(environ))
    graph = defs.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    days = [(today - datetime.timedelta(days=n)).isoformat() for n in range(span_days, -1, -1)]
    defs = dg.Definitions.merge(
        defs,
        dg.Definitions(
            jobs=[
                dg.define_asset_job("bench_raw", selection=[k for k in keys if k.path[0] == "raw"]),
                dg.define_asset_job("bench_cleansed", selection=[k for k in keys if k.path[0] == "cleansed"]),
            ]
        ),
    )
    instance = dg.DagsterInstance.ephemeral()
    seconds = {}
    started = time.perf_counter()
    for day in days:
        assert (
            defs.resolve_job_def("bench_raw").execute_in_process(partition_key=day, instance=instance).success
        )
    seconds["raw"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    assert defs.resolve_job_def("bench_cleansed").execute_in_process(tags=window, instance=instance).success
    seconds["cleansed"] = round(time.perf_counter() - started, 1)
    return {"seconds": seconds, **_rss_mb()}


def arm(kind: str, root: Path, persons: int, span_days: int, lake: dict[str, str]) -> dict:
    """The profile run on one warehouse kind, in this process."""
    environ = _environ(root, persons, span_days)
    environ.update(lake)
    os.environ.update(environ)
    import dagster as dg

    from cdp_platform.definitions import build_definitions
    from cdp_platform.settings import load_settings

    settings = load_settings(environ)
    copy_seconds = None
    if kind == "ducklake":
        from cdp_platform.io.warehouse import connect_warehouse

        started = time.perf_counter()
        with connect_warehouse(settings.warehouse) as con:
            con.execute(f"attach '{root / 'warehouse.duckdb'}' as built (read_only)")
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = 'built' "
                "and table_type = 'BASE TABLE' and table_schema like 'cleansed%'"
            ).fetchall()
            for schema, table in tables:
                con.execute(f'create schema if not exists "{schema}"')
                con.execute(f'create table "{schema}"."{table}" as select * from built."{schema}"."{table}"')
            con.execute("detach built")
        copy_seconds = round(time.perf_counter() - started, 1)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    profile = [
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable
        and graph.get(k).partitions_def is None
        and k.path[0] != "pseudonymized"
    ]
    defs = dg.Definitions.merge(
        defs, dg.Definitions(jobs=[dg.define_asset_job("bench_profile", selection=profile)])
    )
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = defs.resolve_job_def("bench_profile").execute_in_process(instance=instance, raise_on_error=False)
    total = round(time.perf_counter() - started, 1)
    stages: dict[str, float] = {}
    begun: dict[str, float] = {}
    for event in instance.all_logs(result.run_id):
        dagster_event = event.dagster_event
        if dagster_event is None or event.step_key is None:
            continue
        if dagster_event.event_type == dg.DagsterEventType.STEP_START:
            begun[event.step_key] = event.timestamp
        elif dagster_event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            stages[event.step_key] = round(event.timestamp - begun[event.step_key], 1)
    failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return {
        "success": result.success,
        "failed_steps": failed,
        "seconds_total": total,
        "seconds_by_stage": dict(sorted(stages.items())),
        "seconds_copy_into_lake": copy_seconds,
        **_rss_mb(),
    }


def _database(name: str, host: str, create: bool) -> None:
    import psycopg2

    admin = psycopg2.connect(host=host, port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            f'create database "{name}"' if create else f'drop database if exists "{name}" with (force)'
        )
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--span-days", type=int, default=3, help="the sandbox's whole history, in days")
    parser.add_argument(
        "--root", type=Path, required=True, help="an empty folder for the lake and warehouses"
    )
    parser.add_argument("--postgres", default="127.0.0.1", help="host of the PostgreSQL for the catalog")
    parser.add_argument("--arms", default="file,ducklake")
    parser.add_argument("--_arm", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_lake", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._arm == "prepare":
        print(json.dumps(prepare(args.root, args.persons, args.span_days)))
        return
    if args._arm:
        print(json.dumps(arm(args._arm, args.root, args.persons, args.span_days, json.loads(args._lake))))
        return

    def child(name: str, root: Path, lake: dict | None = None, env: dict | None = None) -> dict:
        command = [
            sys.executable,
            __file__,
            "--persons",
            str(args.persons),
            "--span-days",
            str(args.span_days),
        ]
        command += ["--root", str(root), "--_arm", name, "--_lake", json.dumps(lake or {})]
        out = subprocess.run(
            command, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    built = args.root / "built"
    built.mkdir(parents=True, exist_ok=True)
    report: dict = {"persons": args.persons, "span_days": args.span_days, "prepare": child("prepare", built)}
    for name in args.arms.split(","):
        root = args.root / name
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(built, root)
        if name == "file":
            report[name] = child(name, root)
            continue
        import boto3
        from moto.server import ThreadedMotoServer

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from cdp_platform_tests.support.services import free_port

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        database = f"cdp_bench_{uuid.uuid4().hex[:8]}"
        _database(database, args.postgres, create=True)
        try:
            credentials = {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            ).create_bucket(Bucket="cdp-bench")
            lake = {
                "CDP_WAREHOUSE": "ducklake",
                "CDP_DUCKLAKE_CATALOG": f"dbname={database} host={args.postgres} user=postgres",
                "CDP_DUCKLAKE_DATA_PATH": "s3://cdp-bench/warehouse",
                "CDP_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            }
            report[name] = child(name, root, lake, credentials)
        finally:
            _database(database, args.postgres, create=False)
            server.stop()
    if "file" in report and "ducklake" in report:
        report["ducklake_over_file"] = round(
            report["ducklake"]["seconds_total"] / report["file"]["seconds_total"], 2
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
