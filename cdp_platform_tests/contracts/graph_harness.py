"""Running one Graph stream request against recorded pages, through the platform's own parts."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

import httpx
import polars as pl

from cdp_platform.http import (
    CircuitBreaker,
    FacebookPacer,
    FacebookTokenAuth,
    InMemoryCheckpointStore,
    RequestSpec,
    VendorClient,
    extract,
)
from cdp_platform.sources.stream import Stream, Window, finalize_rows, page_rows

TOKEN = "page-token-of-the-test"
APP_SECRET = "app-secret-of-the-test"


def run_graph(
    stream: Stream,
    first: RequestSpec,
    answer: Callable[[httpx.Request], httpx.Response],
    slice_name: str = "all",
):
    """(extract result, requests seen, final raw rows, pages) of ``first`` and the pages it links to."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = VendorClient(
        "facebook",
        "https://graph.facebook.com",
        FacebookTokenAuth(TOKEN, app_secret=APP_SECRET),
        FacebookPacer(),
        transport=httpx.MockTransport(record),
        breaker=CircuitBreaker("graph-contract"),
    )
    start = datetime.datetime(2021, 8, 10, tzinfo=datetime.UTC)
    window = Window("2021-08-10", start, start + datetime.timedelta(days=1))
    frames: list[pl.DataFrame] = []
    pages = []

    async def run():
        async def on_page(page):
            pages.append(page)
            frames.append(page_rows(stream, page, window, slice_name))

        try:
            return await extract(
                client,
                stream.paginator(),
                first,
                checkpoint_store=InMemoryCheckpointStore(),
                checkpoint_key=f"{stream.source}/{stream.name}",
                on_page=on_page,
            )
        finally:
            await client.aclose()

    result = asyncio.run(run())
    return result, seen, finalize_rows(frames), pages
