"""Salesforce (REST API v62.0): Accounts, Contacts, Leads and Opportunities by SOQL.

Partition D is ``WHERE SystemModstamp >= D AND SystemModstamp < D+1``: SystemModstamp moves on
every change, including system-made ones, so it is the field that misses nothing. Pages follow
``nextRecordsUrl`` until ``done``. Authentication is OAuth 2.0 (refresh-token grant) against the
login host; the token response's ``instance_url`` becomes the API base.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pydantic import Field

from cdp_platform.cleansed import entity as cleansed_entity
from cdp_platform.http import Auth, RequestSpec, VendorClient
from cdp_platform.sources.salesforce.auth import SalesforceOAuth
from cdp_platform.sources.salesforce.cleansed.system import select_list
from cdp_platform.sources.salesforce.declaration import API_VERSION, OBJECTS, SOURCE
from cdp_platform.sources.stream import Stream, StreamContext, declared_stream, single
from cdp_platform.sources.vendor import VendorResource


def query_fields(sobject: str) -> tuple[str, ...]:
    """The fields an object's query selects: exactly what its cleansed entity declares (each field
    is spelled once, there), with the custom fields the org's settings map to handles
    (``CDP_SALESFORCE_<ENTITY>_HANDLE_FIELDS``); a field the org lacks fails the query, so none is
    asked for unless declared or configured. Relationship fields come back as nested objects."""
    stream = next(name for name, name_of_object in OBJECTS.items() if name_of_object == sobject)
    return select_list(cleansed_entity(SOURCE.name, stream))


def soql_datetime(moment: datetime) -> str:
    """SOQL datetime literals are unquoted ISO 8601 in UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window_query(sobject: str, start: datetime, end: datetime) -> str:
    return (
        f"SELECT {', '.join(query_fields(sobject))} FROM {sobject} "
        f"WHERE SystemModstamp >= {soql_datetime(start)} AND SystemModstamp < {soql_datetime(end)} "
        "ORDER BY SystemModstamp ASC, Id ASC"
    )


def count_query(sobject: str, since: datetime) -> str:
    """A cheap change probe for sensors: how many records changed since a moment."""
    return f"SELECT COUNT() FROM {sobject} WHERE SystemModstamp >= {soql_datetime(since)}"


def query_request(soql: str, batch_size: int = 2000) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"/services/data/{API_VERSION}/query",
        params={"q": soql},
        headers={"Sforce-Query-Options": f"batchSize={batch_size}"},
    )


class SalesforceResource(VendorResource):
    """Salesforce: the login host as ``base_url`` and a connected app's refresh token."""

    source = "salesforce"
    http_vendor = "salesforce"

    client_id: str | None = Field(
        default=None, description="Connected app consumer key (CDP_SALESFORCE_CLIENT_ID)."
    )
    client_secret: str | None = Field(
        default=None, description="Connected app consumer secret (CDP_SALESFORCE_CLIENT_SECRET)."
    )
    refresh_token: str | None = Field(
        default=None, description="OAuth refresh token (CDP_SALESFORCE_REFRESH_TOKEN)."
    )

    def auth(self) -> Auth:
        login = self.api_base_url()
        return SalesforceOAuth(login, self.client_id, self.client_secret, refresh_token=self.refresh_token)


def _stream(name: str) -> Stream:
    sobject = OBJECTS[name]

    def request(ctx: StreamContext) -> RequestSpec:
        return query_request(
            window_query(sobject, ctx.window.start, ctx.window.end), ctx.size(*SOURCE.page_size)
        )

    return declared_stream(SOURCE, name, single(request))


STREAMS = tuple(_stream(stream.name) for stream in SOURCE.streams)


async def count_changes(client: VendorClient, since: datetime) -> dict[str, int]:
    """Records changed since ``since`` per stream (one ``COUNT()`` query each), for the sensor."""
    streams = [stream.name for stream in STREAMS]
    requests = [query_request(count_query(OBJECTS[s], since)) for s in streams]
    responses = await asyncio.gather(*(client.send(request) for request in requests))
    return {stream: int(r.json().get("totalSize") or 0) for stream, r in zip(streams, responses, strict=True)}
