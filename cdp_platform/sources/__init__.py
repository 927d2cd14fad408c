"""Every declared source: its resource and raw assets, assembled from the settings.

Each source's folder (``sources/<source>/``) holds its declaration, resource class and streams; this module only builds the
resources (credentials as ``EnvVar`` wherever a real endpoint is configured, the public sandbox
constants for the in-process sandbox) and one raw multi-asset per source.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import dagster as dg

from cdp_platform.sandbox import credentials as sandbox_credentials
from cdp_platform.settings import Settings, VendorSettings
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.sources.raw_assets import build_raw_assets
from cdp_platform.sources.registry import source_names
from cdp_platform.sources.vendor import VendorResource


def _resource_class(module: ModuleType) -> type[VendorResource]:
    """The one ``VendorResource`` subclass a source's folder defines for itself."""
    name = module.__name__.rsplit(".", 1)[1]
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, VendorResource)
        and getattr(value, "source", None) == name
    ]
    if len(found) != 1:
        raise TypeError(
            f"{module.__name__} must define one VendorResource with source = {name!r}; found {found}"
        )
    return found[0]


# Every declared source's folder (its streams and resource), in the registry's order.
SOURCES: dict[str, ModuleType] = {
    name: importlib.import_module(f"cdp_platform.sources.{name}") for name in source_names()
}

RESOURCE_CLASSES: dict[str, type[VendorResource]] = {
    name: _resource_class(module) for name, module in SOURCES.items()
}

# What the in-process sandbox accepts: public constants that unlock synthetic data only.
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "salesforce": {
        "client_id": sandbox_credentials.SALESFORCE_CLIENT_ID,
        "client_secret": sandbox_credentials.SALESFORCE_CLIENT_SECRET,
        "refresh_token": sandbox_credentials.SALESFORCE_REFRESH_TOKEN,
    },
    "hubspot": {"access_token": sandbox_credentials.HUBSPOT_PRIVATE_APP_TOKEN},
    "google_analytics": {"access_token": sandbox_credentials.GA4_ACCESS_TOKEN},
    "facebook": {
        "access_token": sandbox_credentials.FACEBOOK_ACCESS_TOKEN,
        "app_id": sandbox_credentials.FACEBOOK_APP_ID,
        "app_secret": sandbox_credentials.FACEBOOK_APP_SECRET,
    },
    "instagram": {
        "access_token": sandbox_credentials.FACEBOOK_ACCESS_TOKEN,
        "app_secret": sandbox_credentials.FACEBOOK_APP_SECRET,
    },
    "twitter": {"bearer_token": sandbox_credentials.TWITTER_BEARER_TOKEN},
    "stripe": {"api_key": sandbox_credentials.STRIPE_SECRET_KEY},
}


def resource_key(source: str) -> str:
    return f"{source}_api"


def vendor_resource(settings: Settings, vendor: VendorSettings) -> dg.ConfigurableResource:
    credentials: dict[str, object] = {}
    for role, var in vendor.credential_vars.items():
        if vendor.uses_sandbox and role not in vendor.credentials_present:
            credentials[role] = SANDBOX_CREDENTIALS[vendor.name][role]
        elif role in vendor.credentials_present:
            credentials[role] = dg.EnvVar(var)
    sandbox = settings.sandbox
    return RESOURCE_CLASSES[vendor.name](
        base_url=vendor.base_url,
        options=dict(vendor.options),
        sandbox_persons=sandbox.persons,
        sandbox_seed=sandbox.seed,
        sandbox_faults=sandbox.faults,
        sandbox_today=sandbox.today.isoformat() if sandbox.today else None,
        sandbox_span_days=sandbox.span_days,
        page_size=vendor.page_size,
        timeout_seconds=vendor.timeout_seconds,
        otlp_endpoint=settings.otlp_endpoint,
        ca_bundle=settings.ca_bundle,
        **credentials,
    )


def raw_definitions(settings: Settings) -> dg.Definitions:
    partitions = daily_partitions(settings.partitions_start)
    assets = [
        build_raw_assets(name, module.STREAMS, resource_key(name), partitions)
        for name, module in SOURCES.items()
    ]
    resources = {resource_key(name): vendor_resource(settings, settings.vendors[name]) for name in SOURCES}
    return dg.Definitions(assets=assets, resources=resources)
