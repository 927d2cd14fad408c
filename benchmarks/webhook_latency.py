"""Webhook receiver throughput and acknowledgement latency, and landing throughput, on this machine.

One ``cdp webhooks serve`` process on a loopback port with the machine's Redis as the durable
queue (an empty database is claimed and emptied afterwards). Client processes post pre-signed
Stripe events (one event a request, as Stripe sends them; signatures made before the clock starts
so the client's HMAC work is not counted) for ``--seconds``, ``--concurrency`` requests in flight
each. Measured:

- ``receiver.events_per_second``: events answered 2xx per second. A 2xx is sent only after the broker
  holds the event, so this is the durable rate; the queue depth afterwards is checked to equal it.
- ``receiver.events_per_receiver_cpu_second``: the same events over the CPU seconds the receiver
  process used: what one receiver with a core of its own would sustain, independent of how busy the
  shared machine is (``load_average_1m`` is in the output).
- ``receiver.ack_latency_ms``: p50/p95/p99 of the time from sending a request to its 2xx.
- ``landing.events_per_second``: the queued events landed into a temporary local lake by the
  landing (``cdp_platform.webhooks.landing.drain``), exactly once (checked).

- ``event_to_client_360`` (unless ``--latency-minutes 0``): the fast path end to end on a sandbox
  warehouse built the daily way up to yesterday (``--persons``, ``--span-days``). The sandbox posts
  today's CRM contact changes and new leads as signed webhooks, spread over ``--latency-minutes``,
  to the receiver; the two sensors are ticked on their default 30 s interval (the profile sensor
  15 s after the landing sensor, as two independent daemon ticks would fall), and each run they
  request (landing and read by id, then the profile refresh) is executed in this process as soon as
  it is requested. An event's latency is from the receiver's 2xx (the sandbox's vendor event times
  are synthetic, so the 2xx is the earliest moment measured) to the end of the first profile run
  after which its record is in ``client_360`` (its client holds it in ``client_identities``).
  p50/p95/max, the runs' durations, and ``run_process_start_seconds``: what a run launched by the
  daemon adds (a fresh process importing the code location, measured once here) and this in-process
  emulation does not pay; two runs stand between an event and ``client_360``.

    .venv/bin/python benchmarks/webhook_latency.py [--seconds 10] [--concurrency 32] [--clients 2]
        [--latency-minutes 3] [--persons 1000] [--span-days 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx

from cdp_platform.sandbox.webhooks import WEBHOOK_SECRETS, sign

CLAIM = (
    "if redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', 3600) return 1 end return 0"
)


def claim_redis_db(only: int | None = None) -> int:
    """An empty database of the machine's Redis (``only``: that one, on a machine whose users agreed
    on numbers), claimed for the run."""
    import redis

    token = uuid.uuid4().hex
    for number in [only] if only is not None else range(1, 16):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.eval(CLAIM, 1, "cdp_benchmark:claim", token):
            return number
    raise SystemExit(f"no empty Redis database among {only if only is not None else '1..15'}")


def _bodies(prefix: str, count: int, url: str) -> list[tuple[bytes, dict[str, str]]]:
    now = time.time()
    out = []
    for i in range(count):
        event = {
            "id": f"evt_{prefix}_{i}",
            "object": "event",
            "type": "charge.succeeded",
            "created": int(now),
            "data": {
                "object": {"id": f"ch_{prefix}_{i}", "object": "charge", "amount": 1999, "customer": "cus_1"}
            },
        }
        body = json.dumps(event).encode()
        out.append((body, sign("stripe", body, url, WEBHOOK_SECRETS, now)))
    return out


def client_process(url: str, seconds: float, concurrency: int, prefix: str, out: mp.Queue) -> None:
    bodies = _bodies(prefix, int(seconds * 3000), url)  # more than one client can send
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            next_index = 0
            start = time.perf_counter()
            deadline = start + seconds

            async def worker() -> None:
                nonlocal next_index
                while time.perf_counter() < deadline and next_index < len(bodies):
                    body, headers = bodies[next_index]
                    next_index += 1
                    sent = time.perf_counter()
                    response = await client.post(url, content=body, headers=headers)
                    latencies.append(time.perf_counter() - sent)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return time.perf_counter() - start

    elapsed = asyncio.run(run())
    out.put({"elapsed": elapsed, "latencies": latencies, "statuses": statuses})


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight per client process")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--latency-minutes", type=float, default=3.0, help="0: no event-to-client_360 run")
    parser.add_argument("--persons", type=int, default=1000, help="sandbox population (latency run)")
    parser.add_argument("--span-days", type=int, default=3, help="days of daily build before today")
    parser.add_argument("--redis-db", type=int, default=None, help="use this (empty) Redis database only")
    args = parser.parse_args()

    from cdp_platform.io.lake import LocalLake
    from cdp_platform.webhooks.landing import drain
    from cdp_platform.webhooks.queue import EventQueue

    db = claim_redis_db(args.redis_db)
    broker = f"redis://127.0.0.1:6379/{db}"
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CDP_")}, **WEBHOOK_SECRETS}
    env["CDP_EVENTS_BROKER_URL"] = broker
    cdp = str(Path(sys.executable).with_name("cdp"))
    receiver = subprocess.Popen(
        [cdp, "webhooks", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait(port)
        import psutil

        # CPU seconds the receiver process spends (all its threads): on a shared machine its share
        # of the cores varies with the load, its CPU cost per event does not.
        process_info = psutil.Process(receiver.pid)
        cpu_before = sum(process_info.cpu_times()[:2])
        url = f"http://127.0.0.1:{port}/webhooks/stripe"
        results: mp.Queue = mp.Queue()
        clients = [
            mp.Process(target=client_process, args=(url, args.seconds, args.concurrency, f"c{i}", results))
            for i in range(args.clients)
        ]
        for process in clients:
            process.start()
        outcomes = [results.get(timeout=args.seconds + 300) for _ in clients]
        for process in clients:
            process.join()
        receiver_cpu = sum(process_info.cpu_times()[:2]) - cpu_before
    finally:
        os.killpg(receiver.pid, signal.SIGTERM)
        receiver.wait(timeout=30)

    latencies = [x for o in outcomes for x in o["latencies"]]
    statuses: dict[str, int] = {}
    for o in outcomes:
        for status, count in o["statuses"].items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    accepted = statuses.get("200", 0)
    elapsed = max(o["elapsed"] for o in outcomes)

    with EventQueue(broker) as queue, tempfile.TemporaryDirectory() as root:
        depth = queue.depth()
        started = time.perf_counter()
        report = drain(
            queue, LocalLake(Path(root)), first_day=date(2024, 1, 1), batch_size=1000, max_batches=10_000
        )
        landing_seconds = time.perf_counter() - started
        queue.purge()
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()

    print(
        json.dumps(
            {
                "benchmark": "webhook_latency",
                "cpu_count": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "config": vars(args),
                "receiver": {
                    "processes": 1,
                    "requests": len(latencies),
                    "statuses": statuses,
                    "events_acknowledged": accepted,
                    "seconds": round(elapsed, 2),
                    "events_per_second": round(accepted / elapsed, 1),
                    "ack_latency_ms": {
                        f"p{q}": round(percentile(latencies, q) * 1000, 2) for q in (50, 95, 99)
                    },
                    "receiver_cpu_seconds": round(receiver_cpu, 2),
                    "events_per_receiver_cpu_second": round(accepted / receiver_cpu, 1)
                    if receiver_cpu
                    else None,
                    "queue_depth_after": depth,
                    "durable_equals_acknowledged": depth == accepted,
                },
                "landing": {
                    "events_landed": report.landed,
                    "duplicates": report.duplicates,
                    "seconds": round(landing_seconds, 2),
                    "events_per_second": round(report.landed / landing_seconds, 1)
                    if landing_seconds
                    else None,
                    "exactly_once": report.landed == accepted and report.duplicates == 0,
                },
                "event_to_client_360": event_to_client_360(args) if args.latency_minutes > 0 else None,
            },
            indent=2,
        )
    )


def _run_process_start() -> float:
    """Seconds a fresh process takes to load the code location (what each launched run pays)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cdp_platform.definitions"], check=True, capture_output=True)
    return time.perf_counter() - started


