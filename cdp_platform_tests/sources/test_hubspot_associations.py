"""HubSpot deals and contacts land with their associations (a deal's buyer and company, a contact's
company) read through the v4 batch endpoint, graded against the sandbox's truth; and the batch
reader on its own against a scripted vendor: chunks of 1,000, per-input paging, errors."""

from __future__ import annotations

import asyncio
import datetime
import json

import dagster as dg
import httpx
import polars as pl
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    BearerAuth,
    CircuitBreaker,
    ExtractResult,
    InMemoryCheckpointStore,
    Pacer,
    PaginationLoop,
    VendorClient,
)
from cdp_platform.http.pagination import Page
from cdp_platform.sandbox.app import create_app, sandbox_stats
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import HUBSPOT_PRIVATE_APP_TOKEN
from cdp_platform.sandbox.faults import FaultProfile
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sources.hubspot import (
    ASSOCIATION_BATCH_LIMIT,
    AssociatedPage,
    AssociationRead,
    associations_context,
    parse_associations,
    read_associations,
    with_associations,
)
from cdp_platform.sources.hubspot.search import extract_search
from cdp_platform_tests.sources.support import SANDBOX_TODAY, dead_letters, ingest, landed, truth_records

PERSONS = 6000  # enough deals in one day (11 on 2026-11-19, one of a buyer entered twice) for several pages
PARTITION = "2026-11-19"
SELECTION = [dg.AssetKey.from_user_string(key) for key in ("raw/hubspot/deals", "raw/hubspot/contacts")]


@pytest.fixture(scope="module")
def truth(tmp_path_factory) -> pl.DataFrame:
    return truth_records(PERSONS, 7, tmp_path_factory.mktemp("truth"))


@pytest.fixture(scope="module")
def declared() -> dict[str, dict[str, list[str]]]:
    """The partition's deals and contacts by id, with the associations the sandbox made them with."""
    config = SandboxConfig(persons=PERSONS, seed=7, today=datetime.date.fromisoformat(SANDBOX_TODAY))
    data = SandboxData(config)
    start = datetime.datetime.fromisoformat(PARTITION).replace(tzinfo=datetime.UTC)
    out = {}
    for stream in ("hubspot/deals", "hubspot/contacts"):
        for position in data.window(stream, start, start + datetime.timedelta(days=1)):
            record = data.record(stream, position)
            out[record["id"]] = {
                k: [t["id"] for t in v["results"]] for k, v in record["associations"].items()
            }
    return out


def buyers(truth: pl.DataFrame) -> dict[str, tuple[str, int]]:
    """Each HubSpot deal's buyer as the truth knows it: the person's first HubSpot contact (a second
    entry of the same person is a duplicate a deal is never filed under), and how many entries the
    person has."""
    contacts = (
        truth.filter(pl.col("stream") == "hubspot/contacts")
        .group_by("person_id")
        .agg(
            pl.col("record_id").cast(pl.Int64).min().cast(pl.String).alias("contact_id"),
            pl.len().alias("entries"),
        )
    )
    deals = truth.filter(pl.col("stream") == "hubspot/deals").join(contacts, on="person_id", how="left")
    return {row["record_id"]: (row["contact_id"], row["entries"]) for row in deals.iter_rows(named=True)}


def _environ(tmp_path) -> dict[str, str]:
    return {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_FAULTS": "none",
        "CDP_HUBSPOT_PAGE_SIZE": "3",  # several pages, so several batch reads per stream
    }


def test_every_deal_row_names_exactly_its_buyer(tmp_path, truth, declared):
    [result] = ingest(_environ(tmp_path), [PARTITION], selection=SELECTION)
    assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]
    lake = tmp_path / "lake"
    truth_buyers = buyers(truth)

    deals = landed(lake, "hubspot/deals", PARTITION)
    # More than two pages of 3 (the web shop's purchases go to Stripe, not to CRM deals, since
    # Stripe joined).
    assert deals.height > 2 * 3 and deals["page"].max() > 2
    assert any(truth_buyers[deal][1] > 1 for deal in deals["record_id"]), "a buyer entered twice is covered"
    for row in deals.iter_rows(named=True):
        payload, context = json.loads(row["payload"]), json.loads(row["context"])
        assert "associations" not in payload, "the payload stays as the search returned it"
        links = context["associations"]
        assert links["contacts"] == [truth_buyers[row["record_id"]][0]], row["record_id"]
        assert links["companies"] == declared[row["record_id"]].get("companies", [])

    contacts = landed(lake, "hubspot/contacts", PARTITION)
    assert contacts.height > 0
    for row in contacts.iter_rows(named=True):
        expected = declared[row["record_id"]].get("companies", [])
        assert json.loads(row["context"]) == {"associations": {"companies": expected}}
    for stream in ("hubspot/deals", "hubspot/contacts"):
        assert not [d for d in dead_letters(lake, stream, PARTITION) if "associations" in d["error"]]


