"""Stripe's webhook endpoint events, declared (see :mod:`cdp_platform.webhooks` for the mechanisms).

One event object a request, signed in ``Stripe-Signature: t=<unix>,v1=<hex HMAC(secret, "t.body")>``
with a 300 s tolerance; Stripe retries for up to 3 days and sometimes delivers an event twice
(the landing dedupes on ``id``).
"""

from cdp_platform.webhooks.events import whole_body
from cdp_platform.webhooks.signatures import TimestampedSignatureHeader
from cdp_platform.webhooks.spec import WebhookSpec

WEBHOOK = WebhookSpec(
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
