"""The bundled sandbox served in process: one app per process and configuration.

A vendor without a base URL is reached through ``httpx.ASGITransport`` on the sandbox app, under the
same path prefixes the sandbox uses on a port, so the connector code is identical either way.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from typing import Any

import httpx

from cdp_platform.sandbox.config import SandboxConfig

# Never resolved: requests to it go to the in-process transport, not the network.
SANDBOX_ROOT = "http://sandbox.cdp.invalid"

SANDBOX_PREFIX = {
    "salesforce": "salesforce",
    "hubspot": "hubspot",
    "google_analytics": "ga4",
    "facebook": "facebook",
    "instagram": "instagram",
    "twitter": "twitter",
    "stripe": "stripe",
}


def sandbox_config(persons: int, seed: int, today: datetime.date | None, span_days: int = 730) -> SandboxConfig:
    """The sandbox's configuration; no ``today`` means the current UTC date."""
    return SandboxConfig(
        persons=persons,
        seed=seed,
        today=today or datetime.datetime.now(datetime.UTC).date(),
        span_days=span_days,
    )


@lru_cache(maxsize=4)
def sandbox_app(config: SandboxConfig, faults: str) -> tuple[Any, Any]:
    """(ASGI app, SandboxData) for this configuration, built once per process."""
    from cdp_platform.sandbox.app import create_app
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(config)
    return create_app(config, faults=faults, data=data), data


def sandbox_transport(config: SandboxConfig, faults: str) -> httpx.AsyncBaseTransport:
    app, _ = sandbox_app(config, faults)
    return httpx.ASGITransport(app=app)


def sandbox_base_url(source: str) -> str:
    return f"{SANDBOX_ROOT}/{SANDBOX_PREFIX[source]}"


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
