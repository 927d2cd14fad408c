"""Stripe (API version 2024-06-20): the web shop's customers, charges and refunds.

Partition D is ``created[gte]=D, created[lt]=D+1`` (unix seconds) on the list endpoints, newest
first, paged with ``starting_after=<id of the last object>`` while ``has_more`` (Stripe sends no
cursor). A list filtered by ``created`` never sees an object changed later, so the customers stream
has a second slice: the ``customer.updated`` events created in D (``GET /v1/events``, kept 30 days by
Stripe), each landing as received, the event around the customer as it was after the change. Its
``created`` is the change time, which is what makes the changed version the latest one. Charges
are listed with their balance transaction expanded (the settled amount in the account's currency);
refunds are their own stream, so a refund made weeks after the charge lands in its own day.

Authentication is a secret or restricted key (read access to customers, charges, refunds and
events is enough) sent as a Bearer token. Stripe sends no quota headers: the pacer keeps under
the documented default of 100 requests per second in live mode and 25 in test mode (``sk_test_``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cdp_platform.http import Auth, BearerAuth, Paginator, RequestSpec, VendorClient
from cdp_platform.http.pagination import get_path
from cdp_platform.sources.stream import Slice, SliceSource, Stream, StreamContext
from cdp_platform.sources.vendor import VendorResource

API_VERSION = "2024-06-20"
PAGE_LIMIT = 100
# Stripe's documented read limits per second; the client keeps 10 % below them.
LIVE_MODE_PER_SECOND = 100
TEST_MODE_PER_SECOND = 25
PACE_SHARE = 0.9


class StripeStartingAfter(Paginator):
    """Stripe lists: the next page starts after the last object's id while ``has_more`` is true.

    The state is ``{"starting_after": <id>}``, taken from the last object of the page that has a
    string id (an object damaged in transit would otherwise end the stream; asking after the one
    before it fetches the damaged one again, and the raw layer keeps one version per id). A page
    that ends at the same id as the one before is the cursor loop of a cursor-less API; the shared
    loop guard asks for it again, then fails the stream rather than lose its tail.
    """

    name = "stripe_starting_after"

    def __init__(self, record_path: str = "data", **kwargs: Any) -> None:
        super().__init__(record_path, **kwargs)

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        if state is None or not state.get("starting_after"):
            return first
        return first.with_changes(params={**(first.params or {}), "starting_after": state["starting_after"]})

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        if get_path(body, "has_more") is not True:
            return None
        records = get_path(body, self.record_path)
        ids = [r.get("id") for r in records if isinstance(r, dict)] if isinstance(records, list) else []
        last = next((i for i in reversed(ids) if isinstance(i, str) and i), None)
        if last is None:
            # More to come but no id to ask after: the same request again (the loop guard decides).
            return {"starting_after": (request.params or {}).get("starting_after")}
        return {"starting_after": last}


class StripeResource(VendorResource):
    """Stripe: a secret or restricted API key (``sk_live_...``, ``rk_live_...``)."""

    source = "stripe"
    http_vendor = "stripe"

    api_key: str | None = Field(
        default=None,
        description="Secret or restricted API key with read access to customers, charges, refunds and "
        "events (CDP_STRIPE_API_KEY).",
    )

    def auth(self) -> Auth:
        return BearerAuth(self.api_key or "")

    def requests_per_second(self) -> float:
        """What the key's mode allows, minus a margin (no quota headers tell the client more)."""
        test_mode = (self.api_key or "").startswith(("sk_test_", "rk_test_"))
        return (TEST_MODE_PER_SECOND if test_mode else LIVE_MODE_PER_SECOND) * PACE_SHARE

    def client(self, auth: Auth | None = None) -> VendorClient:
        client = super().client(auth)
        # The client took the vendor's process-wide pacer (shared by every stream of the account);
        # it spaces sends by what the key's mode allows (the slower, if keys of both modes ran).
        pacer = client.pacer
        pacer.min_interval = max(pacer.min_interval, 1.0 / self.requests_per_second())
        return client


def _window(ctx: StreamContext) -> dict[str, Any]:
    return {
        "created[gte]": int(ctx.window.start.timestamp()),
        "created[lt]": int(ctx.window.end.timestamp()),
        "limit": ctx.size(PAGE_LIMIT, 1, PAGE_LIMIT),
    }


def _list(path: str, **extra: Any) -> RequestSpec:
    return RequestSpec("GET", path, params=extra, headers={"Stripe-Version": API_VERSION})


def created_and_changed(path: str, event_types: tuple[str, ...], **extra: Any) -> SliceSource:
    """Two slices: the objects created in the window (as they are now), then the events of the
    window that changed objects created before it (each carrying the object after the change)."""

    async def slices(ctx: StreamContext):
        yield Slice("created", _list(path, **_window(ctx), **extra))
        yield Slice("changed", _list("/v1/events", **_window(ctx), **{"types[]": list(event_types)}))

    return slices


def created_only(path: str, **extra: Any) -> SliceSource:
    async def slices(ctx: StreamContext):
        yield Slice("created", _list(path, **_window(ctx), **extra))

    return slices


def object_id(record: dict[str, Any]) -> str:
    """The id of the object a row is about: an event's ``data.object``, else the object itself."""
    if record.get("object") == "event":
        inner = get_path(record, "data.object.id")
        return str(inner if inner is not None else record.get("id"))
    return str(record.get("id"))


STREAMS = (
    Stream(
        source="stripe",
        name="customers",
        description="Stripe customers created in the partition's day (as they are now), and those changed "
        "in it (customer.updated events, each holding the customer after the change).",
        paginator=StripeStartingAfter,
        slices=created_and_changed("/v1/customers", ("customer.updated",)),
        id_path="id",
        updated_path="created",
        record_id=object_id,
    ),
    Stream(
        source="stripe",
        name="charges",
        description="Stripe charges created in the partition's day, with the balance transaction expanded "
        "(the amount settled in the account's currency).",
        paginator=StripeStartingAfter,
        slices=created_only("/v1/charges", **{"expand[]": ["data.balance_transaction"]}),
        id_path="id",
        updated_path="created",
    ),
    Stream(
        source="stripe",
        name="refunds",
        description="Stripe refunds created in the partition's day (a charge's refunds land in their own day).",
        paginator=StripeStartingAfter,
        slices=created_only("/v1/refunds"),
        id_path="id",
        updated_path="created",
    ),
)
