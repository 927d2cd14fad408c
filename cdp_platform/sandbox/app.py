"""The sandbox's one ASGI app: the vendor APIs under their own prefixes, with quotas and faults.

Base URLs a connector is configured with: ``{root}/<prefix>``, one prefix per mount an emulated vendor
declares (:mod:`cdp_platform.sandbox.plugins`; one vendor may serve several, as one API behind two
platform sources). Below a prefix every path is the vendor's own.

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
from cdp_platform.sandbox.credentials import TokenSigner
from cdp_platform.sandbox.faults import (
    FaultInjector,
    FaultMiddleware,
    FaultSpec,
    SandboxStats,
)
from cdp_platform.sandbox.plugins import emulated_vendors
from cdp_platform.sandbox.ratelimit import Clock, RateLimiter, system_clock
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.common import SandboxState, VendorApi, json_response

STATS_PATH = "/_sandbox/stats"


def create_app(
    config: SandboxConfig,
    faults: FaultSpec = "none",
    rate_limits: Any = True,
    time_scale: float = 1.0,
    credentials: Any | None = None,
    *,
    data: SandboxData | None = None,
    clock: Clock = system_clock,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    latency: float = 0.0,
) -> Starlette:
    """Build the sandbox app.

    ``faults``: a profile name (``"none"``, ``"storm"``) or a :class:`FaultProfile` with custom rates, for
    every vendor; or a mapping from vendor (a mount prefix, :func:`cdp_platform.sandbox.faults.vendor_names`)
    to a profile, vendors left out getting ``none``.
    ``credentials``: a ``SandboxCredentials`` (:mod:`cdp_platform.sandbox.credentials`); None: the defaults.
    ``rate_limits``: True: the default quotas; False turns them off; a ``RateLimitSettings``
    (:mod:`cdp_platform.sandbox.ratelimit`) changes them.
    ``time_scale``: divides every quota window (100 makes a ten-second window a tenth of a second).
    ``data``: a prebuilt SandboxData for ``config`` (building one is the expensive part; tests share it).
    ``clock`` and ``sleep``: injectable so tests can step time and skip slow-response delays.
    ``latency``: seconds every request waits before it is answered, as a network to a real vendor
    would; benchmarks and crash tests use it to make an extraction last long enough to observe.
    """
    if data is None:
        data = SandboxData(config)
    elif data.config != config:
        raise ValueError("data was built for another SandboxConfig than the one given")
    from cdp_platform.sandbox import credentials as accepted
    from cdp_platform.sandbox import ratelimit

    credentials = credentials or accepted.SandboxCredentials()
    settings = rate_limits if isinstance(rate_limits, ratelimit.RateLimitSettings) else ratelimit.RateLimitSettings()
    stats = SandboxStats()
    state = SandboxState(
        data=data,
        config=config,
        credentials=credentials,
        signer=TokenSigner(config.seed, credentials),
        limiter=RateLimiter(settings, clock, time_scale, enabled=rate_limits is not False),
        stats=stats,
    )
    vendors: dict[str, VendorApi] = {}
    for vendor in emulated_vendors():
        api = vendor.api(state)  # one instance serves all of the vendor's mounts
        for mount in vendor.mounts:
            vendors[mount.prefix] = api

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
