"""Every declared source: its resource and raw assets, assembled from the settings.

Each source's folder (``sources/<source>/``) holds its declaration, resource class and streams (a
source declared in a YAML file gets both from :mod:`.yaml_source_runtime`); this module only
builds the resources (credentials as ``EnvVar`` wherever a real endpoint is configured; for a
vendor without a base URL, the in-process server given by the caller, the local default's sandbox
wiring, and the constants it accepts) and one raw multi-asset per source.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import dagster as dg

from cdp_platform.http.errors import declare_error_rules
from cdp_platform.http.pacing import declare_budget
from cdp_platform.settings import Settings, VendorSettings, env_var_name
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.sources.raw_assets import build_raw_assets
from cdp_platform.sources.registry import builtin_declarations, configured, declarations
from cdp_platform.sources.vendor import InProcessServer, VendorResource
from cdp_platform.sources.yaml_source_runtime import ConfiguredParts, parts


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


# Every shipped source's folder (its streams and resource), in the registry's order.
_PACKAGES: dict[str, ModuleType] = {
    name: importlib.import_module(f"cdp_platform.sources.{name}") for name in builtin_declarations()
}
_PACKAGE_RESOURCES: dict[str, type[VendorResource]] = {
    name: _resource_class(module) for name, module in _PACKAGES.items()
}


class _Registered(Mapping[str, Any]):
    """A view of the registry's sources: the shipped ones' values, then those of the sources the
    last loaded settings configured from YAML files (so a module holding it sees those too)."""

    def __init__(self, shipped: Mapping[str, Any], of_parts: Callable[[ConfiguredParts], Any]) -> None:
        self._shipped = shipped
        self._of_parts = of_parts

    def _current(self) -> dict[str, Any]:
        extra = {name: self._of_parts(parts(source)) for name, source in configured().items()}
        return {**self._shipped, **extra} if extra else dict(self._shipped)

    def __getitem__(self, name: str) -> Any:
        if name in self._shipped:
            return self._shipped[name]
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


# Every source's package (its ``STREAMS`` and resource), in the registry's order; a YAML source's
# is the object :func:`~cdp_platform.sources.yaml_source_runtime.parts` makes from its file.
SOURCES: Mapping[str, Any] = _Registered(_PACKAGES, lambda made: made)
RESOURCE_CLASSES: Mapping[str, type[VendorResource]] = _Registered(
    _PACKAGE_RESOURCES, lambda made: made.resource
)


def declare_budgets() -> None:
    """Each client spends its declared budget through its declared pacer kind, and reads its
    vendor's errors with the declared rules."""
    for name, resource in RESOURCE_CLASSES.items():
        source = declarations()[name]
        declare_budget(
            resource.http_vendor,
            source.pacing_budget,
            source.quota.pacer,
            source.quota.signals,
            source.quota.settings,
        )
        declare_error_rules(resource.http_vendor, source.errors)


declare_budgets()


def resource_key(source: str) -> str:
    return f"{source}_api"


def vendor_resource(
    settings: Settings,
    vendor: VendorSettings,
    server: InProcessServer | None = None,
) -> dg.ConfigurableResource:
    """``vendor``'s resource. Without a base URL it is served by ``server`` and given the
    credentials the server accepts for the roles the environment does not set."""
    if vendor.uses_sandbox and server is None:
        raise ValueError(
            f"{env_var_name(vendor.name, 'base_url')} is not set and no in-process server was given: "
            "set it to the vendor's API base URL (see README, 'Connecting the vendors')."
        )
    credentials: dict[str, object] = {}
    for role, var in vendor.credential_vars.items():
        if role in vendor.credentials_present:
            credentials[role] = dg.EnvVar(var)
        elif server is not None and vendor.uses_sandbox:
            accepted = server.credentials(vendor.name)
            if role in accepted:
                credentials[role] = accepted[role]
    return RESOURCE_CLASSES[vendor.name](
        base_url=vendor.base_url,
        server=server if vendor.uses_sandbox else None,
        options=dict(vendor.options),
        page_size=vendor.page_size,
        timeout_seconds=vendor.timeout_seconds,
        otlp_endpoint=settings.otlp_endpoint,
        ca_bundle=settings.ca_bundle,
        **credentials,
    )


def raw_definitions(settings: Settings, server: InProcessServer | None = None) -> dg.Definitions:
    """One raw multi-asset per source and its vendor resource; vendors without a base URL are
    served by ``server`` (see :func:`vendor_resource`)."""
    partitions = daily_partitions(settings.partitions_start)
    declare_budgets()  # the YAML sources configured by these settings have budgets of their own
    assets = [
        build_raw_assets(name, module.STREAMS, resource_key(name), partitions)
        for name, module in SOURCES.items()
    ]
    resources = {
        resource_key(name): vendor_resource(settings, settings.vendors[name], server) for name in SOURCES
    }
    return dg.Definitions(assets=assets, resources=resources)
