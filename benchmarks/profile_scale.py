"""The profile (dbt, identity, scores) at scale, on the DuckDB file and on a DuckLake.

    nice -n 19 python benchmarks/profile_scale.py --persons 100000 --root /tmp/cdp_profile_scale

One sandbox of ``--persons`` persons whose whole history is ``--span-days`` days (so every person
is in the few partitions built) is ingested and cleansed once (``prepare``, timed) and kept under
``--root`` per size (``built_<persons>p_<days>d``), so every arm and every later run starts from the
same build (``--rebuild`` makes it again):

- raw: each source's raw assets in one run over the whole history (as a backfill runs them), the
  sources spread over ``--prepare-workers`` processes. It is the product's own extraction over
  HTTP from the in-process sandbox, with the sandbox's quota windows 3,600 times shorter and its
  people cached once built; the records are those the local default's daily runs land
  (``cdp_platform_tests/benchmarks/test_profile_scale_prepare.py``). The sandbox making the records
  (a few hundred to a few thousand a second per core) is most of this step's time;
- cleansed: the cleansed assets in one run over the range, into the DuckDB file.

Then each arm builds the profile, every unpartitioned asset but the pseudonymized copies (dbt
models, identity_map, the sentiment, the scores, the erasure audit), in a process of its own so its
peak RSS is its own:

- ``file``: on the prepared DuckDB file (a copy of it), steps one after another in that process;
- ``ducklake``: the cleansed tables copied into a DuckLake whose catalog is a fresh database of the
  PostgreSQL at ``--postgres`` and whose Parquet files are on a moto S3 server on loopback (the
  copy is not timed as a stage), steps one after another;
- ``ducklake2``: the same with two step processes (Dagster's multiprocess executor forked from a
  server that preloaded the platform, as production's step executor), every pool of one slot as
  deploy/dagster.yaml sets them: on DuckLake each table is its own pool, so steps writing
  different tables run at once where the asset graph allows it.

Prints one JSON object: per arm, seconds per stage (each Dagster step of the profile run, from its
events) and in all, peak RSS of the arm's process and of its children (dbt, step processes), the
load average before and after. The machine's load is part of every number: run it under
``nice -n 19`` on a shared machine and read the load averages. Needs PostgreSQL (trust auth) for
the DuckLake arms; nothing downloads.
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


def _usage() -> dict[str, float]:
    """Peak RSS and CPU seconds (user + system) of this process and of its waited-for children:
    CPU seconds depend far less on the machine's load than wall seconds do."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "peak_rss_mb": round(own.ru_maxrss / 1024, 1),
        "peak_rss_children_mb": round(children.ru_maxrss / 1024, 1),
        "cpu_seconds": round(own.ru_utime + own.ru_stime, 1),
        "cpu_seconds_children": round(children.ru_utime + children.ru_stime, 1),
    }


# The prepare's sandbox answers at this time scale (the maximum CDP_SANDBOX_TIME_SCALE allows): its
# quota windows, and the windows the pacers are told, are 3,600 times shorter, so pacing never
# waits. The records do not depend on it (tested: cdp_platform_tests/benchmarks/test_profile_scale_prepare.py).
PREPARE_TIME_SCALE = "3600"


def _days(span_days: int) -> list[str]:
    import datetime

    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    return [(today - datetime.timedelta(days=n)).isoformat() for n in range(span_days, -1, -1)]


def _range_tags(days: list[str]) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}


def _layer_keys(defs, layer: str) -> list:
    graph = defs.resolve_asset_graph()
    return sorted(
        (k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and k.path[0] == layer),
        key=lambda k: k.path,
    )


def raw_group(root: Path, persons: int, span_days: int, group: str) -> dict:
    """The raw assets of one source (``raw/<group>/...``) over the whole history in one run, as a
    backfill of that range runs them: the product's own extraction through its vendor resource,
    against the in-process sandbox, into ``root``'s lake.

    Two things differ from the local default, neither changing a record: the sandbox's quota
    windows are :data:`PREPARE_TIME_SCALE` times shorter (pacing does not wait), and the sandbox's
    people are kept once built (its cache holds 8,192; the records of one source name the same
    people from several streams, and the association reads name them again)."""
    import functools

    import dagster as dg

    from cdp_platform.definitions import build_definitions
    from cdp_platform.sandbox.wiring import sandbox_server
    from cdp_platform.settings import load_settings

    environ = {**_environ(root, persons, span_days), "CDP_SANDBOX_TIME_SCALE": PREPARE_TIME_SCALE}
    os.environ.update(environ)
    settings = load_settings(environ)
    defs = build_definitions(settings)
    # The app and data the vendor resources reach (built once per process and configuration).
    population = sandbox_server(settings).data().population
    if not hasattr(population.person, "cache_info") or population.person.cache_info().maxsize is not None:
        population.person = functools.lru_cache(maxsize=None)(population._build_person)
    keys = [k for k in _layer_keys(defs, "raw") if k.path[1] == group]
    job = dg.define_asset_job(f"bench_raw_{group}", selection=keys)
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    started = time.perf_counter()
    result = defs.resolve_job_def(job.name).execute_in_process(
        tags=_range_tags(_days(span_days)), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        raise RuntimeError(f"raw of {group} failed in steps {failed}")
    records = 0
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            value = event.event_specific_data.materialization.metadata.get("row_count")
            records += int(value.value) if value is not None else 0
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "group": group,
        "records": records,
        "seconds": round(time.perf_counter() - started, 1),
        # Of the worker process so far (it may have done another source before this one).
        "peak_rss_mb": round(own.ru_maxrss / 1024, 1),
        "worker_cpu_seconds": round(own.ru_utime + own.ru_stime, 1),
    }


