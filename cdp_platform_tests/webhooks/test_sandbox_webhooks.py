"""End to end on real ports: the sandbox posts about 500 signed webhooks under ``--faults storm``
(duplicates, forgeries, retries) to ``cdp webhooks serve``, which is stopped and restarted in the
middle; the landing then holds every valid event exactly once, each naming a record the sandbox's
truth knows with its person, and none of the forged ones.

(The issue's full criterion grades ``client_360`` rows; the fast path from the raw events to the
profile is not built, see README 'Webhooks', so this grades the raw landing.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import polars as pl
import pytest

from cdp_platform.io.lake import LocalLake
from cdp_platform.io.lake_io_manager import read_frame
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.sandbox.webhooks import WEBHOOK_SECRETS
from cdp_platform.webhooks.landing import drain
from cdp_platform.webhooks.queue import EventQueue
from cdp_platform_tests.support.services import free_port

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BIN = Path(sys.executable).parent
PERSONS, SEED, TODAY, DAYS = 2000, 11, date(2026, 11, 26), 160  # 525 changes, ~230 requests


def start_receiver(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "cdp"), "webhooks", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("the receiver did not start")


def stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    return process.communicate(timeout=30)[1]


def test_sandbox_storm_through_a_restarting_receiver_lands_each_valid_event_once(redis_url, tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CDP_")}, **WEBHOOK_SECRETS}
    env["CDP_EVENTS_BROKER_URL"] = redis_url
    receiver = start_receiver(port, env)
    report_file = tmp_path / "sent.json"
    sender = subprocess.Popen(
        [
            str(BIN / "cdp-sandbox"),
            "webhooks",
            "--to",
            f"http://127.0.0.1:{port}",
            "--persons",
            str(PERSONS),
            "--seed",
            str(SEED),
            "--today",
            TODAY.isoformat(),
            "--days",
            str(DAYS),
            "--faults",
            "storm",
            "--rate",
            "12",
            "--concurrency",
            "4",
            "--report",
            str(report_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(5)  # about a quarter of the ~19 s of requests are in
    assert sender.poll() is None, "the sender finished before the restart; lower --rate"
    stderr = stop(receiver)
    time.sleep(1.5)  # the sender meets refused connections meanwhile, and retries
    receiver = start_receiver(port, env)
    out, err = sender.communicate(timeout=300)
    assert sender.returncode == 0, err
    stderr += stop(receiver)

    summary = json.loads(out)
    sent = json.loads(report_file.read_text())
    assert summary["valid_events"] == 525, summary
    assert summary["forged_events"] > 0 and summary["connection_errors"] > 0 and summary["retries"] > 0
    assert "gave_up" not in summary
    # Forged requests were refused with each vendor's status (401 HubSpot/Twitter, 403 Graph).
    assert sum(v for k, v in summary.items() if k.startswith("forged_answered_2")) == 0

    lake = LocalLake(tmp_path / "lake")
    with EventQueue(redis_url) as queue:
        report = drain(queue, lake, first_day=date(2024, 11, 1))
        assert queue.depth() == 0
    landed = pl.concat([read_frame(lake, key) for key in lake.list_keys("raw")], how="diagonal_relaxed")
    keys = [f"{s}:{e}" for s, e in zip(landed["source"], landed["event_id"], strict=True)]
    assert len(keys) == len(set(keys)), "an event landed twice"
    assert set(keys) == set(sent["valid"])
    assert not set(keys) & set(sent["forged"])
    assert report.duplicates + report.landed == report.taken

    # Every landed event names a record of the sandbox's truth, and that record has its person.
    truth_dir = tmp_path / "truth"
    write_truth(SandboxConfig(persons=PERSONS, seed=SEED, today=TODAY), truth_dir)
    truth = pl.read_parquet(truth_dir / "records.parquet")
    record_of = {key: (stream, record) for key, stream, record in sent["records"]}
    named = pl.DataFrame(
        {
            "stream": [record_of[k][0] for k in keys],
            "record_id": [record_of[k][1] for k in keys],
            "source": [k.split(":")[0] for k in keys],
            "object_id": landed["object_id"].to_list(),
        }
    )
    joined = named.join(truth, on=["source", "stream", "record_id"], how="left")
    assert joined["person_id"].null_count() == 0
    # The landed object id is the record's id (what the fast path fetches), for every vendor.
    assert (joined["object_id"] == joined["record_id"]).all()
    assert "sandbox-" not in stderr  # no secret or body in the receiver's logs


def test_sandbox_serve_posts_its_webhooks_beside_the_apis(specs, queue):
    """``cdp-sandbox serve --webhooks-to URL``: the APIs answer and the day's changes are posted."""
    from cdp_platform.webhooks.queue import message_json
    from cdp_platform.webhooks.receiver import Receiver
    from cdp_platform_tests.support.servers import serve_asgi

    receiver = Receiver(specs, WEBHOOK_SECRETS, queue)
    port = free_port()
    with serve_asgi(receiver.app()) as base:
        server = subprocess.Popen(
            [
                str(BIN / "cdp-sandbox"),
                "serve",
                "--port",
                str(port),
                "--persons",
                str(PERSONS),
                "--seed",
                str(SEED),
                "--today",
                TODAY.isoformat(),
                "--webhooks-to",
                base,
                "--webhook-days",
                "3",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            banner = json.loads(server.stdout.readline())
            summary = json.loads(server.stdout.readline())  # printed once every webhook was answered
            assert banner["serving"] == f"http://127.0.0.1:{port}"
            assert httpx.get(f"http://127.0.0.1:{port}/").status_code < 500  # the APIs are up beside
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.communicate(timeout=30)
    assert summary["valid_events"] > 0 and summary["forged_events"] == 0
    events = [message_json(m) for m in queue.take(limit=10_000)]
    assert len({(e["source"], e["event_id"]) for e in events}) == summary["valid_events"] == len(events)
    assert receiver.counters.totals().keys() <= {"hubspot", "facebook", "instagram", "twitter"}
