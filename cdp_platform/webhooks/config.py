"""The webhook receiver's and landing's configuration, read from the environment.

The receiver is its own process (``cdp webhooks serve``), not the Dagster code location, so it
reads its variables here, from a mapping passed in (``os.environ`` by the command line, plain dicts
in tests). Secrets stay values of that mapping only: they are never printed, and the start-up line
lists which *variables* are set. (To join ``cdp_platform/settings.py`` once the per-source
declarations of "One home per source" own each vendor's variables.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdp_platform.webhooks.queue import BROKER_URL_VAR, DEFAULT_BROKER_URL, DEFAULT_VISIBILITY_TIMEOUT
from cdp_platform.webhooks.spec import WebhookSpec

VISIBILITY_TIMEOUT_VAR = "CDP_EVENTS_VISIBILITY_TIMEOUT_SECONDS"
PUBLIC_URL_VAR = "CDP_WEBHOOKS_PUBLIC_URL"
OTLP_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"


class WebhookConfigError(ValueError):
    """A webhook setting is wrong; the message names the variable and the fix."""


@dataclass(frozen=True)
class WebhookConfig:
    broker_url: str
    broker_url_set: bool
    visibility_timeout: float
    public_url: str | None
    secrets: Mapping[str, str]
    # OTLP/HTTP base URL for receipt spans (``OTEL_EXPORTER_OTLP_ENDPOINT``); ``None``: no tracing.
    otlp_endpoint: str | None = None

    def configured(self, specs: Mapping[str, WebhookSpec]) -> list[str]:
        return [route for route, spec in specs.items() if self.secrets.get(spec.secret_var)]

    def missing(self, specs: Mapping[str, WebhookSpec]) -> dict[str, str]:
        """Vendor -> the variable to set to enable its route."""
        return {
            route: spec.secret_var for route, spec in specs.items() if not self.secrets.get(spec.secret_var)
        }


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value.strip() if value and value.strip() else None


def load_webhook_config(environ: Mapping[str, str], specs: Mapping[str, WebhookSpec]) -> WebhookConfig:
    broker_url = _get(environ, BROKER_URL_VAR)
    if broker_url is not None and broker_url.split("://", 1)[0] not in (
        "redis",
        "rediss",
        "amqp",
        "amqps",
        "pyamqp",
        "sqs",
    ):
        # The value is not echoed: a broker URL may carry a password.
        raise WebhookConfigError(
            f"{BROKER_URL_VAR} uses an unsupported scheme: use redis://, amqp:// (RabbitMQ) or sqs://."
        )
    text = _get(environ, VISIBILITY_TIMEOUT_VAR)
    try:
        visibility = float(text) if text else DEFAULT_VISIBILITY_TIMEOUT
    except ValueError:
        raise WebhookConfigError(f"{VISIBILITY_TIMEOUT_VAR}={text!r} is not a number of seconds.") from None
    if visibility < 1:
        raise WebhookConfigError(f"{VISIBILITY_TIMEOUT_VAR}={text!r} must be at least 1 second.")
    public_url = _get(environ, PUBLIC_URL_VAR)
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise WebhookConfigError(
            f"{PUBLIC_URL_VAR}={public_url!r} is not an http(s) URL: set the receiver's public base URL "
            "as the vendors call it (a scheme that signs the full URI checks it)."
        )
    otlp_endpoint = _get(environ, OTLP_ENDPOINT_VAR)
    if otlp_endpoint is not None and not otlp_endpoint.startswith(("http://", "https://")):
        raise WebhookConfigError(
            f"{OTLP_ENDPOINT_VAR}={otlp_endpoint!r} is not an http(s) URL: set the collector's OTLP/HTTP base URL."
        )
    names = {spec.secret_var for spec in specs.values()} | {
        spec.handshake_var for spec in specs.values() if spec.handshake_var
    }
    secrets = {name: value for name in names if (value := _get(environ, name)) is not None}
    return WebhookConfig(
        broker_url=broker_url or DEFAULT_BROKER_URL,
        broker_url_set=broker_url is not None,
        visibility_timeout=visibility,
        public_url=public_url,
        secrets=secrets,
        otlp_endpoint=otlp_endpoint,
    )
