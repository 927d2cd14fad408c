"""Stripe (API version 2024-06-20) as data: the web shop's customers, charges and refunds.

Lists are paged by ``starting_after=<id of the page's last object>`` while ``has_more`` (no cursor
field: the folder's paginator, hook ``starting_after``), filtered by ``created[gte]``/``created[lt]``
in unix seconds. Changed customers come from ``GET /v1/events`` (hook ``changed_through_events``).
"""

from cdp_platform.sources.declaration import (
    Credential,
    DailyWindow,
    Endpoint,
    Pagination,
    Quota,
    Schedule,
    SourceDeclaration,
    StreamDeclaration,
)

_WINDOW = DailyWindow("created[gte]", "created[lt]", "unix_seconds")
# The next page starts after the last object's id, asked for while has_more is true.
_PAGES = Pagination("cursor_in_body", {"cursor_path": "data[-1].id", "cursor_param": "starting_after", "more_path": "has_more"})

SOURCE = SourceDeclaration(
    name="stripe",
    title="Stripe",
    description="The web shop's payments: customers (with their changes, from events), charges and refunds.",
    auth="bearer",
    credentials=(
        Credential(
            "api_key",
            "set it to a restricted key (rk_live_...) with read access to customers, charges, refunds and "
            "events, or the secret key",
            description="Secret or restricted API key.",
        ),
    ),
    streams=(
        StreamDeclaration(
            name="customers",
            description="Stripe customers created in the partition's day (as they are now), and those changed "
            "in it (customer.updated events, each holding the customer after the change).",
            endpoint=Endpoint("GET", "/v1/customers"),
            record_path="data",
            id_field="id",
            change_time_field="created",
            pagination=_PAGES,
            window=_WINDOW,
            hook="changed_through_events",
        ),
        StreamDeclaration(
            name="charges",
            description="Stripe charges created in the partition's day, with the balance transaction expanded.",
            endpoint=Endpoint("GET", "/v1/charges"),
            record_path="data",
            id_field="id",
            change_time_field="created",
            pagination=_PAGES,
            window=_WINDOW,
        ),
        StreamDeclaration(
            name="refunds",
            description="Stripe refunds created in the partition's day.",
            endpoint=Endpoint("GET", "/v1/refunds"),
            record_path="data",
            id_field="id",
            change_time_field="created",
            pagination=_PAGES,
            window=_WINDOW,
        ),
    ),
    # No quota headers; 429 says Stripe-Should-Retry. Default limits: 100 requests/s live, 25 test.
    # (the resource spaces its requests by the key's mode: StripeResource.requests_per_second).
    quota=Quota(pacer="min_spacing", signals=("Stripe-Should-Retry",)),
    # Its budget is its own: it may start beside another source's run, five minutes after it.
    schedule=Schedule(minute=10),
    page_size=(100, 1, 100),
)
