"""extract(): checkpoint after every page, crash-safe resume, and the checkpoint stores."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    Checkpoint,
    CircuitBreaker,
    CursorInBody,
    InMemoryCheckpointStore,
    LocalFolderCheckpointStore,
    Pacer,
    PaginationLoop,
    RequestSpec,
    VendorClient,
    extract,
)

from .conftest import SleepRecorder

FIRST = RequestSpec("GET", "/crm/v3/objects/contacts", params={"limit": 2})


def paged_app(n_pages: int = 4, missing_id_on: int | None = None) -> tuple[Starlette, list[str | None]]:
    afters: list[str | None] = []

    async def contacts(request: Request) -> Response:
        after = request.query_params.get("after")
        afters.append(after)
        page = int(after or 0)
        results: list[dict[str, Any]] = [{"id": f"{page}-{i}", "properties": {}} for i in range(2)]
        if page == missing_id_on:
            results.append({"properties": {"email": "nobody@x.test"}})
        body: dict[str, Any] = {"results": results}
        if page + 1 < n_pages:
            body["paging"] = {"next": {"after": str(page + 1)}}
        return JSONResponse(body)

    return Starlette(routes=[Route("/crm/v3/objects/contacts", contacts)]), afters


def client_for(app) -> VendorClient:
    return VendorClient(
        "hubspot",
        "http://h.test",
        pacer=Pacer("hubspot"),
        transport=httpx.ASGITransport(app=app),
        breaker=CircuitBreaker("hubspot"),
        sleep=SleepRecorder(),
    )


class Crash(Exception):
    pass


def run_extract(app, store, on_page, key="hubspot/contacts/2026-11-25"):
    async def run():
        async with client_for(app) as client:
            return await extract(
                client,
                CursorInBody("results", cursor_path="paging.next.after", cursor_param="after"),
                FIRST,
                checkpoint_store=store,
                checkpoint_key=key,
                on_page=on_page,
                stream="contacts",
                partition="2026-11-25",
            )

    return asyncio.run(run())


def test_checkpoint_after_every_page_and_counts():
    app, _afters = paged_app(n_pages=3, missing_id_on=1)
    store = InMemoryCheckpointStore()
    landed: list[str] = []
    result = run_extract(app, store, lambda page: landed.extend(r["id"] for r in page.records))
    assert (result.records, result.pages, len(result.dead_letters)) == (6, 3, 1)
    assert result.complete and not result.resumed and store.saves == 3
    assert result.stats["requests"] == 3
    saved = Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25"))
    assert saved.done and saved.complete and saved.next_state is None
    assert (saved.records_so_far_count, saved.pages, saved.stream) == (6, 3, "contacts")


def test_crash_between_append_and_checkpoint_refetches_that_page_and_nothing_is_lost():
    app, afters = paged_app(n_pages=4)
    store = InMemoryCheckpointStore()
    landed: list[str] = []

    def crash_on_third(page):
        landed.extend(r["id"] for r in page.records)  # durably appended ...
        if page.number == 3:
            raise Crash  # ... and the process dies before the checkpoint is saved

    with pytest.raises(Crash):
        run_extract(app, store, crash_on_third)
    assert Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25")).next_state == {"after": "2"}

    afters.clear()
    result = run_extract(app, store, lambda page: landed.extend(r["id"] for r in page.records))
    assert result.resumed and afters == ["2", "3"]  # resumed at the page that was not checkpointed
    assert result.records == 4 and result.complete
    assert len(landed) == 10 and len(set(landed)) == 8  # page 3 twice; the caller de-duplicates by id
    saved = Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25"))
    assert saved.pages == 4 and saved.records_so_far_count == 8


def test_a_done_checkpoint_returns_at_once_and_a_foreign_one_is_ignored():
    app, afters = paged_app(n_pages=2)
    store = InMemoryCheckpointStore()
    run_extract(app, store, lambda page: None)
    afters.clear()
    again = run_extract(app, store, lambda page: None)
    assert again.already_done and again.pages == 0 and afters == []

    store.save(
        "other", Checkpoint("contacts", "2026-11-24", {"after": "1"}, 2, 1, request_fingerprint="x").to_dict()
    )
    fresh = run_extract(app, store, lambda page: None, key="other")
    assert not fresh.resumed and afters == [None, "1"]
    assert "belongs to another request" in fresh.warnings[0]


def test_a_pagination_loop_fails_the_run_and_the_next_run_completes_the_window_exactly():
    """The vendor answers page 3 with its own cursor three times in a row, one more than the client
    retries a looping page: the run must fail naming the loop, not end the stream there (which lost
    the records of pages 3 and 4 without a word), and the next run resumes at page 3."""
    app, afters = paged_app(n_pages=4)
    looped = {"n": 0}

    async def vendor(scope, receive, send):
        if b"after=2" in scope.get("query_string", b"") and looped["n"] < 3:
            looped["n"] += 1
            afters.append("2")
            body = {"results": [{"id": "2-0"}, {"id": "2-1"}], "paging": {"next": {"after": "2"}}}
            await JSONResponse(body)(scope, receive, send)
            return
        await app(scope, receive, send)

    truth = [f"{page}-{i}" for page in range(4) for i in range(2)]
    store = InMemoryCheckpointStore()
    spool: dict[int, list[str]] = {}  # as PageSpool: one entry per page number, a re-fetch overwrites

    def keep(page):
        spool[page.number] = [r["id"] for r in page.records]

    with pytest.raises(PaginationLoop) as raised:
        run_extract(vendor, store, keep)
    loop = raised.value
    assert (loop.stream, loop.partition, loop.page, loop.retries) == ("contacts", "2026-11-25", 3, 2)
    assert "pagination loop at page 3" in str(loop) and "resumes at page 3" in str(loop)
    assert '"2"' in loop.cursor
    saved = Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25"))
    assert not saved.done and saved.next_state == {"after": "2"} and saved.pages == 2
    assert sorted(spool) == [1, 2]  # the pages before the loop are kept, the looping one is not

    afters.clear()
    result = run_extract(vendor, store, keep)
    assert result.resumed and result.complete and afters == ["2", "3"]
    landed = [record_id for number in sorted(spool) for record_id in spool[number]]
    assert landed == truth  # every record once: nothing lost, nothing doubled


def test_a_run_stopped_on_an_unreadable_page_is_resumed_there_by_the_next_run():
    """The page after ``after=2`` answers HTML twice (the client reads each page at most twice): the
    run stops incomplete with a dead letter. The next run must ask for that page again, not take the
    stopped run's checkpoint for a finished one (which failed every later run, fetching nothing)."""
    app, afters = paged_app(n_pages=4)
    bad = {"n": 0}

    async def vendor(scope, receive, send):
        if b"after=2" in scope.get("query_string", b"") and bad["n"] < 2:
            bad["n"] += 1
            await PlainTextResponse("<html>gateway hiccup</html>")(scope, receive, send)
            return
        await app(scope, receive, send)

    store = InMemoryCheckpointStore()
    landed: list[str] = []
    stopped = run_extract(vendor, store, lambda page: landed.extend(r["id"] for r in page.records))
    assert not stopped.complete and len(stopped.dead_letters) == 1
    saved = Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25"))
    assert not saved.done and saved.next_state == {"after": "2"}

    afters.clear()
    result = run_extract(vendor, store, lambda page: landed.extend(r["id"] for r in page.records))
    assert result.resumed and result.complete and not result.already_done and afters == ["2", "3"]
    assert landed == [f"{page}-{i}" for page in range(4) for i in range(2)]

    # A checkpoint saved done but incomplete (by the code before this fix) is resumed as well.
    store.save("old", {**saved.to_dict(), "done": True})
    afters.clear()
    again = run_extract(vendor, store, lambda page: None, key="old")
    assert again.resumed and again.complete and afters == ["2", "3"]


