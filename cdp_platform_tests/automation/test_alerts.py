"""A failed run reaches a webhook receiver on loopback as Slack-compatible JSON, without secrets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from cdp_platform.automation import automation_definitions
from cdp_platform.automation.alerts import (
    ALERT_RESOURCE_KEY,
    AlertWebhook,
    failure_message,
    run_failure_alert_sensor,
)
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform_tests.support.services import free_port

TOKEN = "tok-abcdef0123456789"


class WebhookReceiver:
    def __init__(self, status: int = 200) -> None:
        self.posts: list[tuple[str, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.posts.append((self.headers.get("Content-Type", ""), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/{TOKEN}"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


daily = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_offset=1)


@dg.asset(partitions_def=daily)
def leaky(context) -> None:
    raise RuntimeError(f"vendor said no to Authorization: Bearer {TOKEN} for {context.partition_key}")


@pytest.fixture(scope="module")
def failed_run():
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([leaky], partition_key="2026-11-25", instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    [failure] = [
        record.event_log_entry.dagster_event
        for record in instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
    ]
    return instance, run, failure


def evaluate(failed_run, resources) -> None:
    instance, run, failure = failed_run
    sensor = run_failure_alert_sensor()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    sensor(context)


def test_a_failed_run_is_posted_to_the_webhook_configured_in_the_environment(
    failed_run, webhook, monkeypatch
):
    monkeypatch.setenv("CDP_ALERT_WEBHOOK_URL", webhook.url)
    settings = load_settings({"CDP_ALERT_WEBHOOK_URL": webhook.url})
    defs = automation_definitions(settings)
    assert "run_failure_alert" in {s.name for s in defs.get_repository_def().sensor_defs}

    evaluate(failed_run, {ALERT_RESOURCE_KEY: defs.resources[ALERT_RESOURCE_KEY]})

    [(content_type, payload)] = webhook.posts
    assert content_type == "application/json"
    _, run, _ = failed_run
    assert payload["text"] == f"Dagster run failed: {run.job_name} (2026-11-25), run {run.run_id}"
    rendered = json.dumps(payload)
    assert "leaky" in rendered and "vendor said no" in rendered and "2026-11-25" in rendered
    assert TOKEN not in rendered and "REDACTED" in rendered
    assert all(block["type"] in {"section", "context"} for block in payload["blocks"])


def test_an_unreachable_or_failing_webhook_never_raises_into_the_daemon(failed_run):
    evaluate(
        failed_run,
        {ALERT_RESOURCE_KEY: AlertWebhook(url=f"http://127.0.0.1:{free_port()}/hook", timeout_seconds=2)},
    )
    failing = WebhookReceiver(status=500)
    thread = threading.Thread(target=failing.server.serve_forever, daemon=True)
    thread.start()
    try:
        evaluate(failed_run, {ALERT_RESOURCE_KEY: AlertWebhook(url=failing.url)})
    finally:
        failing.server.shutdown()
        failing.server.server_close()
    assert len(failing.posts) == 1


def test_long_errors_are_cut_and_many_steps_summarized():
    steps = [(f"step_{i}", "x" * 5000) for i in range(8)]
    payload = failure_message("ingest_hubspot", "r1", None, None, steps)
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 1 + 5
    assert all(len(b["text"]["text"]) < 3000 for b in sections)
    assert payload["blocks"][-1]["elements"][0]["text"] == "and 3 more failed steps"


def test_a_webhook_url_that_is_not_http_is_refused_without_echoing_it():
    with pytest.raises(SettingsError) as error:
        load_settings({"CDP_ALERT_WEBHOOK_URL": "hooks.example/secret-path"})
    assert "secret-path" not in str(error.value)
