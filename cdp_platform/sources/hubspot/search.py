"""HubSpot search in time windows that each stay under the 10,000-result paging limit.

HubSpot search cannot page past 10,000 results (HTTP 400), so an incremental window with more
changes is cut into smaller time slices. ``plan_windows`` asks for the first page of a window
(its ``total`` tells whether it fits) and bisects ``[start, end)`` recursively until every slice's
total fits; each slice is then extracted with the declared cursor paginator and an ascending sort on the
modified-date property, so a slice's pages advance in time. ``extract_search`` asks for that first
page with the extraction's own limit and properties, so the page that told the total is also the
first page of the window's extraction: a window that fits (nearly every day) costs no request
beyond its pages. (It used to ask ``limit=1`` first and then the same page again.)

``extract_search`` ties it to checkpoints: the plan is saved under ``<key>/plan`` so a resumed run
walks the same windows even if more records changed meanwhile, and each window has its own
checkpoint ``<key>/<start_ms>-<end_ms>``; ``clear_search`` removes them all once the partition is
finalized.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from cdp_platform.http.checkpoint import CheckpointStore
from cdp_platform.http.client import RequestSpec, VendorClient
from cdp_platform.http.extract import ExtractResult, OnPage, extract
from cdp_platform.http.pagination import Page
from cdp_platform.http.redaction import library_logger
from cdp_platform.sources.hubspot.declaration import MODIFIED_DATE_PROPERTY, SOURCE
from cdp_platform.sources.stream import declared_paginator

logger = library_logger(__name__)

# Every object's search pages the same way (``paging.next.after`` sent back in the body).
_paginator = declared_paginator(SOURCE.streams[0])

MAX_SEARCH_RESULTS = 10_000


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("search window bounds must be timezone-aware")
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class SearchWindow:
    """``[start_ms, end_ms)`` in milliseconds since the epoch."""

    start_ms: int
    end_ms: int

    @property
    def width_ms(self) -> int:
        return self.end_ms - self.start_ms

    def split(self) -> tuple[SearchWindow, SearchWindow]:
        middle = self.start_ms + self.width_ms // 2
        return SearchWindow(self.start_ms, middle), SearchWindow(middle, self.end_ms)

    def key(self) -> str:
        return f"{self.start_ms}-{self.end_ms}"


def search_request(
    object_type: str,
    window: SearchWindow,
    *,
    properties: Sequence[str] = (),
    limit: int = 200,
    property_name: str | None = None,
    path_prefix: str = "/crm/v3/objects",
) -> RequestSpec:
    """The first search request of one window, ascending on the modified-date property."""
    prop = property_name or MODIFIED_DATE_PROPERTY.get(object_type, "hs_lastmodifieddate")
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(window.start_ms)},
                    {"propertyName": prop, "operator": "LT", "value": str(window.end_ms)},
                ]
            }
        ],
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": limit,
    }
    return RequestSpec("POST", f"{path_prefix}/{object_type}/search", json=body)


async def window_total(
    client: VendorClient, object_type: str, window: SearchWindow, **request_options
) -> int:
    spec = search_request(object_type, window, **{**request_options, "limit": 1})
    response = await client.send(spec)
    return int(response.json().get("total") or 0)


# A window's first page as received: (decoded body, response), keyed by ``SearchWindow.key()``.
FirstPages = dict[str, tuple[Any, httpx.Response]]


async def plan_windows(
    client: VendorClient,
    object_type: str,
    start: datetime,
    end: datetime,
    *,
    max_results: int = MAX_SEARCH_RESULTS,
    min_width_ms: int = 1_000,
    property_name: str | None = None,
    path_prefix: str = "/crm/v3/objects",
    properties: Sequence[str] = (),
    limit: int = 1,
    first_pages: FirstPages | None = None,
) -> list[tuple[SearchWindow, int]]:
    """Cut ``[start, end)`` into windows of at most ``max_results`` results each, in time order.

    Returns ``(window, total)`` pairs. A window narrower than ``min_width_ms`` that still holds more
    (thousands of changes within a second) is kept whole with a logged warning; its extraction
    stops at the vendor's limit rather than looping on ever smaller windows.

    Each window's total is read from its first page, asked with ``limit`` and ``properties``. With
    ``first_pages`` given, the first page of every window kept is put there, so an extraction asking
    the same first request can start from it instead of sending it again.
    """
    options = {"property_name": property_name, "path_prefix": path_prefix}
    planned: list[tuple[SearchWindow, int]] = []
    pending = [SearchWindow(to_ms(start), to_ms(end))]
    while pending:
        window = pending.pop()
        response = await client.send(
            search_request(object_type, window, properties=properties, limit=limit, **options)
        )
        body = response.json()
        total = int((body.get("total") if isinstance(body, dict) else None) or 0)
        if total > max_results and window.width_ms > min_width_ms:
            left, right = window.split()
            # Depth first, right half pushed first, so windows come out in time order.
            pending.extend([right, left])
            continue
        if total > max_results:
            logger.warning(
                "hubspot %s window %s holds %d results, over the %d search limit, and cannot be split",
                object_type,
                window.key(),
                total,
                max_results,
            )
        planned.append((window, total))
        if first_pages is not None:
            first_pages[window.key()] = (body, response)
    return planned


def _plan_key(checkpoint_key: str) -> str:
    return f"{checkpoint_key}/plan"


def _window_key(checkpoint_key: str, window: SearchWindow) -> str:
    return f"{checkpoint_key}/{window.key()}"


async def extract_search(
    client: VendorClient,
    object_type: str,
    start: datetime,
    end: datetime,
    *,
    checkpoint_store: CheckpointStore,
    checkpoint_key: str,
    on_page: OnPage,
    properties: Sequence[str] = (),
    limit: int = 200,
    stream: str = "",
    partition: str = "",
    property_name: str | None = None,
    path_prefix: str = "/crm/v3/objects",
    max_results: int = MAX_SEARCH_RESULTS,
) -> ExtractResult:
    """Extract every record changed in ``[start, end)`` through time-sliced searches."""
    bounds = {"start_ms": to_ms(start), "end_ms": to_ms(end)}
    saved = checkpoint_store.load(_plan_key(checkpoint_key))
    first_pages: FirstPages = {}
    if saved and {key: saved.get(key) for key in bounds} == bounds:
        windows = [SearchWindow(start_ms, end_ms) for start_ms, end_ms in saved["windows"]]
    else:
        planned = await plan_windows(
            client,
            object_type,
            start,
            end,
            max_results=max_results,
            property_name=property_name,
            path_prefix=path_prefix,
            properties=properties,
            limit=limit,
            first_pages=first_pages,
        )
        windows = [window for window, _ in planned]
        checkpoint_store.save(
            _plan_key(checkpoint_key), {**bounds, "windows": [[w.start_ms, w.end_ms] for w in windows]}
        )
    total = ExtractResult(records=0, pages=0, complete=True, already_done=True)
    for window in windows:
        first = search_request(
            object_type,
            window,
            properties=properties,
            limit=limit,
            property_name=property_name,
            path_prefix=path_prefix,
        )
        result = await extract(
            client,
            _paginator(),
            first,
            checkpoint_store=checkpoint_store,
            checkpoint_key=_window_key(checkpoint_key, window),
            on_page=_tagged(on_page, f"{window.start_ms}-{window.end_ms}"),
            stream=stream,
            partition=partition,
            # Planned in this call: the page that told the window's total is its first page (the
            # same request). Dropped once handed on, so a day's pages are not all held at once.
            first_page=first_pages.pop(window.key(), None),
        )
        total.records += result.records
        total.pages += result.pages
        total.dead_letters.extend(result.dead_letters)
        total.warnings.extend(result.warnings)
        total.complete = total.complete and result.complete
        total.resumed = total.resumed or result.resumed
        total.already_done = total.already_done and result.already_done
    total.stats = client.stats.snapshot()
    return total


def _tagged(on_page: OnPage, part: str) -> OnPage:
    async def tagged(page: Page) -> None:
        page.part = part
        outcome = on_page(page)
        if inspect.isawaitable(outcome):
            await outcome

    return tagged


def clear_search(checkpoint_store: CheckpointStore, checkpoint_key: str) -> None:
    """Remove the plan and window checkpoints of ``extract_search`` (after finalizing a partition)."""
    saved = checkpoint_store.load(_plan_key(checkpoint_key))
    for start_ms, end_ms in (saved or {}).get("windows", []):
        checkpoint_store.clear(_window_key(checkpoint_key, SearchWindow(start_ms, end_ms)))
    checkpoint_store.clear(_plan_key(checkpoint_key))
