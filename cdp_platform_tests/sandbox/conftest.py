"""Fixtures for the sandbox's HTTP tests: one shared SandboxData, apps on a manual clock, clients.

Apps are served in process through ``httpx.ASGITransport``; the real-port tests start uvicorn in
a thread (see ``serve_on_port``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.app import create_app
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform_tests.support.servers import serve_asgi

CONFIG = SandboxConfig(persons=2000, seed=7)


class ManualClock:
    """A clock tests move by hand, so quota windows and token expiry are exact and repeatable."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def data() -> SandboxData:
    return SandboxData(CONFIG)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_client(data: SandboxData, clock: ManualClock):
    """``async with make_client(**create_app_options) as client`` → an AsyncClient on a fresh app."""

    @contextlib.asynccontextmanager
    async def factory(**options: Any) -> AsyncIterator[httpx.AsyncClient]:
        options.setdefault("clock", clock)
        app = create_app(CONFIG, data=data, **options)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client

    return factory


@pytest.fixture
async def client(make_client) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


async def salesforce_token(client: httpx.AsyncClient) -> dict:
    response = await client.post(
        "/salesforce/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.SALESFORCE_CLIENT_ID,
            "client_secret": creds.SALESFORCE_CLIENT_SECRET,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


HUBSPOT = {"Authorization": f"Bearer {creds.HUBSPOT_PRIVATE_APP_TOKEN}"}
GA4 = {"Authorization": f"Bearer {creds.GA4_ACCESS_TOKEN}"}
GRAPH = {"Authorization": f"Bearer {creds.FACEBOOK_ACCESS_TOKEN}"}
TWITTER = {"Authorization": f"Bearer {creds.TWITTER_BEARER_TOKEN}"}


@contextlib.contextmanager
def serve_on_port(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yield its root URL."""
    import logging

    from cdp_platform.sandbox.cli import _HideInjectedCuts

    logging.getLogger("uvicorn.error").addFilter(_HideInjectedCuts())
    with serve_asgi(app, log_level="warning") as url:
        yield url
