"""HubSpot CRM v3: contacts, companies and deals through the search API.

Partition D is a search on the last-modified property (``lastmodifieddate`` for contacts,
``hs_lastmodifieddate`` for companies and deals) in [D, D+1), sorted ascending. One search can
page through at most 10,000 results, so a busier window is split in time first
(:func:`cdp_platform.http.extract_search`). Search results carry no associations, so a deal's
buyer is read through the v4 associations batch endpoint for the deals of the page.
"""

from __future__ import annotations

from pydantic import Field

from cdp_platform.http import Auth, BearerAuth, CheckpointStore, ExtractResult, extract_search
from cdp_platform.sources.stream import OnPage, Slice, Stream, StreamContext
from cdp_platform.sources.vendor import VendorResource

PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "email", "firstname", "lastname", "phone", "address", "city", "zip", "country", "company", "jobtitle",
        "date_of_birth", "twitterhandle", "instagram_username", "lifecyclestage", "createdate",
        "lastmodifieddate", "hs_object_id",
    ),
    "companies": (
        "name", "domain", "city", "country", "industry", "numberofemployees", "phone", "createdate",
        "hs_lastmodifieddate", "hs_object_id",
    ),
    "deals": (
        "dealname", "amount", "closedate", "dealstage", "pipeline", "hs_is_closed_won", "createdate",
        "hs_lastmodifieddate", "hs_object_id",
    ),
}  # fmt: skip


class HubSpotResource(VendorResource):
    """HubSpot: a private app access token (scopes crm.objects.contacts/companies/deals.read)."""

    source = "hubspot"
    http_vendor = "hubspot"

    access_token: str = Field(description="Private app or OAuth access token (CDP_HUBSPOT_ACCESS_TOKEN).")

    def auth(self) -> Auth:
        return BearerAuth(self.access_token)


def _stream(object_type: str, description: str) -> Stream:
    async def slices(ctx: StreamContext):
        yield Slice("all")  # the search extractor builds its own, time-split requests

    async def search(
        ctx: StreamContext, piece: Slice, store: CheckpointStore, key: str, on_page: OnPage
    ) -> ExtractResult:
        return await extract_search(
            ctx.client,
            object_type,
            ctx.window.start,
            ctx.window.end,
            checkpoint_store=store,
            checkpoint_key=key,
            on_page=on_page,
            properties=PROPERTIES[object_type],
            limit=ctx.size(200, 1, 200),
            stream=f"hubspot/{object_type}",
            partition=ctx.window.partition,
        )

    return Stream(
        source="hubspot",
        name=object_type,
        description=description,
        slices=slices,
        id_path="id",
        updated_path="updatedAt",
        extractor=search,
    )


STREAMS = (
    _stream("contacts", "HubSpot contacts created or changed in the partition's day (search API)."),
    _stream("companies", "HubSpot companies created or changed in the partition's day (search API)."),
    _stream("deals", "HubSpot deals created or changed in the partition's day (search API)."),
)
