"""Instagram's Graph webhooks (comments, mentions), declared (see :mod:`cdp_platform.webhooks`).

The same Graph mechanism as every Graph source's (handshake, ``X-Hub-Signature-256``), with Instagram's own
app secret and verify token.
"""

from cdp_platform.webhooks.events import entry_changes
from cdp_platform.webhooks.signatures import BodyHmacHeader, SubscribeChallenge
from cdp_platform.webhooks.spec import WebhookSpec

WEBHOOK = WebhookSpec(
    source="instagram",
    route="instagram",
    scheme=BodyHmacHeader(header="X-Hub-Signature-256", encoding="hex", refuse_status=403),
    secret_var="CDP_INSTAGRAM_APP_SECRET",  # noqa: S106 (the variable's name, not a secret)
    split=entry_changes,
    event_id=("value.id", "value.comment_id", "value.media_id"),
    event_type=("field",),
    object_id=("value.id", "value.comment_id", "value.media_id"),
    event_time=("time",),
    time_unit="s",
    handshake=SubscribeChallenge(),
    handshake_var="CDP_INSTAGRAM_WEBHOOK_VERIFY_TOKEN",
    refreshes={"comments": "media_comments"},
)