def test_async_on_page_is_awaited():
    app, _ = paged_app(n_pages=2)
    seen = []

    async def on_page(page):
        await asyncio.sleep(0)
        seen.append(page.number)

    run_extract(app, InMemoryCheckpointStore(), on_page)
    assert seen == [1, 2]


class RecordingStore(InMemoryCheckpointStore):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def save(self, key, value):
        super().save(key, value)
        self.events.append(f"saved {value['pages']}")


def test_the_next_page_is_fetched_while_a_page_is_committed_yet_handed_on_only_after_its_checkpoint():
    """Pipelining keeps the order on storage: page N appended, page N checkpointed, then page N+1
    appended; only the request for page N+1 goes out while page N is being written."""
    app, _ = paged_app(n_pages=3)
    events: list[str] = []

    async def vendor(scope, receive, send):
        events.append(
            f"fetch {int((dict(httpx.QueryParams(scope['query_string'].decode()))).get('after', 0)) + 1}"
        )
        await app(scope, receive, send)

    async def slow_append(page):
        events.append(f"append {page.number}")
        await asyncio.sleep(0.05)  # a spool write taking its time

    result = run_extract(vendor, RecordingStore(events), slow_append)
    assert result.complete and result.pages == 3
    order = {event: index for index, event in enumerate(events)}
    for n in (1, 2):
        assert order[f"append {n}"] < order[f"saved {n}"] < order[f"append {n + 1}"]
        assert order[f"fetch {n + 1}"] < order[f"saved {n}"]  # the overlap
    assert order["saved 2"] < order["saved 3"]


