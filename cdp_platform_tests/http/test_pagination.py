"""Paginators: end conditions, loop guards, dead letters and resuming from a saved state."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    CircuitBreaker,
    CursorInBody,
    NextUrl,
    Offset,
    Pacer,
    PageToken,
    PaginationLoop,
    RequestSpec,
    VendorClient,
    paginator_from_config,
)
from cdp_platform.http.pagination import Page, Paginator
from cdp_platform.sources.graph_auth import GraphTokenAuth

from .conftest import SleepRecorder

# The mechanisms, parameterized the way the sources declare them (vendor-shaped bodies below).


def SalesforceNextRecordsUrl() -> NextUrl:
    return NextUrl("records", url_path="nextRecordsUrl", done_path="done", id_field="Id")


def HubSpotAfterCursor() -> CursorInBody:
    return CursorInBody("results", cursor_path="paging.next.after", cursor_param="after")


def OffsetRowCount() -> Offset:
    return Offset("rows", total_path="rowCount", id_field=None)


def GraphNextLink() -> NextUrl:
    return NextUrl("data", url_path="paging.next")


def TwitterNextToken(token_param: str = "pagination_token") -> PageToken:
    return PageToken("data", token_path="meta.next_token", token_param=token_param, errors_path="errors")


def client_for(app: Starlette, base: str = "http://vendor.test/prefix", auth=None) -> VendorClient:
    return VendorClient(
        "vendor",
        base,
        auth=auth,
        pacer=Pacer("vendor"),
        transport=httpx.ASGITransport(app=app),
        breaker=CircuitBreaker("vendor"),
        sleep=SleepRecorder(),
    )


def collect(app: Starlette, paginator: Paginator, first: RequestSpec, state=None, **kw) -> list[Page]:
    async def run():
        async with client_for(app, **kw) as client:
            return [
                page async for page in paginator.pages(client, first, state=state, stream="s", partition="p")
            ]

    return asyncio.run(run())


def collect_until_loop(
    app: Starlette, paginator: Paginator, first: RequestSpec, **kw
) -> tuple[list[Page], PaginationLoop]:
    """The pages handed on before the paginator gave up on a loop, and the error it raised."""
    pages: list[Page] = []

    async def run():
        async with client_for(app, **kw) as client:
            async for page in paginator.pages(client, first, stream="s", partition="p"):
                pages.append(page)

    with pytest.raises(PaginationLoop) as raised:
        asyncio.run(run())
    return pages, raised.value


def ids(pages: list[Page]) -> list[str]:
    return [str(record.get("id") or record.get("Id")) for page in pages for record in page.records]


# Salesforce ------------------------------------------------------------------------------------


def salesforce_app(pages: dict[str, dict[str, Any]]) -> tuple[Starlette, list[str]]:
    seen: list[str] = []

    async def query(request: Request) -> Response:
        seen.append(request.url.path)
        return JSONResponse(pages["first"])

    async def more(request: Request) -> Response:
        seen.append(request.url.path)
        return JSONResponse(pages[request.path_params["locator"]])

    routes = [
        Route("/prefix/services/data/v62.0/query", query),
        Route("/prefix/services/data/v62.0/query/{locator}", more),
    ]
    return Starlette(routes=routes), seen


def sf_records(*record_ids: str) -> list[dict]:
    return [
        {"attributes": {"type": "Account", "url": f"/x/{i}"}, "Id": i, "Name": f"n{i}"} for i in record_ids
    ]


def test_salesforce_follows_next_records_url_until_done_and_resumes():
    pages = {
        "first": {
            "totalSize": 5,
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/01g-2",
            "records": sf_records("1", "2"),
        },
        "01g-2": {
            "totalSize": 5,
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/01g-4",
            "records": sf_records("3", "4"),
        },
        "01g-4": {"totalSize": 5, "done": True, "records": sf_records("5")},
    }
    app, seen = salesforce_app(pages)
    first = RequestSpec("GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM Account"})
    result = collect(app, SalesforceNextRecordsUrl(), first)
    assert ids(result) == ["1", "2", "3", "4", "5"]
    assert [p.state for p in result] == [
        {"next_url": "/services/data/v62.0/query/01g-2"},
        {"next_url": "/services/data/v62.0/query/01g-4"},
        None,
    ]
    assert result[-1].done and result[-1].complete and not result[0].done
    # The path is appended to the base URL with its prefix.
    assert seen[1] == "/prefix/services/data/v62.0/query/01g-2"

    resumed = collect(app, SalesforceNextRecordsUrl(), first, state=result[0].state)
    assert ids(resumed) == ["3", "4", "5"]


def test_salesforce_loop_back_to_a_seen_url_fails_before_the_looping_page():
    pages = {
        "first": {
            "done": False,
            "nextRecordsUrl": "/services/data/v62.0/query/A",
            "records": sf_records("1"),
        },
        "A": {"done": False, "nextRecordsUrl": "/services/data/v62.0/query/B", "records": sf_records("2")},
        "B": {"done": False, "nextRecordsUrl": "/services/data/v62.0/query/A", "records": sf_records("3")},
    }
    app, seen = salesforce_app(pages)
    result, loop = collect_until_loop(
        app, SalesforceNextRecordsUrl(), RequestSpec("GET", "/services/data/v62.0/query")
    )
    # The looping page is asked for twice more before the loop is believed; then it is not handed
    # on (its state stays the last one saved), and nothing says the stream ended.
    assert ids(result) == ["1", "2"] and len(seen) == 5
    assert not any(page.done for page in result)
    assert result[-1].state == {"next_url": "/services/data/v62.0/query/B"}
    assert (loop.stream, loop.partition, loop.page, loop.retries) == ("s", "p", 3, 2)
    assert "query/A" in loop.cursor and "the next run resumes at page 3" in str(loop)


# HubSpot --------------------------------------------------------------------------------------


def hubspot_app(cursors: dict[str | None, tuple[list[str], str | None]]) -> tuple[Starlette, list[Any]]:
    requests: list[Any] = []

    def answer(after: str | None) -> Response:
        record_ids, following = cursors[after]
        body: dict[str, Any] = {"total": 99, "results": [{"id": i, "properties": {}} for i in record_ids]}
        if following is not None:
            body["paging"] = {"next": {"after": following, "link": "ignored"}}
        return JSONResponse(body)

    async def list_objects(request: Request) -> Response:
        requests.append(dict(request.query_params))
        return answer(request.query_params.get("after"))

    async def search(request: Request) -> Response:
        body = await request.json()
        requests.append(body)
        return answer(body.get("after"))

    routes = [
        Route("/prefix/crm/v3/objects/contacts", list_objects),
        Route("/prefix/crm/v3/objects/contacts/search", search, methods=["POST"]),
    ]
    return Starlette(routes=routes), requests


def test_hubspot_list_get_puts_after_in_the_query_and_stops_when_paging_is_absent():
    app, requests = hubspot_app({None: (["1", "2"], "c2"), "c2": (["3"], "c3"), "c3": (["4"], None)})
    first = RequestSpec("GET", "/crm/v3/objects/contacts", params={"limit": 2, "archived": "false"})
    result = collect(app, HubSpotAfterCursor(), first)
    assert ids(result) == ["1", "2", "3", "4"]
    assert requests[1] == {"limit": "2", "archived": "false", "after": "c2"}
    assert result[-1].complete and not any(p.warnings for p in result)


def test_hubspot_search_post_puts_after_in_the_body_and_resumes_from_state():
    app, requests = hubspot_app({None: (["1"], "c2"), "c2": (["2"], "c3"), "c3": (["3"], None)})
    first = RequestSpec("POST", "/crm/v3/objects/contacts/search", json={"limit": 1, "filterGroups": []})
    result = collect(app, HubSpotAfterCursor(), first, state={"after": "c2"})
    assert ids(result) == ["2", "3"]
    assert requests[0] == {"limit": 1, "filterGroups": [], "after": "c2"}


def test_hubspot_repeated_cursor_fails_the_stream_rather_than_ending_it():
    app, requests = hubspot_app({None: (["1"], "same"), "same": (["2"], "same")})
    result, loop = collect_until_loop(
        app, HubSpotAfterCursor(), RequestSpec("GET", "/crm/v3/objects/contacts")
    )
    assert ids(result) == ["1"] and len(requests) == 4
    assert loop.page == 2 and '"same"' in loop.cursor and "pagination loop" in str(loop)


def test_a_cursor_repeated_once_is_asked_again_and_paging_goes_on():
    """A vendor glitch: the second page repeats the first cursor once; asking again gets the right one."""
    answers = iter([("c1",), ("c1",), ("c2",)])
    requests: list[Any] = []

    async def list_objects(request: Request) -> Response:
        after = request.query_params.get("after")
        requests.append(after)
        if after is None:
            return JSONResponse({"results": [{"id": "1"}], "paging": {"next": {"after": "c1"}}})
        if after == "c1":
            (following,) = next(answers)
            return JSONResponse({"results": [{"id": "2"}], "paging": {"next": {"after": following}}})
        return JSONResponse({"results": [{"id": "3"}]})

    app = Starlette(routes=[Route("/prefix/crm/v3/objects/contacts", list_objects)])
    result = collect(app, HubSpotAfterCursor(), RequestSpec("GET", "/crm/v3/objects/contacts"))
    assert ids(result) == ["1", "2", "3"]
    assert requests == [None, "c1", "c1", "c1", "c2"]
    assert result[-1].complete and not any(w for page in result for w in page.warnings)


def test_empty_page_that_still_carries_a_cursor_stops_with_a_warning():
    app, requests = hubspot_app({None: (["1"], "c2"), "c2": ([], "c3"), "c3": (["never"], None)})
    result = collect(app, HubSpotAfterCursor(), RequestSpec("GET", "/crm/v3/objects/contacts"))
    assert ids(result) == ["1"] and len(requests) == 2
    assert result[-1].done and result[-1].complete
    assert "empty page still carries a cursor" in result[-1].warnings[0]


def test_records_without_id_become_dead_letters_and_the_page_goes_on():
    async def endpoint(request: Request) -> Response:
        return JSONResponse(
            {"results": [{"id": "1"}, {"properties": {"email": "a@b.c"}}, {"id": ""}, "junk"]}
        )

    app = Starlette(routes=[Route("/prefix/crm/v3/objects/contacts", endpoint)])
    (page,) = collect(app, HubSpotAfterCursor(), RequestSpec("GET", "/crm/v3/objects/contacts"))
    assert ids([page]) == ["1"]
    assert [d.error for d in page.dead_letters] == [
        "record has no id",
        "record has no id",
        "record is a str, not an object",
    ]
    letter = page.dead_letters[0]
    assert letter.stream == "s" and letter.partition == "p" and "a@b.c" in letter.body
    assert letter.request["url"] == "http://vendor.test/prefix/crm/v3/objects/contacts"


def test_a_body_that_is_not_json_is_fetched_again_then_dead_lettered_and_the_run_stops_resumable():
    calls = {"n": 0}

    async def endpoint(request: Request) -> Response:
        calls["n"] += 1
        if request.query_params.get("after") == "c2":
            return PlainTextResponse("<html>gateway hiccup</html>" + "x" * 40_000)
        return JSONResponse({"results": [{"id": "1"}], "paging": {"next": {"after": "c2"}}})

    app = Starlette(routes=[Route("/prefix/crm/v3/objects/contacts", endpoint)])
    result = collect(app, HubSpotAfterCursor(), RequestSpec("GET", "/crm/v3/objects/contacts"))
    assert calls["n"] == 3  # page 1, then the bad page twice
    last = result[-1]
    assert last.done and not last.complete and last.state == {"after": "c2"}
    (letter,) = last.dead_letters
    assert letter.error.startswith("response is not JSON")
    assert letter.body_chars > 40_000 and len(letter.body) < 17_000 and "truncated" in letter.body


# GA4 offsets ----------------------------------------------------------------------------------


def ga4_app(row_count: int) -> tuple[Starlette, list[dict]]:
    bodies: list[dict] = []

    async def run_report(request: Request) -> Response:
        body = await request.json()
        bodies.append(body)
        offset, limit = int(body["offset"]), int(body["limit"])
        rows = [
            {"dimensionValues": [{"value": str(i)}], "metricValues": [{"value": "1"}]}
            for i in range(offset, min(offset + limit, row_count))
        ]
        answer: dict[str, Any] = {"dimensionHeaders": [{"name": "date"}], "kind": "analyticsData#runReport"}
        if row_count:
            answer |= {"rows": rows, "rowCount": row_count}
        return JSONResponse(answer)

    return Starlette(
        routes=[Route("/prefix/v1beta/properties/42:runReport", run_report, methods=["POST"])]
    ), bodies


def test_ga4_steps_offset_by_limit_until_row_count_keeping_string_types():
    app, bodies = ga4_app(row_count=25)
    first = RequestSpec("POST", "/v1beta/properties/42:runReport", json={"offset": "0", "limit": "10"})
    result = collect(app, OffsetRowCount(), first)
    assert sum(len(p.records) for p in result) == 25
    assert [b["offset"] for b in bodies] == ["0", "10", "20"]
    assert [p.state for p in result] == [{"offset": 10}, {"offset": 20}, None]
    resumed = collect(app, OffsetRowCount(), first, state={"offset": 20})
    assert sum(len(p.records) for p in resumed) == 5


def test_ga4_empty_report_has_no_rows_and_no_row_count():
    app, bodies = ga4_app(row_count=0)
    first = RequestSpec("POST", "/v1beta/properties/42:runReport", json={"offset": "0", "limit": "10"})
    (page,) = collect(app, OffsetRowCount(), first)
    assert page.records == [] and page.done and page.complete and len(bodies) == 1


# Graph ----------------------------------------------------------------------------------------


def graph_app(link_for: dict[str, str | None]) -> tuple[Starlette, list[httpx.URL]]:
    seen: list[httpx.URL] = []

    async def posts(request: Request) -> Response:
        seen.append(httpx.URL(str(request.url)))
        page = request.query_params.get("after", "p1")
        following = link_for[page]
        body: dict[str, Any] = {
            "data": [{"id": f"{page}-{i}"} for i in range(2)],
            "paging": {"cursors": {"before": "b", "after": page}},
        }
        if following is not None:
            body["paging"]["next"] = following
        return JSONResponse(body)

    return Starlette(routes=[Route("/v21.0/123/posts", posts)]), seen


def test_graph_follows_full_next_urls_without_storing_the_token():
    token = "EAAGsecretTOKEN123456"
    base = "http://graph.test/v21.0"
    app, seen = graph_app(
        {
            "p1": f"{base}/123/posts?limit=2&after=p2&access_token={token}",
            "p2": f"{base}/123/posts?access_token={token}&limit=2&after=p3",
            "p3": None,
        }
    )
    first = RequestSpec("GET", "/123/posts", params={"limit": 2})
    result = collect(app, GraphNextLink(), first, base=base, auth=GraphTokenAuth(token))
    assert ids(result) == ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0", "p3-1"]
    assert result[0].state == {"next_url": f"{base}/123/posts?limit=2&after=p2"}
    assert all(token not in str(p.state) for p in result)
    # The current token is added back when the link is followed, exactly once.
    assert all(url.params.get_list("access_token") == [token] for url in seen)


def test_graph_link_back_to_the_first_page_is_a_loop():
    base = "http://graph.test/v21.0"
    app, seen = graph_app({"p1": f"{base}/123/posts?limit=2&access_token=t0k3n_value"})
    result, loop = collect_until_loop(
        app, GraphNextLink(), RequestSpec("GET", "/123/posts", params={"limit": 2}), base=base
    )
    assert len(seen) == 3 and result == [] and loop.page == 1
    # The redacted link: the token in the vendor's next link is in neither the cursor nor the text.
    assert "t0k3n_value" not in str(loop) and "/123/posts" in loop.cursor


# Twitter --------------------------------------------------------------------------------------


def twitter_app(param: str) -> tuple[Starlette, list[dict]]:
    requests: list[dict] = []
    tokens = {None: ("t2", ["1", "2"]), "t2": ("t3", ["3"]), "t3": (None, [])}

    async def endpoint(request: Request) -> Response:
        requests.append(dict(request.query_params))
        following, record_ids = tokens[request.query_params.get(param)]
        meta: dict[str, Any] = {"result_count": len(record_ids)}
        if following:
            meta["next_token"] = following
        body: dict[str, Any] = {"meta": meta}
        if record_ids:
            body["data"] = [{"id": i, "text": "hi", "edit_history_tweet_ids": [i]} for i in record_ids]
        if request.query_params.get(param) == "t2":
            body["errors"] = [
                {
                    "value": "9",
                    "detail": "Could not find user",
                    "title": "Not Found Error",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        return JSONResponse(body)

    routes = [
        Route("/prefix/2/users/{uid}/mentions", endpoint),
        Route("/prefix/2/tweets/search/recent", endpoint),
    ]
    return Starlette(routes=routes), requests


@pytest.mark.parametrize(
    ("path", "param"),
    [("/2/users/7/mentions", "pagination_token"), ("/2/tweets/search/recent", "next_token")],
)
def test_twitter_next_token_goes_back_as_the_endpoint_parameter(path, param):
    app, requests = twitter_app(param)
    result = collect(
        app, TwitterNextToken(token_param=param), RequestSpec("GET", path, params={"max_results": 10})
    )
    assert ids(result) == ["1", "2", "3"]
    assert requests[1] == {"max_results": "10", param: "t2"}
    assert result[1].warnings == ["partial result: 1 errors (Not Found Error)"]
    assert result[-1].done and result[-1].records == []


def test_paginators_are_built_from_configuration():
    paginator = paginator_from_config(
        {
            "type": "page_token",
            "record_path": "data",
            "token_path": "meta.next_token",
            "token_param": "next_token",
        }
    )
    assert isinstance(paginator, PageToken) and paginator.token_param == "next_token"
    assert isinstance(
        paginator_from_config({"type": "offset", "record_path": "rows", "total_path": "rowCount"}), Offset
    )
    with pytest.raises(ValueError, match="unknown paginator type"):
        paginator_from_config({"type": "link_header"})
    with pytest.raises(ValueError, match=r"paginator 'next_url': .*url_path"):
        paginator_from_config({"type": "next_url", "record_path": "data"})
