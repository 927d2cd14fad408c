"""Recorded vendor answers (VCR cassettes, documented example bodies) served to the real client.

A cassette is read as recorded: the response body is decoded only as far as the recording encoded
it (gzip for tweepy's), never edited. ``MockTransport`` answers each request with the recording
whose method and path match, so the platform's own client, paginator, pacer and error handling
run exactly as against the vendor.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import polars as pl
import yaml

from cdp_platform.http import (
    Auth,
    CircuitBreaker,
    ExtractResult,
    InMemoryCheckpointStore,
    Pacer,
    Page,
    Paginator,
    RequestSpec,
    VendorClient,
    extract,
)
from cdp_platform.sources.stream import OnPage, Stream, Window, finalize_rows, page_rows

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Recording:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def response(self) -> httpx.Response:
        # The body is handed over decoded, so the recorded content-encoding/length no longer apply.
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in {"content-encoding", "content-length"}
        }
        return httpx.Response(self.status, headers=headers, content=self.body)


def cassette(path: Path) -> list[Recording]:
    """The interactions of a VCR (vcrpy) cassette."""
    document = yaml.safe_load(path.read_bytes())
    recordings = []
    for interaction in document["interactions"]:
        response = interaction["response"]
        headers = {name: values[-1] for name, values in response["headers"].items()}
        body = response["body"]["string"]
        if isinstance(body, str):
            body = body.encode()
        if body[:2] == b"\x1f\x8b":  # gzip as recorded (vcrpy keeps some bodies compressed, some not)
            body = gzip.decompress(body)
        recordings.append(
            Recording(
                interaction["request"]["method"],
                interaction["request"]["uri"],
                response["status"]["code"],
                headers,
                body,
            )
        )
    return recordings


def saved(path: Path, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A saved answer body (a JSON file as the repository holds it), served as is."""
    return httpx.Response(
        status, content=path.read_bytes(), headers={"content-type": "application/json", **(headers or {})}
    )


def day_window(day: str) -> Window:
    start = datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC)
    return Window(day, start, start + datetime.timedelta(days=1))


@dataclass
class Served:
    """A client whose requests are answered by ``answer`` (recorded bodies), and what it was asked."""

    client: VendorClient
    seen: list[httpx.Request] = field(default_factory=list)


def served(
    vendor: str,
    base_url: str,
    auth: Auth,
    pacer: Pacer,
    answer: Callable[[httpx.Request], httpx.Response],
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Served:
    """The platform's own ``VendorClient`` (retry, breaker, redaction) over a transport serving ``answer``."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = VendorClient(
        vendor,
        base_url,
        auth,
        pacer,
        transport=httpx.MockTransport(record),
        breaker=CircuitBreaker(f"{vendor}-contract"),
        **({"sleep": sleep} if sleep is not None else {}),
    )
    return Served(client, seen)


@dataclass
class Landed:
    """What one stream's extraction made of the served answers."""

    result: ExtractResult
    rows: pl.DataFrame
    pages: list[Page]


def land(
    client: VendorClient,
    stream: Stream,
    window: Window,
    fetch: Callable[[OnPage], Awaitable[ExtractResult]],
    slice_name: str = "all",
) -> Landed:
    """Run ``fetch`` (an extraction handed the ``on_page`` to call) and make each page raw rows, as
    the raw assets do; the client is closed afterwards."""
    frames: list[pl.DataFrame] = []
    pages: list[Page] = []

    async def on_page(page: Page) -> None:
        pages.append(page)
        frames.append(page_rows(stream, page, window, slice_name))

    async def run() -> ExtractResult:
        try:
            return await fetch(on_page)
        finally:
            await client.aclose()

    result = asyncio.run(run())
    return Landed(result, finalize_rows(frames), pages)


def land_pages(
    client: VendorClient,
    stream: Stream,
    window: Window,
    first: RequestSpec,
    slice_name: str = "all",
    paginator: Paginator | None = None,
) -> Landed:
    """``first`` and every page its paginator (the stream's own unless given) leads to."""

    def fetch(on_page: OnPage) -> Awaitable[ExtractResult]:
        return extract(
            client,
            paginator or stream.paginator(),
            first,
            checkpoint_store=InMemoryCheckpointStore(),
            checkpoint_key=f"{stream.source}/{stream.name}/{window.partition}",
            on_page=on_page,
        )

    return land(client, stream, window, fetch, slice_name)