def test_a_fetch_failing_while_a_page_is_committed_still_leaves_that_pages_checkpoint():
    app, afters = paged_app(n_pages=4)

    async def vendor(scope, receive, send):
        if b"after=2" in scope.get("query_string", b""):
            body = {"status": "error", "message": "bad request", "category": "VALIDATION_ERROR"}
            await JSONResponse(body, status_code=400)(scope, receive, send)
            return
        await app(scope, receive, send)

    async def slow_append(page):
        await asyncio.sleep(0.1)  # still writing page 2 when the request for page 3 fails

    store = InMemoryCheckpointStore()
    with pytest.raises(Exception, match="bad request"):
        run_extract(vendor, store, slow_append)
    saved = Checkpoint.from_dict(store.load("hubspot/contacts/2026-11-25"))
    assert saved.pages == 2 and saved.next_state == {"after": "2"}

    afters.clear()
    result = run_extract(app, store, lambda page: None)
    assert result.resumed and result.complete and afters == ["2", "3"]


def test_local_folder_store_round_trip_nested_keys_and_atomic_replace(tmp_path):
    store = LocalFolderCheckpointStore(tmp_path)
    key = "hubspot/contacts/2026-11-25"
    assert store.load(key) is None
    checkpoint = Checkpoint("contacts", "2026-11-25", {"after": "abc"}, records_so_far_count=10, pages=1)
    store.save(key, checkpoint.to_dict())
    store.save(key, {**checkpoint.to_dict(), "pages": 2})
    path = store.path_for(key)
    assert path == tmp_path / "hubspot" / "contacts" / "2026-11-25.json"
    assert json.loads(path.read_text())["pages"] == 2
    assert [p.name for p in path.parent.iterdir()] == ["2026-11-25.json"]  # no temp files left
    assert Checkpoint.from_json(json.dumps(store.load(key))).next_state == {"after": "abc"}
    store.clear(key)
    assert store.load(key) is None
    with pytest.raises(ValueError):
        store.path_for("../escape")


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    store = LocalFolderCheckpointStore(tmp_path)
    store.save("k", {"pages": 1})

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("cdp_platform.http.checkpoint.json.dump", broken_dump)
    with pytest.raises(OSError):
        store.save("k", {"pages": 2})
    monkeypatch.undo()
    assert store.load("k") == {"pages": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]
