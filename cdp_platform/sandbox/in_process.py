"""The bundled sandbox served in process: one app per process and configuration.

A vendor without a base URL is reached through ``httpx.ASGITransport`` on the sandbox app, under the
same path prefixes the sandbox uses on a port, so the connector code is identical either way. The
prefixes and account identifiers are the sandbox's own knowledge: the platform's sources only see a
base URL and options handed to them by :mod:`cdp_platform.sandbox.wiring`.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Any

import httpx
from pydantic import Field

from cdp_platform.http.pacing import pacer_for
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.plugins import emulated_vendors, source_mounts
from cdp_platform.sources.vendor import InProcessServer

# Never resolved: requests to it go to the in-process transport, not the network.
SANDBOX_ROOT = "http://sandbox.cdp.invalid"



def __getattr__(name: str) -> dict[str, str]:
    # ``SANDBOX_PREFIX``: the platform's source name -> the sandbox app's mount, as the vendor modules
    # declare them (cdp_platform.sandbox.plugins); read on use, a fresh dict each time.
    if name == "SANDBOX_PREFIX":
        return {source: mount.prefix for source, mount in source_mounts().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sandbox_config(
    persons: int, seed: int, today: datetime.date | None, span_days: int = 730
) -> SandboxConfig:
    """The sandbox's configuration; no ``today`` means the current UTC date."""
    return SandboxConfig(
        persons=persons,
        seed=seed,
        today=today or datetime.datetime.now(datetime.UTC).date(),
        span_days=span_days,
    )


@lru_cache(maxsize=4)
def sandbox_app(config: SandboxConfig, faults: str, time_scale: float = 1.0) -> tuple[Any, Any]:
    """(ASGI app, SandboxData) for this configuration, built once per process; its quota windows
    divided by ``time_scale`` (``CDP_SANDBOX_TIME_SCALE``)."""
    from cdp_platform.sandbox.app import create_app
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(config)
    return create_app(config, faults=faults, data=data, time_scale=time_scale), data


def sandbox_transport(config: SandboxConfig, faults: str, time_scale: float = 1.0) -> httpx.AsyncBaseTransport:
    app, _ = sandbox_app(config, faults, time_scale)
    return httpx.ASGITransport(app=app)


def scaled_pacer_settings(http_vendor: str, time_scale: float) -> dict[str, Any]:
    """What a pacer cannot learn from the sandbox's answers, at the sandbox's ``time_scale``: the
    lengths of the windows the vendors do not report and the margins kept around their resets, as
    the vendor modules declare them (``EmulatedVendor.pacer_settings``). Limits, remaining counts,
    resets and usage the pacers learn from the responses, as from the vendors. Empty at scale 1
    (the pacers' documented defaults) and for a vendor that declares nothing."""
    if time_scale == 1:
        return {}
    for vendor in emulated_vendors():
        settings = vendor.pacer_settings.get(http_vendor)
        if settings is not None:
            return settings(time_scale)
    return {}


def sandbox_base_url(source: str) -> str:
    """Where ``source``'s API is mounted on the in-process sandbox."""
    served = source_mounts()
    if source not in served:
        raise ValueError(
            f"the bundled sandbox does not emulate the source {source!r}: set "
            f"CDP_{source.upper()}_BASE_URL to its API (it serves {', '.join(served)})"
        )
    return f"{SANDBOX_ROOT}/{served[source].prefix}"


def sandbox_options(source: str, data: Any) -> dict[str, str]:
    """The account identifiers a connector needs, as the vendor module serving ``source`` defines them."""
    mount = source_mounts().get(source)
    if mount is None or mount.account_options is None:
        return {}
    return mount.account_options(data)


class InProcessSandbox(InProcessServer):
    """The bundled sandbox as the in-process server of the vendors without a base URL.

    One instance is shared by every such vendor resource and by the graders, so they all see the
    same world (the app and its records are built once per process and configuration).
    """

    persons: int = 2000
    seed: int = 7
    faults: str = "none"
    today: str | None = None
    span_days: int = 730
    time_scale: float = Field(
        default=1.0,
        description="The sandbox's quota windows are divided by this (CDP_SANDBOX_TIME_SCALE).",
    )

    def config(self) -> SandboxConfig:
        day = datetime.date.fromisoformat(self.today) if self.today else None
        return sandbox_config(self.persons, self.seed, day, self.span_days)

    def data(self) -> Any:
        """The SandboxData the app serves in this process."""
        return sandbox_app(self.config(), self.faults, self.time_scale)[1]

    def base_url(self, source: str) -> str:
        return sandbox_base_url(source)

    def account_options(self, source: str) -> dict[str, str]:
        return sandbox_options(source, self.data())

    def credentials(self, source: str) -> dict[str, str]:
        mount = source_mounts().get(source)
        return dict(mount.credentials) if mount is not None else {}

    def transport(self) -> httpx.AsyncBaseTransport:
        return sandbox_transport(self.config(), self.faults, self.time_scale)

    def pacer(self, http_vendor: str) -> Any:
        """Process-wide like any pacer, created with the windows at the sandbox's time scale."""
        return pacer_for(http_vendor, **scaled_pacer_settings(http_vendor, self.time_scale))
