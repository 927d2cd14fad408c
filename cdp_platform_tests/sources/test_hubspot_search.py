"""HubSpot search windows: split [start, end) until each window holds at most 10,000 results."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import CircuitBreaker, CursorInBody, InMemoryCheckpointStore, Pacer, VendorClient
from cdp_platform.sources.hubspot.search import (
    MAX_SEARCH_RESULTS,
    SearchWindow,
    clear_search,
    extract_search,
    plan_windows,
    search_request,
)

START = datetime(2026, 11, 25, tzinfo=UTC)
END = START + timedelta(days=1)


def search_app(modified_ms: list[int]) -> tuple[Starlette, list[dict]]:
    """HubSpot-like search over contacts with the given sorted lastmodifieddate values."""
    bodies: list[dict] = []

    async def search(request: Request) -> Response:
        body = await request.json()
        bodies.append(body)
        filters = {f["operator"]: int(f["value"]) for f in body["filterGroups"][0]["filters"]}
        assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
        low = bisect.bisect_left(modified_ms, filters["GTE"])
        high = bisect.bisect_left(modified_ms, filters["LT"])
        after, limit = int(body.get("after", 0)), int(body["limit"])
        if after + limit > MAX_SEARCH_RESULTS:
            return JSONResponse(
                {"status": "error", "message": "paging past 10,000 results", "category": "VALIDATION_ERROR"},
                status_code=400,
            )
        chunk = range(low + after, min(low + after + limit, high))
        answer = {
            "total": high - low,
            "results": [
                {"id": str(i), "properties": {"lastmodifieddate": str(modified_ms[i])}} for i in chunk
            ],
        }
        if low + after + limit < high:
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(answer)

    return Starlette(routes=[Route("/crm/v3/objects/contacts/search", search, methods=["POST"])]), bodies


def test_windows_over_the_limit_are_bisected_and_every_record_is_extracted_once():
    rng = random.Random(7)
    start_ms = int(START.timestamp() * 1000)
    # 26,000 changes, most of them in a two-hour burst (a bulk import), the rest spread over the day.
    burst = [start_ms + 3_600_000 * 9 + rng.randrange(7_200_000) for _ in range(20_000)]
    spread = [start_ms + rng.randrange(86_400_000) for _ in range(6_000)]
    modified = sorted(burst + spread)
    app, bodies = search_app(modified)

    async def run():
        async with VendorClient(
            "hubspot",
            "http://h.test",
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            windows = await plan_windows(client, "contacts", START, END)
            seen: list[str] = []
            for window, _ in windows:
                first = search_request("contacts", window, properties=["email"], limit=200)
                async for page in CursorInBody(
                    "results", cursor_path="paging.next.after", cursor_param="after"
                ).pages(client, first):
                    seen.extend(record["id"] for record in page.records)
            return windows, seen

    windows, seen = asyncio.run(run())
    assert len(windows) > 3
    assert all(total <= MAX_SEARCH_RESULTS for _, total in windows)
    # The windows tile [START, END) in order, without gaps or overlaps.
    assert windows[0][0].start_ms == start_ms and windows[-1][0].end_ms == start_ms + 86_400_000
    assert all(a.end_ms == b.start_ms for (a, _), (b, _) in itertools.pairwise(windows))
    assert sum(total for _, total in windows) == len(modified)
    assert sorted(seen, key=int) == [str(i) for i in range(len(modified))]
    probes = [b for b in bodies if b["limit"] == 1]
    assert len(probes) == 2 * len(windows) - 1  # a binary tree: one probe per node


def test_a_small_window_is_not_split():
    app, bodies = search_app([int(START.timestamp() * 1000) + i for i in range(50)])

    async def run():
        async with VendorClient(
            "hubspot",
            "http://h.test",
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            return await plan_windows(client, "contacts", START, END)

    ((window, total),) = asyncio.run(run())
    assert window == SearchWindow(int(START.timestamp() * 1000), int(END.timestamp() * 1000)) and total == 50
    assert len(bodies) == 1


def test_an_unsplittable_window_is_kept_with_its_total():
    same_ms = int(START.timestamp() * 1000) + 5
    app, _ = search_app([same_ms] * 12)

    async def run():
        async with VendorClient(
            "hubspot",
            "http://h.test",
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            return await plan_windows(
                client, "contacts", START, START + timedelta(seconds=10), max_results=10
            )

    windows = asyncio.run(run())
    assert any(total == 12 and window.width_ms <= 1_000 for window, total in windows)


def test_extract_search_saves_its_plan_and_resumes_window_by_window():
    start_ms = int(START.timestamp() * 1000)
    modified = sorted(start_ms + (i * 3_456_789) % 86_400_000 for i in range(2_500))
    app, bodies = search_app(modified)
    store = InMemoryCheckpointStore()
    landed: list[str] = []

    class Crash(Exception):
        pass

    def crash_in_second_window(page):
        landed.extend(r["id"] for r in page.records)
        if len(landed) > 1_200:
            raise Crash

    async def run(on_page):
        async with VendorClient(
            "hubspot",
            "http://h.test",
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            return await extract_search(
                client,
                "contacts",
                START,
                END,
                checkpoint_store=store,
                checkpoint_key="hubspot/contacts/2026-11-25",
                on_page=on_page,
                properties=["email"],
                limit=200,
                max_results=1_000,
            )

    def window_of(body: dict) -> list[int]:
        filters = {f["operator"]: int(f["value"]) for f in body["filterGroups"][0]["filters"]}
        return [filters["GTE"], filters["LT"]]

    with pytest.raises(Crash):
        asyncio.run(run(crash_in_second_window))
    plan = store.load("hubspot/contacts/2026-11-25/plan")
    assert len(plan["windows"]) >= 3
    # No limit=1 probe: each node of the split tree was asked once, with the extraction's own
    # limit, and the first page of every window kept was reused as its first page, not asked again.
    assert all(b["limit"] == 200 for b in bodies)
    firsts = [window_of(b) for b in bodies if "after" not in b]
    assert len(firsts) == len({tuple(w) for w in firsts})
    asked_before = len(bodies)

    result = asyncio.run(run(lambda page: landed.extend(r["id"] for r in page.records)))
    # The saved plan was reused: no window outside it (the whole day first of all) was asked again.
    assert all(window_of(b) in plan["windows"] for b in bodies[asked_before:])
    assert result.resumed and result.complete and not result.already_done
    assert set(landed) == {str(i) for i in range(len(modified))}
    assert len(landed) - len(set(landed)) <= 200  # at most the one page fetched again

    again = asyncio.run(run(lambda page: None))
    assert again.already_done and again.pages == 0
    clear_search(store, "hubspot/contacts/2026-11-25")
    assert store.values == {}


def test_a_window_that_fits_costs_only_its_pages():
    """The page that tells a window's total is its first page: 450 records at 200 a page are three
    requests in all, not a probe and then the same first page again."""
    start_ms = int(START.timestamp() * 1000)
    app, bodies = search_app([start_ms + i * 1_000 for i in range(450)])
    store = InMemoryCheckpointStore()
    landed: list[str] = []

    async def run():
        async with VendorClient(
            "hubspot",
            "http://h.test",
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            return await extract_search(
                client,
                "contacts",
                START,
                END,
                checkpoint_store=store,
                checkpoint_key="hubspot/contacts/2026-11-25",
                on_page=lambda page: landed.extend(r["id"] for r in page.records),
                properties=["email"],
                limit=200,
            )

    result = asyncio.run(run())
    assert result.complete and result.pages == 3
    assert [b.get("after") for b in bodies] == [None, "200", "400"]
    assert sorted(landed, key=int) == [str(i) for i in range(450)]