# Every fault the sandbox can put on an association read, at high rates, except slow responses
# (seconds of real waiting each; the raw ingestion storm test covers those end to end).
FAULTS = FaultProfile(
    "associations",
    {
        "rate_limited": 0.15,
        "retry_after_zero": 0.05,
        "http_500": 0.05,
        "http_502": 0.05,
        "http_503": 0.05,
        "http_504": 0.05,
        "cut_connection": 0.1,
        "malformed_record": 0.3,
        "schema_drift": 0.3,
    },
)


def test_associations_read_through_faults_are_exactly_the_sandboxs():
    """Throttling, 5xx, cut connections, ids as numbers, ``toObjectId`` as strings: the reader
    retries or reads through each and returns exactly the links the sandbox's records hold."""
    config = SandboxConfig(persons=2000, seed=7)
    data = SandboxData(config)
    app = create_app(config, faults={"hubspot": FAULTS}, rate_limits=False, data=data)
    deals = [data.record("hubspot/deals", p) for p in range(240)]
    pages = [deals[i : i + 12] for i in range(0, len(deals), 12)]

    async def no_wait(seconds: float) -> None:
        return None

    async def run() -> list[tuple[list[dict], str, AssociationRead]]:
        async with VendorClient(
            "hubspot",
            "http://sandbox.test/hubspot",
            BearerAuth(HUBSPOT_PRIVATE_APP_TOKEN),
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
            sleep=no_wait,
        ) as client:
            return [
                (page, target, await read_associations(client, "deals", target, [d["id"] for d in page]))
                for page in pages
                for target in ("contacts", "companies")
            ]

    for page, target, read in asyncio.run(run()):
        want = {
            d["id"]: [t["id"] for t in d["associations"].get(target, {}).get("results", [])] for d in page
        }
        assert read.links == want
        assert not read.dead_letters
    injected = sandbox_stats(app)["faults"]["hubspot"]
    assert {"malformed_record", "schema_drift", "rate_limited", "cut_connection"} <= set(injected), injected


def test_a_row_keeps_its_record_and_carries_its_links_beside_it():
    record = {"id": "30000000001", "properties": {"amount": "12.00"}}
    links = {"contacts": ["10000000002"], "companies": None}
    page = AssociatedPage({"results": [record]}, {"30000000001": links})
    payload, context = associations_context(record, page, "all")
    assert payload is record
    assert context == {"associations": {"contacts": ["10000000002"], "companies": None}}
    assert associations_context(record, {"results": [record]}, "all") == (record, None)


# ---- the batch reader against a scripted vendor --------------------------------------------------


def scripted_vendor(
    targets: dict[str, list[int]],
    *,
    per_answer: int,
    failing: frozenset[str] = frozenset(),
    loops: dict[str, int] | None = None,
) -> tuple[Starlette, list[dict]]:
    """deals -> contacts batch reads over ``targets``: at most ``per_answer`` targets per input and
    answer (then a per-input ``after``), NO_ASSOCIATIONS_FOUND for inputs without any, and a
    scope error for ``failing`` inputs. ``loops`` maps an input to how many of its continued
    answers (those asked with an ``after``) send back the ``after`` they were asked with."""
    bodies: list[dict] = []
    loops = loops if loops is not None else {}

    async def batch_read(request: Request) -> Response:
        body = await request.json()
        bodies.append(body)
        if len(body["inputs"]) > ASSOCIATION_BATCH_LIMIT:
            return JSONResponse({"status": "error", "category": "VALIDATION_ERROR"}, status_code=400)
        results, errors = [], []
        for item in body["inputs"]:
            record_id, offset = item["id"], int(item.get("after", 0))
            if record_id in failing:
                errors.append({"status": "error", "category": "MISSING_SCOPES", "message": "no scope",
                               "context": {"fromObjectId": [record_id]}})  # fmt: skip
                continue
            linked = targets.get(record_id, [])
            if not linked:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "context": {"fromObjectId": [record_id]}})  # fmt: skip
                continue
            shown = linked[offset : offset + per_answer]
            result = {
                "from": {"id": record_id},
                "to": [{"toObjectId": t, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 3}]}
                       for t in shown],
            }  # fmt: skip
            if offset + per_answer < len(linked):
                result["paging"] = {"next": {"after": str(offset + per_answer), "link": None}}
            if "after" in item and loops.get(record_id, 0) > 0:
                loops[record_id] -= 1
                result["paging"] = {"next": {"after": item["after"], "link": None}}
            results.append(result)
        answer = {"status": "COMPLETE", "results": results}
        if errors:
            answer |= {"numErrors": len(errors), "errors": errors}
        return JSONResponse(answer, status_code=207 if errors else 200)

    route = Route("/crm/v4/associations/deals/contacts/batch/read", batch_read, methods=["POST"])
    return Starlette(routes=[route]), bodies


