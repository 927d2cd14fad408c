"""Twitter/X Account Activity webhooks, declared (see :mod:`cdp_platform.webhooks`).

A CRC ``GET ?crc_token=X`` answered with the base64 HMAC of X under the consumer secret; events
POSTed grouped by kind under ``*_events`` keys, signed in ``x-twitter-webhooks-signature`` (base64
HMAC of the body, same secret).
"""

from cdp_platform.webhooks.events import kind_arrays
from cdp_platform.webhooks.signatures import BodyHmacHeader, CrcResponse
from cdp_platform.webhooks.spec import WebhookSpec

WEBHOOK = WebhookSpec(
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
    refreshes={"tweet_create_events": "mentions"},
)
