"""Every vendor's webhook declaration, collected from the sources' folders.

A source that receives webhooks has ``cdp_platform/sources/<source>/webhook.py`` defining
``WEBHOOK = WebhookSpec(source=<folder name>, ...)``; nothing else needs an edit. Its route is
``/webhooks/<source>``.

Stripe's declaration waits here (MOVING) until ``cdp_platform/sources/stripe/`` is on main; once
that folder has its own ``webhook.py``, the one below is no longer used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from cdp_platform.sources.registry import source_names
from cdp_platform.webhooks.events import whole_body
from cdp_platform.webhooks.signatures import TimestampedSignatureHeader
from cdp_platform.webhooks.spec import WebhookSpec

_SOURCES = Path(__file__).resolve().parents[1] / "sources"

# Stripe: one event object a request; ``Stripe-Signature: t=<unix>,v1=<hex HMAC(secret, "t.body")>``
# with 300 s tolerance; retried for up to 3 days and sometimes delivered twice (dedupe on ``id``).
STRIPE = WebhookSpec(
    source="stripe",
    route="stripe",
    scheme=TimestampedSignatureHeader(header="Stripe-Signature", tolerance_seconds=300, refuse_status=400),
    secret_var="CDP_STRIPE_WEBHOOK_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=whole_body,
    event_id=("id",),
    event_type=("type",),
    object_id=("data.object.id",),
    event_time=("created",),
    time_unit="s",
)


def _declared() -> dict[str, WebhookSpec]:
    specs: dict[str, WebhookSpec] = {}
    for name in source_names():
        if not (_SOURCES / name / "webhook.py").is_file():
            continue
        spec = getattr(importlib.import_module(f"cdp_platform.sources.{name}.webhook"), "WEBHOOK", None)
        if not isinstance(spec, WebhookSpec):
            raise TypeError(f"cdp_platform/sources/{name}/webhook.py: define WEBHOOK = WebhookSpec(...)")
        if spec.source != name or spec.route != name:
            raise ValueError(
                f"cdp_platform/sources/{name}/webhook.py declares source {spec.source!r}, route "
                f"{spec.route!r}: name both after the folder ({name!r})"
            )
        specs[name] = spec
    specs.setdefault(STRIPE.route, STRIPE)
    return specs


WEBHOOK_SPECS: dict[str, WebhookSpec] = _declared()
