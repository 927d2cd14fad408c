"""The sandbox's one ASGI app: the vendor APIs under their own prefixes, with quotas and faults.

Base URLs a connector is configured with: ``{root}/salesforce`` (login and instance URL),
``{root}/hubspot``, ``{root}/ga4``, ``{root}/facebook`` and ``{root}/instagram`` (both the Graph API,
``/v21.0/...`` below them), ``{root}/twitter``, ``{root}/stripe``. Below a prefix every path is the vendor's own.

The app is served in process (``httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(...)))``)
or on a port by ``cdp-sandbox serve``. ``GET /_sandbox/stats`` (or :func:`sandbox_stats`) reports
request counts, injected faults and quota rejections per vendor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import SandboxCredentials, TokenSigner
from cdp_platform.sandbox.faults import (
    FaultInjector,
    FaultMiddleware,
    FaultSpec,
    SandboxStats,
)
from cdp_platform.sandbox.ratelimit import Clock, RateLimiter, RateLimitSettings, system_clock
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.common import SandboxState, VendorApi, json_response
from cdp_platform.sandbox.vendors.ga4 import GA4
from cdp_platform.sandbox.vendors.graph import Graph
from cdp_platform.sandbox.vendors.hubspot import HubSpot
from cdp_platform.sandbox.vendors.salesforce import Salesforce
from cdp_platform.sandbox.vendors.stripe import Stripe
from cdp_platform.sandbox.vendors.twitter import Twitter

STATS_PATH = "/_sandbox/stats"


def create_app(
    config: SandboxConfig,
    faults: FaultSpec = "none",
    rate_limits: bool | RateLimitSettings = True,
    time_scale: float = 1.0,
    credentials: SandboxCredentials | None = None,
    *,
    data: SandboxData | None = None,
    clock: Clock = system_clock,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    latency: float = 0.0,
) -> Starlette:
    """Build the sandbox app.

    ``faults``: a profile name (``"none"``, ``"storm"``) or a :class:`FaultProfile` with custom rates, for
    every vendor; or a mapping from vendor (``salesforce``, ``hubspot``, ``ga4``, ``facebook``,
    ``instagram``, ``twitter``, ``stripe``) to a profile, vendors left out getting ``none``.
    ``rate_limits``: False turns quotas off; a :class:`RateLimitSettings` changes them.
    ``time_scale``: divides every quota window (100 makes HubSpot's ten seconds a tenth of a second).
    ``data``: a prebuilt SandboxData for ``config`` (building one is the expensive part; tests share it).
    ``clock`` and ``sleep``: injectable so tests can step time and skip slow-response delays.
    ``latency``: seconds every request waits before it is answered, as a network to a real vendor
    would; benchmarks and crash tests use it to make an extraction last long enough to observe.
    """
    if data is None:
        data = SandboxData(config)
    elif data.config != config:
        raise ValueError("data was built for another SandboxConfig than the one given")
    credentials = credentials or SandboxCredentials()
    settings = rate_limits if isinstance(rate_limits, RateLimitSettings) else RateLimitSettings()
    stats = SandboxStats()
    state = SandboxState(
        data=data,
        config=config,
        credentials=credentials,
        signer=TokenSigner(config.seed, credentials),
        limiter=RateLimiter(settings, clock, time_scale, enabled=rate_limits is not False),
        stats=stats,
    )
    graph = Graph(state)
    vendors: dict[str, VendorApi] = {
        "salesforce": Salesforce(state),
        "hubspot": HubSpot(state),
        "ga4": GA4(state),
        "facebook": graph,
        "instagram": graph,
        "twitter": Twitter(state),
        "stripe": Stripe(state),
    }

    def classify(path: str) -> tuple[str | None, bool]:
        prefix, _, rest = path.lstrip("/").partition("/")
        vendor = vendors.get(prefix)
        return (prefix, vendor.is_data_path("/" + rest)) if vendor is not None else (None, False)

    async def stats_endpoint(request: Request) -> Response:
        return json_response(stats.snapshot())

    middleware_options: dict[str, Any] = {
        "injector": FaultInjector(faults, config.seed, stats),
        "stats": stats,
        "classify": classify,
        "responders": vendors,
    }
    if sleep is not None:
        middleware_options["sleep"] = sleep
    app = Starlette(
        routes=[
            *(Mount(f"/{prefix}", routes=vendor.routes()) for prefix, vendor in vendors.items()),
            Route(STATS_PATH, stats_endpoint, methods=["GET"]),
        ],
        middleware=[
            Middleware(FaultMiddleware, **middleware_options),
            *([Middleware(_Latency, seconds=latency)] if latency > 0 else []),
        ],
    )
    app.state.sandbox = state
    return app


class _Latency:
    """Delays every HTTP request by a fixed time before the app sees it."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def sandbox_stats(app: Starlette) -> dict[str, Any]:
    """The same counters ``GET /_sandbox/stats`` returns, read in process."""
    return app.state.sandbox.stats.snapshot()
