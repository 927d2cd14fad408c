"""Facebook's Graph webhooks (Page ``leadgen``), declared (see :mod:`cdp_platform.webhooks`).

``hub.challenge`` handshake with a verify token of our choosing; ``X-Hub-Signature-256`` is the hex
HMAC of the body with the app secret (the one the source already uses for ``appsecret_proof``);
changes arrive as ``entry[].changes[]`` and a lead is then read by its ``leadgen_id``. Graph retries
with backoff for up to 36 h on a non-200.

A lead is read by id, ``GET /v21.0/{lead-id}?fields=...`` with the fields the daily listing asks;
Graph answers an id that does not exist (a lead deleted since) with HTTP 400, code 100
("Object with ID ... does not exist"; the wording is Graph's, unverified for leads).
"""

from collections.abc import Sequence

from cdp_platform.http import RequestSpec
from cdp_platform.http.errors import VendorError
from cdp_platform.sources.facebook import GRAPH_VERSION, LEAD_FIELDS
from cdp_platform.webhooks.events import entry_changes
from cdp_platform.webhooks.fetch import ObjectFetch
from cdp_platform.webhooks.signatures import BodyHmacHeader, SubscribeChallenge
from cdp_platform.webhooks.spec import WebhookSpec

# Graph refuses with 403 in Meta's own examples; any non-200 makes Graph retry (up to 36 h).
GRAPH_SIGNATURE = BodyHmacHeader(header="X-Hub-Signature-256", encoding="hex", refuse_status=403)


def read_lead(stream: str, ids: Sequence[str]) -> RequestSpec:
    (lead_id,) = ids
    return RequestSpec("GET", f"/{GRAPH_VERSION}/{lead_id}", params={"fields": LEAD_FIELDS})


def no_such_object(error: VendorError) -> bool:
    return error.status == 400 and error.code == "100" and "does not exist" in error.message


WEBHOOK = WebhookSpec(
    source="facebook",
    route="facebook",
    scheme=GRAPH_SIGNATURE,
    secret_var="CDP_FACEBOOK_APP_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=entry_changes,
    event_id=("value.leadgen_id", "value.id"),
    event_type=("field",),
    object_id=("value.leadgen_id", "value.id"),
    event_time=("value.created_time", "time"),
    time_unit="s",
    handshake=SubscribeChallenge(),
    handshake_var="CDP_FACEBOOK_WEBHOOK_VERIFY_TOKEN",
    refreshes={"leadgen": "leads"},
    fetch=ObjectFetch(request=read_lead, missing=no_such_object),
)