def _raw_group_job(arguments: tuple) -> dict:
    return raw_group(*arguments)


def prepare(root: Path, persons: int, span_days: int, workers: int) -> dict:
    """Raw (one run per source, ``workers`` processes at once) and cleansed (one run over the
    range, through the cleansed assets and their IO manager) for every day of the history."""
    import multiprocessing

    import dagster as dg

    from cdp_platform.definitions import build_definitions
    from cdp_platform.settings import load_settings

    environ = _environ(root, persons, span_days)
    os.environ.update(environ)
    defs = build_definitions(load_settings(environ))
    groups = sorted({k.path[1] for k in _layer_keys(defs, "raw")})
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    # Each process imports the platform once and takes the next source when done (the people it
    # built stay cached for the next source's records of them).
    with context.Pool(max(1, workers)) as pool:
        by_group = pool.map(
            _raw_group_job, [(root, persons, span_days, group) for group in groups], chunksize=1
        )
    seconds = {"raw": round(time.perf_counter() - started, 1)}
    job = dg.define_asset_job("bench_cleansed", selection=_layer_keys(defs, "cleansed"))
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    started = time.perf_counter()
    result = defs.resolve_job_def(job.name).execute_in_process(
        tags=_range_tags(_days(span_days)), instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    seconds["cleansed"] = round(time.perf_counter() - started, 1)
    return {
        "seconds": seconds,
        "raw_records": sum(g["records"] for g in by_group),
        "raw_by_source": {g["group"]: {k: v for k, v in g.items() if k != "group"} for g in by_group},
        "workers": workers,
        **_usage(),
    }


def _profile_definitions(settings, executor=None):
    """The definitions with a job of the profile: every unpartitioned asset but the pseudonymized
    copies (dbt models, identity_map, sentiment, scores, the erasure audit); ``executor``: the
    local default's unless given."""
    import dagster as dg

    from cdp_platform.definitions import DEFAULT, build_definitions

    defs = build_definitions(settings, executor=executor or DEFAULT)
    graph = defs.resolve_asset_graph()
    profile = [
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable
        and graph.get(k).partitions_def is None
        and k.path[0] != "pseudonymized"
    ]
    return dg.Definitions.merge(
        defs, dg.Definitions(jobs=[dg.define_asset_job("bench_profile", selection=profile)])
    )


def bench_profile_job():
    """The profile job from this process's environment: what each step process of the
    two-worker arm loads (``dg.reconstructable``)."""
    import dagster as dg

    from cdp_platform.settings import load_settings

    return _profile_definitions(load_settings(dict(os.environ)), dg.multiprocess_executor).resolve_job_def(
        "bench_profile"
    )


def _copy_cleansed_into_lake(settings, built: Path) -> float:
    from cdp_platform.io.warehouse import connect_warehouse

    started = time.perf_counter()
    with connect_warehouse(settings.warehouse) as con:
        con.execute(f"attach '{built}' as built (read_only)")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'built' "
            "and table_type = 'BASE TABLE' and table_schema like 'cleansed%'"
        ).fetchall()
        for schema, table in tables:
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{table}" as select * from built."{schema}"."{table}"')
        con.execute("detach built")
    return round(time.perf_counter() - started, 1)


