"""Stripe's webhook endpoint events, declared (see :mod:`cdp_platform.webhooks` for the mechanisms).

One event object a request, signed in ``Stripe-Signature: t=<unix>,v1=<hex HMAC(secret, "t.body")>``
with a 300 s tolerance; Stripe retries for up to 3 days and sometimes delivers an event twice
(the landing dedupes on ``id``).

The object of an event is then read by id, ``GET /v1/<objects>/{id}`` (a charge with its balance
transaction expanded, as the daily list asks), rather than taken from the event's ``data.object``:
a later change may have arrived first, and the read is the object as it is now. Stripe answers an
unknown id with 404 ``resource_missing``.
"""

from collections.abc import Sequence

from cdp_platform.http import RequestSpec
from cdp_platform.sources.stripe.source import API_VERSION
from cdp_platform.webhooks.events import whole_body
from cdp_platform.webhooks.fetch import ObjectFetch
from cdp_platform.webhooks.signatures import TimestampedSignatureHeader
from cdp_platform.webhooks.spec import WebhookSpec

# What each stream's daily list expands, asked of one object.
_EXPAND = {"charges": ["balance_transaction"]}


def retrieve(stream: str, ids: Sequence[str]) -> RequestSpec:
    (object_id,) = ids
    params = {"expand[]": _EXPAND[stream]} if stream in _EXPAND else None
    return RequestSpec(
        "GET", f"/v1/{stream}/{object_id}", params=params, headers={"Stripe-Version": API_VERSION}
    )


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
    # charge.refund.updated is about a refund, every other charge.* event about its charge.
    refreshes={
        "customer.": "customers",
        "charge.refund.": "refunds",
        "charge.": "charges",
        "refund.": "refunds",
    },
    fetch=ObjectFetch(request=retrieve),
)
