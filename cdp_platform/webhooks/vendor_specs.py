"""Each vendor's webhook declaration (MOVING: once the per-vendor folders of "One home per source"
are on main, each declaration moves to ``cdp_platform/sources/<vendor>/webhook.py`` and this module
only collects them).

Facts from the vendors' documentation (../shared/API_FACTS.md, "Webhooks"):
- HubSpot app webhooks: a JSON array of up to 100 events, signature v3 over method + URI + body +
  timestamp, 5-minute window; retried on non-2xx or a 5 s timeout.
- Facebook and Instagram (Graph): ``hub.challenge`` handshake, ``X-Hub-Signature-256`` (hex HMAC of
  the body with the app secret); ``entry[].changes[]``; a lead is read by ``leadgen_id`` afterwards.
- Stripe: one event object, ``Stripe-Signature: t=,v1=`` with 300 s tolerance; dedupe on ``id``.
- Twitter/X Account Activity: CRC handshake, ``x-twitter-webhooks-signature`` (base64 HMAC of the
  body with the consumer secret); events grouped in ``*_events`` arrays.

Secrets follow the platform's ``CDP_<VENDOR>_<ROLE>`` names; the Graph app secret is the same one
the Facebook and Instagram sources already use for ``appsecret_proof``.
"""

from __future__ import annotations

from cdp_platform.webhooks.events import each_item, entry_changes, kind_arrays, whole_body
from cdp_platform.webhooks.signatures import (
    BodyHmacHeader,
    CrcResponse,
    SignedRequestWithTimestamp,
    SubscribeChallenge,
    TimestampedSignatureHeader,
)
from cdp_platform.webhooks.spec import WebhookSpec

HUBSPOT = WebhookSpec(
    source="hubspot",
    route="hubspot",
    scheme=SignedRequestWithTimestamp(
        header="X-HubSpot-Signature-v3",
        timestamp_header="X-HubSpot-Request-Timestamp",
        window_seconds=300,
        refuse_status=401,
    ),
    secret_var="CDP_HUBSPOT_CLIENT_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=each_item,
    event_id=("eventId",),
    event_type=("subscriptionType",),
    object_id=("objectId",),
    event_time=("occurredAt",),
    time_unit="ms",
)

# Graph refuses with 403 in Meta's own examples; any non-200 makes Graph retry (up to 36 h).
_GRAPH_SIGNATURE = BodyHmacHeader(header="X-Hub-Signature-256", encoding="hex", refuse_status=403)

FACEBOOK = WebhookSpec(
    source="facebook",
    route="facebook",
    scheme=_GRAPH_SIGNATURE,
    secret_var="CDP_FACEBOOK_APP_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=entry_changes,
    event_id=("value.leadgen_id", "value.id"),
    event_type=("field",),
    object_id=("value.leadgen_id", "value.id"),
    event_time=("value.created_time", "time"),
    time_unit="s",
    handshake=SubscribeChallenge(),
    handshake_var="CDP_FACEBOOK_WEBHOOK_VERIFY_TOKEN",
)

INSTAGRAM = WebhookSpec(
    source="instagram",
    route="instagram",
    scheme=_GRAPH_SIGNATURE,
    secret_var="CDP_INSTAGRAM_APP_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=entry_changes,
    event_id=("value.id", "value.comment_id", "value.media_id"),
    event_type=("field",),
    object_id=("value.id", "value.comment_id", "value.media_id"),
    event_time=("time",),
    time_unit="s",
    handshake=SubscribeChallenge(),
    handshake_var="CDP_INSTAGRAM_WEBHOOK_VERIFY_TOKEN",
)

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

TWITTER = WebhookSpec(
    source="twitter",
    route="twitter",
    scheme=BodyHmacHeader(header="x-twitter-webhooks-signature", encoding="base64", refuse_status=401),
    secret_var="CDP_TWITTER_CONSUMER_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=kind_arrays,
    event_id=("event.id_str", "event.id"),
    event_type=("kind",),
    object_id=("event.id_str", "event.id"),
    event_time=("event.timestamp_ms", "event.created_timestamp"),
    time_unit="ms",
    handshake=CrcResponse(),
    handshake_var="CDP_TWITTER_CONSUMER_SECRET",
)

WEBHOOK_SPECS: dict[str, WebhookSpec] = {
    spec.route: spec for spec in (HUBSPOT, FACEBOOK, INSTAGRAM, STRIPE, TWITTER)
}
