"""Run-failure alerts to a Slack-compatible incoming webhook.

When a run of this code location fails, the sensor posts ``{"text": ..., "blocks": [...]}``: the
job, the partition, the run id and each failed step with the first lines of its error. Error
texts pass through the HTTP library's redaction (bearer tokens, secret parameters), and the
webhook's URL, itself a credential, is read at run time through ``EnvVar`` and never logged.

An alert must never take the daemon down or block it: the post has a short timeout, and any
failure to build or deliver the alert is logged as a warning and swallowed.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx
from pydantic import Field

from cdp_platform.http.redaction import redact_text
from cdp_platform.settings import ALERT_WEBHOOK_VAR

ALERT_RESOURCE_KEY = "alert_webhook"
SENSOR_NAME = "run_failure_alert"
MAX_ERROR_CHARS = 600  # per step; a Slack section holds at most 3,000 characters
MAX_STEPS = 5


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: a Slack-compatible incoming webhook URL (``CDP_ALERT_WEBHOOK_URL``)."""

    url: str = Field(description="Incoming webhook URL; a secret, so set through EnvVar.")
    timeout_seconds: float = 10.0

    def post(self, payload: dict[str, Any]) -> int:
        """POST the payload; returns the HTTP status, raises ``httpx.HTTPError`` on no answer."""
        with httpx.Client(timeout=self.timeout_seconds, follow_redirects=False) as client:
            return client.post(self.url, json=payload).status_code


def alert_webhook_resource() -> AlertWebhook:
    return AlertWebhook(url=dg.EnvVar(ALERT_WEBHOOK_VAR))


def _excerpt(text: str | None) -> str:
    text = redact_text((text or "").strip())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def failure_message(
    job_name: str,
    run_id: str,
    partition: str | None,
    run_error: str | None,
    step_errors: list[tuple[str, str]],
) -> dict[str, Any]:
    """The webhook payload for one failed run: a plain ``text`` fallback and Block Kit blocks."""
    where = f"{job_name} ({partition})" if partition else job_name
    text = f"Dagster run failed: {where}, run {run_id}"
    lines = [f"*Run failed:* `{job_name}`", f"*Run:* `{run_id}`"]
    if partition:
        lines.append(f"*Partition:* `{partition}`")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    for step, error in step_errors[:MAX_STEPS]:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Step* `{step}`\n```{_excerpt(error)}```"},
            }
        )
    if len(step_errors) > MAX_STEPS:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"and {len(step_errors) - MAX_STEPS} more failed steps"}
                ],
            }
        )
    if not step_errors and run_error:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{_excerpt(run_error)}```"}})
    return {"text": text, "blocks": blocks}


def _error_text(error: Any) -> str:
    """The messages along an error's cause chain (Dagster wraps the user's exception), no traces."""
    messages = []
    while error is not None and len(messages) < 5:
        messages.append(str(error.message).strip())
        error = error.cause
    return "\n".join(m for m in messages if m)


def _step_errors(context: dg.RunFailureSensorContext) -> list[tuple[str, str]]:
    out = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        text = _error_text(data.error) if data is not None and data.error is not None else event.message
        out.append((event.step_key or "?", text or ""))
    return out


def build_alert(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    run = context.dagster_run
    return failure_message(
        run.job_name,
        run.run_id,
        run.tags.get("dagster/partition"),
        context.failure_event.message,
        _step_errors(context),
    )


def run_failure_alert_sensor(
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name=SENSOR_NAME,
        default_status=default_status,
        minimum_interval_seconds=30,
        description="Posts each failed run to the alert webhook (CDP_ALERT_WEBHOOK_URL).",
    )
    def _alert(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook) -> None:
        run_id = context.dagster_run.run_id
        try:
            status = alert_webhook.post(build_alert(context))
        except httpx.HTTPError as exc:
            # The exception text can carry the URL; only its kind is logged.
            context.log.warning(f"alert for run {run_id} not delivered: {type(exc).__name__}")
            return
        except Exception as exc:
            context.log.warning(f"alert for run {run_id} not built or sent: {type(exc).__name__}")
            return
        if status >= 300:
            context.log.warning(f"alert for run {run_id}: the webhook answered HTTP {status}")

    return _alert