def arm(kind: str, root: Path, persons: int, span_days: int, lake: dict[str, str], workers: int) -> dict:
    """The profile run on one warehouse kind, in this process (``workers`` 1) or with its steps in
    up to ``workers`` processes at once (Dagster's multiprocess executor, forked from a server that
    preloaded the platform, as production's step executor; each pool admits one step at a time, as
    deploy/dagster.yaml sets, so on DuckLake two steps never write one table together)."""
    environ = _environ(root, persons, span_days)
    environ.update(lake)
    os.environ.update(environ)
    import dagster as dg

    from cdp_platform.settings import load_settings

    settings = load_settings(environ)
    copy_seconds = (
        _copy_cleansed_into_lake(settings, root / "warehouse.duckdb") if kind.startswith("ducklake") else None
    )
    load_before = os.getloadavg()
    started = time.perf_counter()
    if workers == 1:
        instance = dg.DagsterInstance.ephemeral()
        job = _profile_definitions(settings).resolve_job_def("bench_profile")
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        run_id, success = result.run_id, result.success
    else:
        (root / "dagster_home").mkdir(exist_ok=True)
        instance = dg.DagsterInstance.local_temp(
            str(root / "dagster_home"),
            overrides={"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}},
        )
        run_config = {
            "execution": {
                "config": {
                    "max_concurrent": workers,
                    "start_method": {"forkserver": {"preload_modules": ["cdp_platform.preload"]}},
                }
            }
        }
        with dg.execute_job(
            dg.reconstructable(bench_profile_job),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
        ) as result:
            run_id, success = result.run_id, result.success
    total = round(time.perf_counter() - started, 1)
    load_after = os.getloadavg()
    stages: dict[str, float] = {}
    begun: dict[str, float] = {}
    failed = []
    for event in instance.all_logs(run_id):
        dagster_event = event.dagster_event
        if dagster_event is None or event.step_key is None:
            continue
        if dagster_event.event_type == dg.DagsterEventType.STEP_START:
            begun[event.step_key] = event.timestamp
        elif dagster_event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            stages[event.step_key] = round(event.timestamp - begun[event.step_key], 1)
            if dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = dagster_event.step_failure_data.error
                failed.append(f"{event.step_key}: {error.message.strip()[:300] if error else '?'}")
    return {
        "success": success,
        "workers": workers,
        "failed_steps": failed,
        "seconds_total": total,
        "seconds_by_stage": dict(sorted(stages.items())),
        "seconds_copy_into_lake": copy_seconds,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        **_usage(),
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


# Arms: name -> (warehouse kind, workers).
ARMS = {"file": ("file", 1), "ducklake": ("ducklake", 1), "ducklake2": ("ducklake", 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--span-days", type=int, default=3, help="the sandbox's whole history, in days")
    parser.add_argument(
        "--root",
        type=Path,
        required=True,
        help="a folder for the build (kept under it per persons and days, reused by later runs) and the arms",
    )
    parser.add_argument("--postgres", default="127.0.0.1", help="host of the PostgreSQL for the catalog")
    parser.add_argument(
        "--arms",
        default="file,ducklake,ducklake2",
        help=f"comma-separated, of {', '.join(ARMS)} (ducklake2: DuckLake with two step processes)",
    )
    parser.add_argument(
        "--prepare-workers", type=int, default=2, help="processes extracting the raw layer, one source each"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="prepare again even if a build is under --root"
    )
    parser.add_argument("--_arm", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_lake", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--_workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [name for name in args.arms.split(",") if name not in ARMS]
    if unknown:
        parser.error(f"--arms: unknown arm(s) {', '.join(unknown)}; choose from {', '.join(ARMS)}")
    if args.persons < 1 or args.span_days < 1 or args.prepare_workers < 1:
        parser.error("--persons, --span-days and --prepare-workers must be at least 1")

    if args._arm == "prepare":
        print(json.dumps(prepare(args.root, args.persons, args.span_days, args.prepare_workers)))
        return
    if args._arm:
        kind = ARMS[args._arm][0]
        result = arm(kind, args.root, args.persons, args.span_days, json.loads(args._lake), args._workers)
        print(json.dumps(result))
        return

    def child(
        name: str, root: Path, lake: dict | None = None, env: dict | None = None, workers: int = 1
    ) -> dict:
        command = [
            sys.executable,
            __file__,
            "--persons",
            str(args.persons),
            "--span-days",
            str(args.span_days),
            "--prepare-workers",
            str(args.prepare_workers),
        ]
        command += ["--root", str(root), "--_arm", name, "--_lake", json.dumps(lake or {})]
        command += ["--_workers", str(workers)]
        out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
        if out.returncode != 0:
            raise SystemExit(f"the {name} process failed ({out.returncode}):\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    # The raw and cleansed build of this size, shared by the arms and by later runs.
    built = args.root / f"built_{args.persons}p_{args.span_days}d"
    marker = built / "prepared.json"
    if args.rebuild or not marker.exists():
        shutil.rmtree(built, ignore_errors=True)
        built.mkdir(parents=True)
        load_before = os.getloadavg()
        started = time.perf_counter()
        prepared = child("prepare", built)
        prepared["seconds"]["in_all"] = round(time.perf_counter() - started, 1)
        prepared["load_average_before"] = [round(x, 2) for x in load_before]
        prepared["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        marker.write_text(json.dumps(prepared, indent=2))
        prepare_report = prepared
    else:
        prepare_report = {"reused": str(built), **json.loads(marker.read_text())}
    report: dict = {
        "persons": args.persons,
        "span_days": args.span_days,
        "cpus": os.cpu_count(),
        "nice": os.nice(0),
        "prepare": prepare_report,
    }
    for name in args.arms.split(","):
        kind, workers = ARMS[name]
        root = args.root / name
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(built, root)
        if kind == "file":
            report[name] = child(name, root, workers=workers)
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
            report[name] = child(name, root, lake, credentials, workers)
        finally:
            _database(database, args.postgres, create=False)
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    if "file" in report:
        for name in ("ducklake", "ducklake2"):
            if name in report:
                report[f"{name}_over_file"] = round(
                    report[name]["seconds_total"] / report["file"]["seconds_total"], 2
                )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
