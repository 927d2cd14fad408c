"""``cdp webhooks serve``: the receiver under uvicorn, configured from the environment."""

from __future__ import annotations

import json
import logging
import os
import sys

EXIT_UNAVAILABLE = 3


def serve(host: str, port: int, *, log_level: str = "info") -> int:
    import uvicorn

    from cdp_platform.webhooks.config import WebhookConfigError, load_webhook_config
    from cdp_platform.webhooks.queue import EventQueue, QueueUnavailable
    from cdp_platform.webhooks.receiver import Receiver
    from cdp_platform.webhooks.tracing import webhook_tracer
    from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

    try:
        config = load_webhook_config(os.environ, WEBHOOK_SPECS)
    except WebhookConfigError as exc:
        print(f"cdp webhooks serve: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if not config.configured(WEBHOOK_SPECS):
        missing = ", ".join(f"{route}: {var}" for route, var in config.missing(WEBHOOK_SPECS).items())
        print(
            f"cdp webhooks serve: no vendor's signing secret is set, so there is nothing to receive; "
            f"set at least one of ({missing}) (see README, 'Webhooks').",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    try:
        queue = EventQueue(config.broker_url, visibility_timeout=config.visibility_timeout)
    except QueueUnavailable as exc:
        print(
            f"cdp webhooks serve: {exc}; start it, or set CDP_EVENTS_BROKER_URL to a reachable broker.",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    receiver = Receiver(
        WEBHOOK_SPECS,
        config.secrets,
        queue,
        public_url=config.public_url,
        tracer=webhook_tracer(config.otlp_endpoint),
    )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    print(
        json.dumps(
            {
                "serving": f"http://{host}:{port}",
                "routes": {route: f"/webhooks/{route}" for route in receiver.specs},
                "disabled": {route: f"set {var}" for route, var in config.missing(WEBHOOK_SPECS).items()},
                "broker": queue.kind,
            }
        ),
        flush=True,
    )
    try:
        # access_log off: the query string of a handshake carries the verify token.
        uvicorn.run(receiver.app(), host=host, port=port, log_level=log_level, access_log=False)
    finally:
        queue.close()
    return 0
