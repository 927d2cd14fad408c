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
from cdp_platform.sandbox.credentials import SANDBOX_CREDENTIALS
from cdp_platform.sources.vendor import InProcessServer

# Never resolved: requests to it go to the in-process transport, not the network.
SANDBOX_ROOT = "http://sandbox.cdp.invalid"

# The platform's source name -> the sandbox app's mount (see cdp_platform.sandbox.app).
SANDBOX_PREFIX = {
    "salesforce": "salesforce",
    "hubspot": "hubspot",
    "google_analytics": "ga4",
    "facebook": "facebook",
    "instagram": "instagram",
    "twitter": "twitter",
    "stripe": "stripe",
}


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
    lengths of the windows the vendors do not report (Graph's rolling hour, GA4's hour, HubSpot
    search's second, Twitter's 15 minutes) and the margins kept around their resets. Limits,
    remaining counts, resets and usage the pacers learn from the responses, as from the vendors.
    Empty at scale 1 (the pacers' documented defaults)."""
    if time_scale == 1:
        return {}
    if http_vendor == "twitter":
        return {
            "limits": {key: (450, 900.0 / time_scale) for key in ("/2/users/:id/mentions", "/2/tweets/search/recent")},
            "default_limit": (180, 900.0 / time_scale),
            "reset_margin": 0.25 / time_scale,
        }
    if http_vendor == "ga4":
        return {"hour_seconds": 3600.0 / time_scale, "hour_margin": 5.0 / time_scale}
    if http_vendor in ("facebook", "instagram"):
        return {"window_seconds": 3600.0 / time_scale}
    if http_vendor == "hubspot":
        return {"search_window_seconds": 1.0 / time_scale}
    return {}


def sandbox_base_url(source: str) -> str:
    """Where ``source``'s API is mounted on the in-process sandbox."""
    try:
        prefix = SANDBOX_PREFIX[source]
    except KeyError:
        raise ValueError(
            f"the bundled sandbox does not emulate the source {source!r}: set "
            f"CDP_{source.upper()}_BASE_URL to its API (it serves {', '.join(SANDBOX_PREFIX)})"
        ) from None
    return f"{SANDBOX_ROOT}/{prefix}"


def sandbox_options(source: str, data: Any) -> dict[str, str]:
    """The account identifiers a connector needs, as the sandbox defines them."""
    if source == "google_analytics":
        return {"property_id": str(data.ga4_property_id)}
    if source == "facebook":
        return {"page_id": str(data.facebook_page_id), "lead_form_ids": ",".join(data.facebook_lead_form_ids)}
    if source == "instagram":
        return {"user_id": str(data.instagram_user_id)}
    if source == "twitter":
        return {"user_id": str(data.twitter_user_id)}
    return {}


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
        return dict(SANDBOX_CREDENTIALS.get(source, {}))

    def transport(self) -> httpx.AsyncBaseTransport:
        return sandbox_transport(self.config(), self.faults, self.time_scale)

    def pacer(self, http_vendor: str) -> Any:
        """Process-wide like any pacer, created with the windows at the sandbox's time scale."""
        return pacer_for(http_vendor, **scaled_pacer_settings(http_vendor, self.time_scale))
