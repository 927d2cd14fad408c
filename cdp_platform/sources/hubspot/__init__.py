"""HubSpot CRM v3: contacts, companies and deals through the search API, with their associations.

Partition D is a search on the last-modified property (``lastmodifieddate`` for contacts,
``hs_lastmodifieddate`` for companies and deals) in [D, D+1), sorted ascending. One search can
page through at most 10,000 results, so a busier window is split in time first
(:func:`cdp_platform.sources.hubspot.search.extract_search`).

Search results carry no associations, yet a deal means nothing without its buyer. So after each
search page, the page's records get their associations from the v4 batch endpoint
(``POST /crm/v4/associations/{from}/{to}/batch/read``, one call per target type, through the same
paced and retried client): deals to contacts and companies, contacts to companies. They are kept
beside each record in the raw row's ``context`` as ``{"associations": {"contacts": ["<id>"],
"companies": ["<id>"]}}``; the payload stays exactly as received.

How the page carries them: the extractor wraps ``on_page`` so that, before the rows are made, the
page's body becomes an :class:`AssociatedPage` (the search body plus the associations read for it),
and the stream's ``shape`` reads its record's entry from there, the way a stream with an
expansion reads ``includes.users`` from its page. A crash between the two calls loses nothing: the page is not
checkpointed yet, so a resumed run fetches it and its associations again.

What the batch read answers (HubSpot's documented and observed shape): ``results`` for inputs that
have associations (``from.id`` a string, ``toObjectId`` a number, read here as either); inputs
without any are reported under ``errors`` as ``crm.associations.NO_ASSOCIATIONS_FOUND`` with HTTP
207 (or simply left out), which both mean "none". Any other error leaves that record's list as
``null`` (unknown, not empty) with a dead letter, so a missed link is never silent. A record with
more associations than one answer holds gets a per-input ``paging.next.after``, followed until done.
A record's ``after`` that comes back (its cursor already followed) is treated like any paginator's
(:class:`cdp_platform.http.pagination.LoopGuard`): that record's page is asked for again, and a loop
that persists fails the stream with ``PaginationLoop`` before the search page is handed on, so the
next run fetches the search page and all its associations again. Stopping there instead would land
the record with some of its links silently missing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from pydantic import Field

from cdp_platform.cleansed import entity as cleansed_entity
from cdp_platform.http import (
    Auth,
    BearerAuth,
    CheckpointStore,
    DeadLetter,
    ExtractResult,
    RequestSpec,
    VendorClient,
    describe_request,
)
from cdp_platform.http.dead_letters import make_dead_letter
from cdp_platform.http.pagination import LoopGuard, Page, get_path
from cdp_platform.sources.hubspot.cleansed.objects import requested_properties
from cdp_platform.sources.hubspot.declaration import SOURCE
from cdp_platform.sources.hubspot.search import MODIFIED_DATE_PROPERTY, extract_search, to_ms
from cdp_platform.sources.stream import OnPage, Slice, Stream, StreamContext, declared_stream
from cdp_platform.sources.vendor import VendorResource


def properties(object_type: str) -> tuple[str, ...]:
    """The properties a search of ``object_type`` asks for: what its cleansed entity's fields read
    (the handle properties the portal's settings map among them) and what every object carries,
    from the entity's declaration (a property is spelled once, on its field)."""
    return requested_properties(cleansed_entity(SOURCE.name, object_type))


class HubSpotResource(VendorResource):
    """HubSpot: a private app access token (scopes crm.objects.contacts/companies/deals.read)."""

    source = "hubspot"
    http_vendor = "hubspot"

    access_token: str | None = Field(
        default=None, description="Private app or OAuth access token (CDP_HUBSPOT_ACCESS_TOKEN)."
    )

    def auth(self) -> Auth:
        return BearerAuth(self.access_token)


# The associations each object's rows carry (the buyer and company of a deal, a contact's company).
ASSOCIATED: dict[str, tuple[str, ...]] = {
    "contacts": ("companies",),
    "companies": (),
    "deals": ("contacts", "companies"),
}
ASSOCIATION_BATCH_LIMIT = 1_000  # inputs per batch read, HubSpot's limit since 2025-02-10
NO_ASSOCIATIONS_FOUND = "crm.associations.NO_ASSOCIATIONS_FOUND"

# Record id -> associated ids, or None where they could not be read.
Links = dict[str, list[str] | None]


def association_request(from_type: str, to_type: str, inputs: Sequence[Mapping[str, str]]) -> RequestSpec:
    """One v4 batch read: ``inputs`` are ``{"id": ...}``, plus ``"after"`` to continue one record."""
    return RequestSpec(
        "POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json={"inputs": list(inputs)}
    )


@dataclass
class AssociationBatch:
    """One batch read answer: the targets found per record, the records with more to fetch (their
    ``after`` cursor), and the records an unexpected error left unread (with that error)."""

    linked: dict[str, list[str]] = field(default_factory=dict)
    more: dict[str, str] = field(default_factory=dict)
    failed: dict[str, Any] = field(default_factory=dict)


def parse_associations(body: Any, asked: Sequence[str]) -> AssociationBatch:
    """Read a batch answer for the record ids ``asked``; ids are compared as strings throughout."""
    batch = AssociationBatch()
    results = get_path(body, "results")
    for result in results if isinstance(results, list) else []:
        from_id = get_path(result, "from.id")
        if from_id in (None, ""):
            continue
        targets = batch.linked.setdefault(str(from_id), [])
        to = get_path(result, "to")
        for target in to if isinstance(to, list) else []:
            to_id = get_path(target, "toObjectId")
            if to_id not in (None, "") and str(to_id) not in targets:
                targets.append(str(to_id))
        after = get_path(result, "paging.next.after")
        if after not in (None, ""):
            batch.more[str(from_id)] = str(after)
    errors = get_path(body, "errors")
    for error in errors if isinstance(errors, list) else []:
        if get_path(error, "subCategory") == NO_ASSOCIATIONS_FOUND:
            continue
        named = get_path(error, "context.fromObjectId")
        # An error naming no record may concern any asked record it did not answer for.
        for from_id in (
            named if isinstance(named, list) and named else [a for a in asked if a not in batch.linked]
        ):
            batch.failed[str(from_id)] = error
    return batch


@dataclass
class AssociationRead:
    """Every asked record's associated ids (None where unread), and the dead letters of the reads
    that failed."""

    links: Links
    dead_letters: list[DeadLetter] = field(default_factory=list)


async def read_associations(
    client: VendorClient,
    from_type: str,
    to_type: str,
    ids: Sequence[str],
    *,
    stream: str = "",
    partition: str = "",
    page: int = 0,
) -> AssociationRead:
    """The ``to_type`` associations of records ``ids``: batches of up to 1,000, then the records
    whose answer had more (by their ``after`` cursor) until none has.

    Raises ``PaginationLoop`` (naming ``page``, the search page the records came from) when a
    record's answer keeps sending back an ``after`` already followed, also after re-asks.
    """
    read = AssociationRead({record_id: [] for record_id in ids})
    links = read.links
    pending: list[dict[str, str]] = [{"id": record_id} for record_id in links]
    guard = LoopGuard()
    re_asked: dict[str, int] = {}  # record id -> re-asks of its current page, reset once it moves on
    while pending:
        following: list[dict[str, str]] = []
        for start in range(0, len(pending), ASSOCIATION_BATCH_LIMIT):
            chunk = pending[start : start + ASSOCIATION_BATCH_LIMIT]
            asked = [item["id"] for item in chunk]
            inputs = {item["id"]: item for item in chunk}
            response = await client.send(association_request(from_type, to_type, chunk))

            def unread(error: str, body: Any, response: httpx.Response = response) -> DeadLetter:
                return make_dead_letter(
                    stream=stream,
                    partition=partition,
                    error=f"associations to {to_type} unread: {error}",
                    body=body,
                    request=describe_request(response.request, client.secrets()),
                    secrets=client.secrets(),
                )

            try:
                body = response.json()
            except ValueError as exc:
                links.update(dict.fromkeys(asked))
                read.dead_letters.append(unread(f"response is not JSON: {exc}", response.text))
                continue
            batch = parse_associations(body, asked)
            for from_id, targets in batch.linked.items():
                known = links.get(from_id)
                if known is not None:
                    known.extend(target for target in targets if target not in known)
            for from_id, error in batch.failed.items():
                if from_id in links:
                    links[from_id] = None
                    read.dead_letters.append(unread(f"{from_type} {from_id}", error))
            for from_id, after in batch.more.items():
                if links.get(from_id) is None:
                    continue
                fingerprint = json.dumps(
                    {"associations": f"{from_type}/{to_type}", "id": from_id, "after": after}, sort_keys=True
                )
                if guard.repeats(fingerprint):
                    retries = re_asked.get(from_id, 0)
                    if not guard.may_retry(retries):
                        raise guard.loop(
                            client,
                            fingerprint,
                            stream=stream,
                            partition=partition,
                            page=page,
                            retries=retries,
                        )
                    # Re-asking merges nothing twice: targets already known are skipped above.
                    re_asked[from_id] = retries + 1
                    following.append(inputs.get(from_id, {"id": from_id}))
                    continue
                re_asked.pop(from_id, None)
                guard.follow(fingerprint)
                following.append({"id": from_id, "after": after})
        pending = following
    return read


@dataclass(frozen=True)
class AssociatedPage:
    """A search page's body as received, with the associations read for its records (by record id)."""

    body: Any
    associations: Mapping[str, Mapping[str, list[str] | None]]


def with_associations(
    on_page: OnPage, client: VendorClient, object_type: str, *, stream: str = "", partition: str = ""
) -> OnPage:
    """``on_page`` for a stream whose records carry associations: reads them for the page's records
    (one batch call per target type) and hands the page on with an :class:`AssociatedPage` body."""
    targets = ASSOCIATED[object_type]

    async def associated(page: Page) -> None:
        ids = list(dict.fromkeys(str(record.get("id")) for record in page.records))
        by_target: dict[str, Links] = {}
        for target in targets:
            read = (
                await read_associations(
                    client, object_type, target, ids, stream=stream, partition=partition, page=page.number
                )
                if ids
                else AssociationRead({})
            )
            by_target[target] = read.links
            page.dead_letters.extend(read.dead_letters)
        page.body = AssociatedPage(
            page.body, {record_id: {t: by_target[t].get(record_id) for t in targets} for record_id in ids}
        )
        await on_page(page)

    return associated


def associations_context(
    record: dict[str, Any], body: Any, _slice: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The record as received, and its associations beside it."""
    links = body.associations.get(str(record.get("id"))) if isinstance(body, AssociatedPage) else None
    return record, ({"associations": dict(links)} if links is not None else None)


def _stream(object_type: str) -> Stream:
    async def slices(ctx: StreamContext):
        yield Slice("all")  # the search extractor builds its own, time-split requests

    async def search(
        ctx: StreamContext, piece: Slice, store: CheckpointStore, key: str, on_page: OnPage
    ) -> ExtractResult:
        name = f"hubspot/{object_type}"
        if ASSOCIATED[object_type]:
            on_page = with_associations(
                on_page, ctx.client, object_type, stream=name, partition=ctx.window.partition
            )
        return await extract_search(
            ctx.client,
            object_type,
            ctx.window.start,
            ctx.window.end,
            checkpoint_store=store,
            checkpoint_key=key,
            on_page=on_page,
            properties=properties(object_type),
            limit=ctx.size(200, 1, 200),
            stream=name,
            partition=ctx.window.partition,
        )

    return declared_stream(
        SOURCE,
        object_type,
        slices,
        shape=associations_context if ASSOCIATED[object_type] else None,
        extractor=search,
    )


STREAMS = tuple(_stream(stream.name) for stream in SOURCE.streams)


def change_request(object_type: str, since: datetime) -> RequestSpec:
    """A one-result search on the modified-date property: its ``total`` is the count of changes."""
    prop = MODIFIED_DATE_PROPERTY[object_type]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": prop, "operator": "GTE", "value": str(to_ms(since))}]}
        ],
        "properties": ["hs_object_id"],
        "limit": 1,
    }
    return RequestSpec("POST", f"/crm/v3/objects/{object_type}/search", json=body)


async def count_changes(client: VendorClient, since: datetime) -> dict[str, int]:
    """Records changed since ``since`` per stream (one search each, its ``total``), for the sensor."""
    streams = [stream.name for stream in STREAMS]
    responses = await asyncio.gather(*(client.send(change_request(s, since)) for s in streams))
    return {stream: int(r.json().get("total") or 0) for stream, r in zip(streams, responses, strict=True)}
