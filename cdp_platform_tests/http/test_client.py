"""VendorClient basics: URL joining, TLS verification settings, stats and request hooks."""

from __future__ import annotations

import asyncio
import ssl

import certifi
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import CircuitBreaker, ClientStats, Pacer, RequestSpec, VendorClient
from cdp_platform.http.client import _ssl_verify

from .conftest import SleepRecorder


def test_paths_are_appended_to_a_prefixed_base_and_absolute_urls_kept():
    client = VendorClient("hubspot", "http://127.0.0.1:8500/hubspot/", pacer=Pacer("hubspot"))
    assert (
        client.url_for("/crm/v3/objects/contacts") == "http://127.0.0.1:8500/hubspot/crm/v3/objects/contacts"
    )
    assert client.url_for("crm/v3/objects") == "http://127.0.0.1:8500/hubspot/crm/v3/objects"
    assert client.url_for("https://graph.facebook.com/v21.0/1/posts?after=x") == (
        "https://graph.facebook.com/v21.0/1/posts?after=x"
    )
    asyncio.run(client.aclose())


def test_verify_accepts_a_ca_bundle_path_and_never_turns_verification_off():
    assert isinstance(_ssl_verify(certifi.where()), ssl.SSLContext)
    assert _ssl_verify(None).verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ValueError, match="CDP_CA_BUNDLE"):
        _ssl_verify(False)


def test_stats_percentiles_and_snapshot():
    stats = ClientStats(latencies=[0.1 * i for i in range(1, 21)])
    assert stats.p50() == pytest.approx(1.0)
    assert stats.p95() == pytest.approx(1.9)
    assert ClientStats().p95() is None
    assert set(stats.snapshot()) >= {"requests", "retries", "responses_429", "errors", "quota_wait_s"}


def test_hooks_see_every_exchange_including_retries_and_a_failing_hook_does_not_break_requests():
    calls = {"n": 0}

    async def flaky(request: Request) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("busy", status_code=503)
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/x", flaky)])
    records = []

    def broken_hook(record):
        raise RuntimeError("exporter down")

    async def run():
        async with VendorClient(
            "ga4",
            "http://ga.test",
            pacer=Pacer("ga4"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("ga4"),
            sleep=SleepRecorder(),
            hooks=[records.append, broken_hook],
        ) as client:
            response = await client.send(RequestSpec("GET", "/x"))
            return response, client.stats

    response, stats = asyncio.run(run())
    assert response.status_code == 200
    assert [(r.attempt, r.status) for r in records] == [(1, 503), (2, 200)]
    assert stats.requests == 2 and stats.retries == 1 and stats.errors == {"http_503": 1}
    assert len(stats.latencies) == 2
