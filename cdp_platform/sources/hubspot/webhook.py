"""HubSpot's app webhooks, declared (see :mod:`cdp_platform.webhooks` for the mechanisms).

A JSON array of up to 100 events per request, signature v3 over method + full URI + body +
timestamp with a 5-minute window; HubSpot retries up to 10 times over 24 h on a non-2xx or a 5 s
timeout. The signing secret is the app's client secret.

The changed objects are then read by id with the batch read, ``POST /crm/v3/objects/<type>/batch/read``
(``{"properties": [...], "inputs": [{"id": ...}]}``, at most 100 inputs), asking the properties the
daily search asks; an id HubSpot no longer knows is left out of ``results`` (HTTP 207 with
``errors``). Contacts and deals then get their associations as the daily search pages do.
"""

from collections.abc import Sequence

from cdp_platform.http import RequestSpec
from cdp_platform.sources.hubspot import ASSOCIATED, properties, with_associations
from cdp_platform.webhooks.events import each_item
from cdp_platform.webhooks.fetch import ObjectFetch
from cdp_platform.webhooks.signatures import SignedRequestWithTimestamp
from cdp_platform.webhooks.spec import WebhookSpec

BATCH_READ_LIMIT = 100  # inputs per batch read of objects (HubSpot's documented limit)


def batch_read(object_type: str, ids: Sequence[str]) -> RequestSpec:
    return RequestSpec(
        "POST",
        f"/crm/v3/objects/{object_type}/batch/read",
        json={"properties": list(properties(object_type)), "inputs": [{"id": i} for i in ids]},
    )


def _associated(object_type: str):
    def wrap(on_page, client, stream):
        return with_associations(on_page, client, object_type, stream=f"hubspot/{stream}")

    return wrap


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
    fetch=ObjectFetch(
        request=batch_read,
        batch_size=BATCH_READ_LIMIT,
        record_path="results",
        pages={name: _associated(name) for name, targets in ASSOCIATED.items() if targets},
    ),
)