def scripted_client(app: Starlette) -> VendorClient:
    return VendorClient(
        "hubspot",
        "http://hubspot.test",
        BearerAuth("pat-na1-secret-token"),
        pacer=Pacer("hubspot"),
        transport=httpx.ASGITransport(app=app),
        breaker=CircuitBreaker("hubspot"),
    )


def read_from(app: Starlette, ids: list[str]) -> AssociationRead:
    async def run() -> AssociationRead:
        async with scripted_client(app) as client:
            return await read_associations(
                client, "deals", "contacts", ids, stream="hubspot/deals", partition=PARTITION
            )

    return asyncio.run(run())


def test_reads_in_batches_of_1000_and_follows_each_inputs_paging():
    ids = [str(30_000_000_000 + i) for i in range(1500)]
    targets = {record_id: [10_000_000_000 + i] for i, record_id in enumerate(ids) if i % 10}
    targets[ids[1]] = [1, 2, 3, 4, 5]  # more than one answer holds: three answers for this deal
    app, bodies = scripted_vendor(targets, per_answer=2)
    read = read_from(app, ids)
    assert [len(b["inputs"]) for b in bodies] == [1000, 500, 1, 1]
    assert [b["inputs"] for b in bodies[2:]] == [
        [{"id": ids[1], "after": "2"}],
        [{"id": ids[1], "after": "4"}],
    ]
    assert read.links[ids[1]] == ["1", "2", "3", "4", "5"]
    assert read.links[ids[0]] == [] and read.links[ids[2]] == ["10000000002"]
    assert all(read.links[r] == [str(t) for t in targets.get(r, [])] for r in ids)
    assert not read.dead_letters


def test_an_unexpected_error_leaves_links_unknown_and_a_dead_letter():
    ids = ["30000000001", "30000000002", "30000000003"]
    app, _ = scripted_vendor({"30000000001": [7]}, per_answer=5, failing=frozenset({"30000000002"}))
    read = read_from(app, ids)
    assert read.links == {"30000000001": ["7"], "30000000002": None, "30000000003": []}
    [letter] = read.dead_letters
    assert letter.error == "associations to contacts unread: deals 30000000002"
    assert "MISSING_SCOPES" in letter.body and letter.partition == PARTITION
    assert "pat-na1-secret-token" not in json.dumps(letter.to_dict())


def test_parse_reads_ids_of_either_type_and_treats_absent_inputs_as_none():
    body = {
        "status": "COMPLETE",
        "results": [
            {"from": {"id": 30000000001}, "to": [{"toObjectId": "10000000001"}, {"toObjectId": 10000000001}]},
            {"from": {}, "to": [{"toObjectId": 1}]},
        ],
        "errors": [{"status": "error", "category": "RATE_LIMITS", "message": "try later"}],
    }
    batch = parse_associations(body, ["30000000001", "30000000002"])
    assert batch.linked == {"30000000001": ["10000000001"]}
    # An error naming no input concerns every asked input it did not answer.
    assert set(batch.failed) == {"30000000002"}
    assert parse_associations({"status": "COMPLETE", "results": []}, ["1"]).linked == {}


