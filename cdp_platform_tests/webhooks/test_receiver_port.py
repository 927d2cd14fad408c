"""The receiver on a real port: under uvicorn in a thread, and as ``cdp webhooks serve`` in its own
process (the command an operator runs), against the machine's Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cdp_platform.webhooks.queue import EventQueue, message_json
from cdp_platform.webhooks.receiver import Receiver
from cdp_platform_tests.support.servers import serve_asgi
from cdp_platform_tests.support.services import free_port
from cdp_platform_tests.webhooks import signing as sign
from cdp_platform_tests.webhooks.conftest import SECRETS

pytestmark = pytest.mark.redis


def test_uvicorn_port_accepts_signed_and_refuses_forged(specs, queue: EventQueue):
    receiver = Receiver(specs, SECRETS, queue)
    with serve_asgi(receiver.app()) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            body = sign.body_of(sign.hubspot_events(5))
            good = client.post(
                "/webhooks/hubspot",
                content=body,
                headers=sign.hubspot_headers(body, f"{base}/webhooks/hubspot"),
            )
            forged = client.post(
                "/webhooks/hubspot",
                content=body,
                headers=sign.hubspot_headers(body, f"{base}/webhooks/hubspot", secret="nope"),
            )
            big = b"[" + b" " * 1_100_000 + b"]"
            too_big = client.post(
                "/webhooks/hubspot", content=big, headers={"content-type": "application/json"}
            )
    assert (good.status_code, forged.status_code, too_big.status_code) == (200, 401, 413)
    messages = queue.take()
    assert sorted(message_json(m)["event_id"] for m in messages) == ["1", "2", "3", "4", "5"]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cdp webhooks serve exited: {process.stderr.read()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("cdp webhooks serve did not start listening")


def test_cdp_webhooks_serve_command(redis_url: str, tmp_path: Path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CDP_")},
        **SECRETS,
        "CDP_EVENTS_BROKER_URL": redis_url,
    }
    env.pop("CDP_INSTAGRAM_APP_SECRET")
    cdp = str(Path(sys.executable).with_name("cdp"))
    process = subprocess.Popen(
        [cdp, "webhooks", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_listening(port, process)
        banner = json.loads(process.stdout.readline())
        assert banner["broker"] == "redis"
        assert banner["disabled"] == {"instagram": "set CDP_INSTAGRAM_APP_SECRET"}
        assert set(banner["routes"]) == {"hubspot", "facebook", "stripe", "twitter"}
        body = sign.body_of(sign.stripe_event("evt_cli"))
        base = f"http://127.0.0.1:{port}"
        assert (
            httpx.post(f"{base}/webhooks/stripe", content=body, headers=sign.stripe_headers(body)).status_code
            == 200
        )
        forged = httpx.post(
            f"{base}/webhooks/stripe", content=body, headers=sign.stripe_headers(body, secret="x")
        )
        assert forged.status_code == 400
        leads = sign.body_of(sign.graph_leads("lead-x"))
        assert (
            httpx.post(
                f"{base}/webhooks/instagram",
                content=leads,
                headers=sign.graph_headers(leads, vendor="instagram"),
            ).status_code
            == 404
        )
        metrics = httpx.get(f"{base}/metrics").json()
        assert metrics["counters"]["stripe"] == {"received": 1, "refused:bad_signature": 1}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert "evt_cli" not in stderr and SECRETS["CDP_STRIPE_WEBHOOK_SECRET"] not in stderr
    # The events are in the broker named by CDP_EVENTS_BROKER_URL; the stats delta was shipped on stop.
    with EventQueue(redis_url) as queue:
        assert [message_json(m)["event_id"] for m in queue.take()] == ["evt_cli"]
        stats = [message_json(m)["counters"] for m in queue.take("stats")]
    assert stats == [
        {"stripe": {"received": 1, "refused:bad_signature": 1}, "unknown": {"refused:unknown_route": 1}}
    ]


def test_cdp_webhooks_serve_refuses_to_start_without_any_secret(redis_url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDP_")}
    env["CDP_EVENTS_BROKER_URL"] = redis_url
    cdp = str(Path(sys.executable).with_name("cdp"))
    done = subprocess.run(
        [cdp, "webhooks", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "CDP_STRIPE_WEBHOOK_SECRET" in done.stderr and "no vendor's signing secret is set" in done.stderr
