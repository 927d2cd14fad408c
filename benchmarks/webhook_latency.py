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

Not measured: the event-to-``client_360`` latency, because the fast path (fetch the changed object,
intraday profile refresh) does not exist yet; see README, 'Webhooks'. With the default sensor
interval the event-to-lake latency is bounded by the interval (30 s) plus a landing run.

    .venv/bin/python benchmarks/webhook_latency.py [--seconds 10] [--concurrency 32] [--clients 2]
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


def claim_redis_db() -> int:
    import redis

    token = uuid.uuid4().hex
    for number in range(1, 16):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.eval(CLAIM, 1, "cdp_benchmark:claim", token):
            return number
    raise SystemExit("no empty Redis database among 1..15")


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
    args = parser.parse_args()

    from cdp_platform.io.lake import LocalLake
    from cdp_platform.webhooks.landing import drain
    from cdp_platform.webhooks.queue import EventQueue

    db = claim_redis_db()
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
                "event_to_client_360": "not measured: the fast path is not built (README, 'Webhooks')",
            },
            indent=2,
        )
    )


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
