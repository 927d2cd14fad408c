"""HubSpot's app webhooks, declared (see :mod:`cdp_platform.webhooks` for the mechanisms).

A JSON array of up to 100 events per request, signature v3 over method + full URI + body +
timestamp with a 5-minute window; HubSpot retries up to 10 times over 24 h on a non-2xx or a 5 s
timeout. The signing secret is the app's client secret.
"""

from cdp_platform.webhooks.events import each_item
from cdp_platform.webhooks.signatures import SignedRequestWithTimestamp
from cdp_platform.webhooks.spec import WebhookSpec

WEBHOOK = WebhookSpec(
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
    refreshes={"contact.": "contacts", "company.": "companies", "deal.": "deals"},
)
