"""Comment streams list their parents first: a parent without an id must not hide its comments."""

import asyncio
import datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cdp_platform.http import VendorClient
from cdp_platform.http.breaker import CircuitBreaker
from cdp_platform.http.pacing import Pacer
from cdp_platform.sources.graph import ParentListingError, parent_ids
from cdp_platform.sources.stream import StreamContext, Window


def _listing_app(answers: list[list[dict]]) -> tuple[Starlette, list[int]]:
    calls: list[int] = []

    async def posts(request: Request) -> JSONResponse:
        calls.append(1)
        return JSONResponse({"data": answers[min(len(calls), len(answers)) - 1]})

    return Starlette(routes=[Route("/v21.0/page/posts", posts)]), calls


def _ids(app: Starlette) -> list[str]:
    async def run() -> list[str]:
        client = VendorClient(
            "facebook-test",
            "http://graph.test",
            transport=httpx.ASGITransport(app=app),
            pacer=Pacer("facebook-test"),
            breaker=CircuitBreaker("facebook-test"),
        )
        start = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
        ctx = StreamContext(client, Window("2026-11-20", start, start + datetime.timedelta(days=1)), {})
        try:
            return await parent_ids(ctx, "page", "posts")
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_parent_without_id_is_asked_again():
    app, calls = _listing_app([[{"id": "p1"}, {"message": "no id"}], [{"id": "p1"}, {"id": "p2"}]])
    assert _ids(app) == ["p1", "p2"]
    assert len(calls) == 2


def test_a_persistent_parent_without_id_fails_the_stream():
    app, calls = _listing_app([[{"id": "p1"}, {"message": "no id"}]])
    with pytest.raises(ParentListingError, match="1 record\\(s\\) without an id in 3 listings"):
        _ids(app)
    assert len(calls) == 3
