""" "Materialize all" over every partition, through the machinery the UI uses, timed.

    python benchmarks/materialize_all.py --root /tmp/cdp_quick_look --span-days 10      # the quick look
    python benchmarks/materialize_all.py --root /tmp/cdp_full_default                   # the local default

What a newcomer does in the UI, done without a browser: ``bash scripts/dev.sh`` starts ``dagster dev``
(webserver, daemon, code server) on an empty Dagster home under ``--root``; the benchmark then sends
the webserver the very GraphQL mutation the UI sends when "Materialize all" is clicked on the asset
graph, all partitions are chosen and "Launch backfill" is pressed (``launchPartitionBackfill`` with
every materializable asset and every partition key, as ``LaunchAssetChoosePartitionsDialog`` builds
it), and waits for the daemon to bring the backfill to an end. The browser test
(``cdp_platform_tests/ui/test_materialize_all.py``) clicks the same thing in chromium.

Only the lake, the warehouse and Dagster's storage go under ``--root``, so nothing of ``.cdp/`` is
touched; any ``CDP_*`` variable set in the environment applies as it would to ``scripts/dev.sh``.

Prints one JSON object: seconds from the launch to ``client_360`` built and to the backfill's end,
the backfill's final status, its runs (count, by status, the slowest), the materialized partitions
of every asset (and the assets left with fewer than all), every asset check evaluation that did not
pass (with its description), the load average before and after (the machine may be shared), when each
run was created, started and ended (the gaps between runs are the daemon's ticks and the run queue),
and the CPU seconds that ``dagster dev`` and every process it started used after the launch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

LAUNCH = """mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}"""
ASSETS = """{ assetNodes { assetKey { path } isMaterializable isPartitioned } }"""
PARTITION_KEYS = """query Keys($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode { partitionKeys } }
}"""
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
TERMINAL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "FAILING"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def wait_loaded(port: int, process: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"dagster dev exited ({process.returncode}); see {log}")
        try:
            entries = graphql(port, LOCATIONS, timeout=10)["workspaceOrError"]["locationEntries"]
            if entries and entries[0]["loadStatus"] == "LOADED":
                error = entries[0]["locationOrLoadError"]
                if error["__typename"] == "PythonError":
                    raise SystemExit(f"the code location did not load: {error['message']}")
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"the code location did not load within {timeout:.0f} s; see {log}")


class SessionCpu:
    """CPU seconds used by the processes of one session (``dagster dev`` and everything it starts:
    webserver, daemon, code server, run workers, dbt), from ``/proc`` (Linux), sampled: the last
    reading of each process counts, so a process living less than a sampling interval is missed.
    Unlike the wall-clock seconds, this hardly depends on how busy a shared machine is."""

    def __init__(self, session: int) -> None:
        self.session = session
        self.seen: dict[int, float] = {}
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the command: state, ppid, pgrp, session (3rd..6th fields), utime, stime (14th, 15th)
            if int(fields[3]) == self.session:
                self.seen[int(entry.name)] = (int(fields[11]) + int(fields[12])) / self.tick

    def total(self) -> float:
        return round(sum(self.seen.values()), 1)


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def report(instance, backfill_id: str, launched: float, built: float | None, ended: float | None) -> dict:
    """What the instance recorded of the backfill: status, runs, partitions per asset, checks."""
    import dagster as dg
    from dagster._core.storage.dagster_run import RunsFilter
    from dagster._core.storage.tags import BACKFILL_ID_TAG

    backfill = instance.get_backfill(backfill_id)
    records = instance.get_run_records(filters=RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    runs = [record.dagster_run for record in records]
    by_status: dict[str, int] = {}
    durations = []
    timeline = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        by_status[run.status.value] = by_status.get(run.status.value, 0) + 1
        if record.start_time and record.end_time:
            durations.append((round(record.end_time - record.start_time, 1), run.run_id[:8], _run_label(run)))
        timeline.append(
            {
                "run": run.run_id[:8],
                "created": round(record.create_timestamp.timestamp() - launched, 1),
                "started": round(record.start_time - launched, 1) if record.start_time else None,
                "ended": round(record.end_time - launched, 1) if record.end_time else None,
                "what": _run_label(run),
            }
        )
    durations.sort(reverse=True)
    target = backfill.asset_backfill_data.target_subset if backfill.asset_backfill_data else None
    partitions: dict[str, str] = {}
    short = []
    for key in sorted(target.asset_keys if target else [], key=lambda k: k.to_user_string()):
        wanted = target.get_asset_subset(key).size if target.get_asset_subset(key).is_partitioned else 1
        if target.get_asset_subset(key).is_partitioned:
            done = len(instance.get_materialized_partitions(key))
        else:
            done = 1 if instance.get_latest_materialization_event(key) is not None else 0
        partitions[key.to_user_string()] = f"{done}/{wanted}"
        if done < wanted:
            short.append(key.to_user_string())
    not_passed = []
    run_ids = {run.run_id for run in runs}
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = record.dagster_event.event_specific_data
            if not evaluation.passed:
                not_passed.append(
                    {
                        "asset": evaluation.asset_key.to_user_string(),
                        "check": evaluation.check_name,
                        "severity": evaluation.severity.value,
                        "partition": evaluation.partition,
                        "description": (evaluation.description or "")[:200],
                    }
                )
    return {
        "backfill_id": backfill_id,
        "backfill_status": backfill.status.value,
        "seconds_to_client_360": round(built - launched, 1) if built else None,
        "seconds_to_end": round(ended - launched, 1) if ended else None,
        "runs": len(runs),
        "runs_by_status": by_status,
        "slowest_runs": [{"seconds": s, "run": r, "what": w} for s, r, w in durations[:5]],
        "run_seconds_total": round(sum(s for s, _, _ in durations), 1),
        # Seconds after the launch at which each run was created (by the backfill daemon), started
        # (its process had loaded the code location) and ended: the gaps are daemon ticks and queues.
        "runs_timeline": timeline,
        "partitions_materialized": partitions,
        "assets_not_complete": short,
        "checks_not_passed": sorted(not_passed, key=lambda e: (e["asset"], e["check"], str(e["partition"]))),
    }


def _run_label(run) -> str:
    keys = sorted(k.to_user_string() for k in run.asset_selection or [])
    start = run.tags.get("dagster/asset_partition_range_start")
    end = run.tags.get("dagster/asset_partition_range_end")
    part = run.tags.get("dagster/partition") or (f"{start}..{end}" if start else "")
    head = ", ".join(keys[:3]) + (f" +{len(keys) - 3}" if len(keys) > 3 else "")
    return f"{head} [{part}]" if part else head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, required=True, help="a folder for the lake, warehouse and runs (emptied)"
    )
    parser.add_argument(
        "--span-days", type=int, default=None, help="CDP_SANDBOX_SPAN_DAYS (10: the quick look)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="give up waiting after this many seconds")
    parser.add_argument(
        "--keep", action="store_true", help="leave dagster dev running at the end (Ctrl-C stops it)"
    )
    args = parser.parse_args()

    # SIGTERM (a job runner, `kill`) ends the benchmark through its cleanup, which stops dagster dev.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.root.exists():
        shutil.rmtree(args.root)
    home = args.root / "dagster_home"
    home.mkdir(parents=True)
    environ = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CDP_LAKE_ROOT": str(args.root / "lake"),
        "CDP_WAREHOUSE_PATH": str(args.root / "warehouse.duckdb"),
        "CDP_PSEUDONYMIZED_WAREHOUSE_PATH": str(args.root / "pseudonymized.duckdb"),
    }
    if args.span_days is not None:
        environ["CDP_SANDBOX_SPAN_DAYS"] = str(args.span_days)
    port = free_port()
    log = args.root / "dagster-dev.log"
    loads = {"before": load_average()}
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", str(PROJECT / "scripts" / "dev.sh"), "-p", str(port)],
            cwd=PROJECT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Ctrl-C and SIGTERM as in a terminal, even when this benchmark was started in the background.
            preexec_fn=lambda: (
                signal.signal(signal.SIGINT, signal.SIG_DFL),
                signal.signal(signal.SIGTERM, signal.SIG_DFL),
            ),
        )
    try:
        wait_loaded(port, process, log)
        load_seconds = round(time.monotonic() - started, 1)
        nodes = graphql(port, ASSETS)["assetNodes"]
        selection = [{"path": n["assetKey"]["path"]} for n in nodes if n["isMaterializable"]]
        anchor = next(n["assetKey"]["path"] for n in nodes if n["isPartitioned"])
        keys = graphql(port, PARTITION_KEYS, {"path": anchor})["assetNodeOrError"]["partitionKeys"]
        params = {
            "assetSelection": selection,
            "partitionNames": keys,
            "fromFailure": False,
            "tags": [{"key": "dagster/from_ui", "value": "true"}],
        }
        launched = time.time()
        answer = graphql(port, LAUNCH, {"backfillParams": params})["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise SystemExit(f"the backfill was not launched: {answer}")
        backfill_id = answer["backfillId"]
        print(f"backfill {backfill_id}: {len(selection)} assets x {len(keys)} partitions", file=sys.stderr)

        os.environ["DAGSTER_HOME"] = str(home)
        cpu = SessionCpu(process.pid)
        cpu.sample()
        cpu_at_launch = cpu.total()
        import dagster as dg

        instance = dg.DagsterInstance.get()
        built = ended = None
        deadline = time.monotonic() + args.timeout
        last = ""
        while time.monotonic() < deadline:
            cpu.sample()
            if built is None:
                event = instance.get_latest_materialization_event(dg.AssetKey("client_360"))
                if event is not None:
                    built = event.timestamp
            status = instance.get_backfill(backfill_id).status.value
            if status != last:
                print(f"{time.time() - launched:7.1f} s  backfill {status}", file=sys.stderr)
                last = status
            if status in TERMINAL and status != "FAILING":
                ended = time.time()
                break
            time.sleep(2)
        result = {
            "span_days": int(environ.get("CDP_SANDBOX_SPAN_DAYS", "730")),
            "partitions": len(keys),
            "first_partition": keys[0],
            "last_partition": keys[-1],
            "assets": len(selection),
            "seconds_to_load_code_location": load_seconds,
            **report(instance, backfill_id, launched, built, ended),
            "timed_out": ended is None,
            "load_average": {**loads, "after": load_average()},
            "cpu_count": os.cpu_count(),
            # CPU seconds of dagster dev and all it started (SessionCpu), from the launch to the end.
            "cpu_seconds_after_launch": round(cpu.total() - cpu_at_launch, 1),
            "log": str(log),
        }
        if args.keep:
            print(json.dumps(result, indent=1, default=str))
            print(f"dagster dev still serves http://127.0.0.1:{port}; Ctrl-C stops it", file=sys.stderr)
            process.wait()
            return
    finally:
        stop(process)
    print(json.dumps(result, indent=1, default=str))


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


if __name__ == "__main__":
    main()