def event_to_client_360(args: argparse.Namespace) -> dict:
    """See the module docstring (``event_to_client_360``)."""
    import datetime

    import dagster as dg
    import duckdb

    from cdp_platform.automation.conditions import PROFILE, REFERENCE_GROUP
    from cdp_platform.definitions import build_definitions
    from cdp_platform.io.resources import LakeResource
    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.records import SandboxData
    from cdp_platform.sandbox.webhooks import changes, day_window, deliveries, send
    from cdp_platform.settings import load_settings
    from cdp_platform.webhooks.config import load_webhook_config
    from cdp_platform.webhooks.definitions import JOB_NAME, WebhookQueueResource
    from cdp_platform.webhooks.intraday import INTRADAY_JOB_NAME, SENSOR_NAME, profile_selection
    from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

    today = datetime.datetime.now(datetime.UTC).date()
    first = today - datetime.timedelta(days=args.span_days)
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    db = claim_redis_db(args.redis_db)
    broker = f"redis://127.0.0.1:6379/{db}"
    root = Path(tempfile.mkdtemp(prefix="webhook_latency_"))
    environ = {
        "CDP_LAKE_ROOT": str(root / "lake"),
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_SANDBOX_TODAY": today.isoformat(),
        "CDP_SANDBOX_PERSONS": str(args.persons),
        "CDP_SANDBOX_SPAN_DAYS": str(args.span_days + 1),
        "CDP_PARTITIONS_START": first.isoformat(),
        "CDP_EVENTS_BROKER_URL": broker,
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    os.environ.update(environ)  # dbt reads the warehouse path from the environment
    (root / "dagster_home").mkdir()
    defs = build_definitions(load_settings(environ), load_webhook_config(environ, WEBHOOK_SPECS))
    graph = defs.resolve_asset_graph()

    def keys(layer: str) -> list[dg.AssetKey]:
        return [
            k
            for k in graph.get_all_asset_keys()
            if graph.get(k).is_materializable and k.path[0] == layer and k.path[-1] != "webhook_events"
        ]

    defs = dg.Definitions.merge(
        defs,
        dg.Definitions(
            jobs=[
                dg.define_asset_job("bench_raw", selection=keys("raw")),
                dg.define_asset_job("bench_cleansed", selection=keys("cleansed")),
                # What the daily automation builds of the profile: the models the marts read.
                dg.define_asset_job(
                    "bench_profile",
                    selection=profile_selection(PROFILE) | dg.AssetSelection.groups(REFERENCE_GROUP),
                ),
            ]
        ),
    )
    instance = dg.DagsterInstance.ephemeral()
    span = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": yesterday,
    }
    build_started = time.perf_counter()
    for job, tags in (("bench_raw", span), ("bench_cleansed", span), ("bench_profile", span)):
        assert defs.resolve_job_def(job).execute_in_process(instance=instance, tags=tags).success, job
    daily_build_seconds = time.perf_counter() - build_started

    # Today's changes of the vendors whose objects are read by id, as their webhooks.
    fetched_vendors = {name for name, spec in WEBHOOK_SPECS.items() if spec.fetch is not None}
    data = SandboxData(SandboxConfig(persons=args.persons, seed=7, today=today, span_days=args.span_days + 1))
    found = [c for c in changes(data, *day_window(today)) if c.vendor in fetched_vendors]
    record_of = {f"{c.vendor}:{c.event_id}": c.record_id for c in found}
    planned = deliveries(found)

    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CDP_")}, **WEBHOOK_SECRETS}
    env["CDP_EVENTS_BROKER_URL"] = broker
    receiver = subprocess.Popen(
        [str(Path(sys.executable).with_name("cdp")), "webhooks", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    landing = defs.get_sensor_def("webhook_events_sensor")
    profile = defs.get_sensor_def(SENSOR_NAME)
    repository = defs.get_repository_def()
    resources = {
        "webhook_queue": WebhookQueueResource(broker_url=broker),
        "lake": LakeResource(lake_root=environ["CDP_LAKE_ROOT"]),
    }
    warehouse = environ["CDP_WAREHOUSE_PATH"]
    seen_at: dict[str, float] = {}  # event key -> end of the first profile run showing its record
    runs: dict[str, list[float]] = {JOB_NAME: [], INTRADAY_JOB_NAME: []}
    profile_cursor: str | None = None
    report_box: dict = {}
    try:
        _wait(port)
        rate = max(len(planned) / (args.latency_minutes * 60), 0.1)

        def sender() -> None:
            report_box["report"] = asyncio.run(
                send(planned, f"http://127.0.0.1:{port}", concurrency=2, rate=rate)
            )

        import threading

        thread = threading.Thread(target=sender, daemon=True)
        started = time.monotonic()
        thread.start()
        next_landing, next_profile = started, started + 15
        deadline = started + args.latency_minutes * 60 + 600
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_landing:
                next_landing = now + 30
                tick = landing.evaluate_tick(
                    dg.build_sensor_context(instance=instance, resources=resources, repository_def=repository)
                )
                for request in tick.run_requests:
                    t = time.perf_counter()
                    assert (
                        defs.resolve_job_def(JOB_NAME)
                        .execute_in_process(instance=instance, tags=request.tags)
                        .success
                    )
                    runs[JOB_NAME].append(time.perf_counter() - t)
            if now >= next_profile:
                next_profile = now + 30
                tick = profile.evaluate_tick(
                    dg.build_sensor_context(
                        instance=instance, cursor=profile_cursor, repository_def=repository
                    )
                )
                profile_cursor = tick.cursor
                for request in tick.run_requests:
                    t = time.perf_counter()
                    assert (
                        defs.resolve_job_def(INTRADAY_JOB_NAME)
                        .execute_in_process(
                            instance=instance, tags=request.tags, asset_selection=request.asset_selection
                        )
                        .success
                    )
                    done = time.time()
                    runs[INTRADAY_JOB_NAME].append(time.perf_counter() - t)
                    with duckdb.connect(warehouse, read_only=True) as connection:
                        present = set(
                            connection.execute(
                                "select i.record_id from client_identities i join client_360 c using (client_id)"
                            )
                            .pl()["record_id"]
                            .to_list()
                        )
                    for key, record_id in record_of.items():
                        if key not in seen_at and record_id in present:
                            seen_at[key] = done
            if not thread.is_alive() and len(seen_at) == len(record_of):
                break
            time.sleep(0.2)
        thread.join(timeout=60)
    finally:
        os.killpg(receiver.pid, signal.SIGTERM)
        receiver.wait(timeout=30)
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    accepted = report_box["report"].accepted_at if "report" in report_box else {}
    values = sorted(seen_at[key] - accepted[key] for key in seen_at if key in accepted)
    return {
        "persons": args.persons,
        "days_built_daily": args.span_days,
        "daily_build_seconds": round(daily_build_seconds, 1),
        "events_sent": len(record_of),
        "events_acknowledged": len(accepted),
        "events_in_client_360": len(values),
        "sending_minutes": args.latency_minutes,
        "sensor_interval_seconds": 30,
        "latency_seconds": {
            "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1),
            "max": round(values[-1], 1),
        }
        if values
        else None,
        "run_seconds": {
            name: {"runs": len(times), "p50": round(percentile(times, 50), 1), "max": round(max(times), 1)}
            for name, times in runs.items()
            if times
        },
        "run_process_start_seconds": round(_run_process_start(), 1),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the receiver did not start")


if __name__ == "__main__":
    main()
