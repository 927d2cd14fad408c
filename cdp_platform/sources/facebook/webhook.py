"""Facebook's Graph webhooks (Page ``leadgen``), declared (see :mod:`cdp_platform.webhooks`).

``hub.challenge`` handshake with a verify token of our choosing; ``X-Hub-Signature-256`` is the hex
HMAC of the body with the app secret (the one the source already uses for ``appsecret_proof``);
changes arrive as ``entry[].changes[]`` and a lead is then read by its ``leadgen_id``. Graph retries
with backoff for up to 36 h on a non-200.
"""

from cdp_platform.webhooks.events import entry_changes
from cdp_platform.webhooks.signatures import BodyHmacHeader, SubscribeChallenge
from cdp_platform.webhooks.spec import WebhookSpec

# Graph refuses with 403 in Meta's own examples; any non-200 makes Graph retry (up to 36 h).
GRAPH_SIGNATURE = BodyHmacHeader(header="X-Hub-Signature-256", encoding="hex", refuse_status=403)

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
)