def test_a_repeated_cursor_is_asked_again_and_the_links_are_read_exactly():
    """A vendor repeating a record's ``after`` once or twice (a glitch of an answer): the reader asks
    for that record's page again and gets every link, rather than stopping with some missing."""
    ids = ["30000000001", "30000000002"]
    targets = {"30000000001": [1, 2, 3, 4, 5], "30000000002": [6, 7, 8]}
    app, bodies = scripted_vendor(targets, per_answer=2, loops={"30000000001": 2, "30000000002": 1})
    read = read_from(app, ids)
    assert read.links == {"30000000001": ["1", "2", "3", "4", "5"], "30000000002": ["6", "7", "8"]}
    assert not read.dead_letters
    # The first answer, the looping continuations asked again (twice, once), then the rest.
    assert [b["inputs"] for b in bodies[1:]] == [
        [{"id": "30000000001", "after": "2"}, {"id": "30000000002", "after": "2"}],
        [{"id": "30000000001", "after": "2"}, {"id": "30000000002", "after": "2"}],
        [{"id": "30000000001", "after": "2"}],
        [{"id": "30000000001", "after": "4"}],
    ]


def test_an_association_loop_fails_the_stream_and_the_next_run_completes_the_links_exactly():
    """Deals searched in pages of 2, each page's contacts read through the batch endpoint. Deal 3
    (on search page 2) has 5 contacts, and its continued answers send the same ``after`` back three
    times: after two re-asks the loop is real. Stopping there would land deal 3 with 2 of its 5
    contacts and a green run; instead the stream fails with PaginationLoop at search page 2, which is
    not checkpointed, and the next run resumes at it and lands every deal once with all its links."""
    deals = [str(30_000_000_001 + i) for i in range(5)]
    targets = {deal: [10_000_000_001 + i] for i, deal in enumerate(deals)}
    targets[deals[2]] = [1, 2, 3, 4, 5]
    batch, _ = scripted_vendor(targets, per_answer=2, loops={deals[2]: 3})
    searched: list[int] = []

    async def search(request: Request) -> Response:
        body = await request.json()
        after, limit = int(body.get("after") or 0), int(body["limit"])
        searched.append(after)
        shown = [{"id": deal, "properties": {}} for deal in deals[after : after + limit]]
        answer: dict = {"total": len(deals), "results": shown}
        if after + limit < len(deals):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(answer)

    async def no_companies(request: Request) -> Response:
        return JSONResponse({"status": "COMPLETE", "results": []})  # inputs left out: none

    routes = [
        Route("/crm/v3/objects/deals/search", search, methods=["POST"]),
        Route("/crm/v4/associations/deals/companies/batch/read", no_companies, methods=["POST"]),
        *batch.routes,
    ]
    vendor = Starlette(routes=routes)
    store = InMemoryCheckpointStore()
    spool: dict[tuple[str, int], dict[str, list[str] | None]] = {}

    async def keep(page: Page) -> None:
        assert isinstance(page.body, AssociatedPage)
        spool[(page.part, page.number)] = {
            d: page.body.associations[d]["contacts"] for d in page.body.associations
        }

    async def run() -> ExtractResult:
        async with scripted_client(vendor) as client:
            on_page = with_associations(keep, client, "deals", stream="hubspot/deals", partition=PARTITION)
            return await extract_search(
                client,
                "deals",
                datetime.datetime(2026, 11, 18, tzinfo=datetime.UTC),
                datetime.datetime(2026, 11, 19, tzinfo=datetime.UTC),
                checkpoint_store=store,
                checkpoint_key="hubspot/deals/2026-11-18",
                on_page=on_page,
                limit=2,
                stream="hubspot/deals",
                partition=PARTITION,
            )

    with pytest.raises(PaginationLoop) as raised:
        asyncio.run(run())
    loop = raised.value
    assert (loop.stream, loop.partition, loop.page, loop.retries) == ("hubspot/deals", PARTITION, 2, 2)
    assert deals[2] in loop.cursor and "deals/contacts" in loop.cursor
    assert "pat-na1-secret-token" not in str(loop)
    assert [number for _, number in sorted(spool)] == [1]  # page 2 is neither spooled nor checkpointed

    searched.clear()
    result = asyncio.run(run())
    assert result.resumed and result.complete and searched == [2, 4]  # planned before: pages 2 and 3
    landed = [links for _, page in sorted(spool.items()) for links in page.items()]
    assert [deal for deal, _ in landed] == deals  # every deal once
    assert dict(landed) == {deal: [str(t) for t in targets[deal]] for deal in deals}
