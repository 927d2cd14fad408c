"""The cleansed layer: one typed, normalized table per source entity, with its quarantine.

``ENTITIES`` lists every entity spec, found in the sources' folders (``sources/<source>/cleansed/``,
one module each), a CRM's person records with the handle fields the settings map
(:mod:`cdp_platform.cleansed.handles`); :func:`cleansed_assets` builds their
Dagster assets. Each asset reads ``raw/<source>/<stream>`` through the raw lake IO manager and
needs the ``io_manager`` (warehouse) and ``warehouse`` (DuckDB) resources.
"""

from __future__ import annotations

import importlib
from functools import cache

import dagster as dg

from cdp_platform.cleansed.assets import build_cleansed_asset
from cdp_platform.cleansed.entity import CleansedEntity
from cdp_platform.cleansed.handles import configured_entity


def _source_entities() -> tuple[CleansedEntity, ...]:
    """Every declared source's entities, in the registry's order: the shipped sources' and then
    those declared in the YAML files of ``CDP_SOURCES_DIR``, with the handle fields of the last
    loaded settings."""
    from cdp_platform.sources.registry import configured

    return tuple(configured_entity(e) for e in shipped_entities()) + tuple(
        e for source in configured().values() for e in source.entities
    )


@cache
def shipped_entities() -> tuple[CleansedEntity, ...]:
    """The shipped sources' entities as declared (``sources/<source>/cleansed/``), before any
    setting (the handle fields) completes them; a source without cleansed entities has no such folder.

    Collected on first use, not at import: the sources' folders import this package (its field
    and column framework), and the raw layer imports modules that read the entities.
    """
    from cdp_platform.sources.registry import builtin_declarations

    entities: list[CleansedEntity] = []
    for name in builtin_declarations():
        try:
            module = importlib.import_module(f"cdp_platform.sources.{name}.cleansed")
        except ModuleNotFoundError as exc:
            if exc.name != f"cdp_platform.sources.{name}.cleansed":
                raise
            continue
        entities.extend(module.ENTITIES)
    return tuple(entities)


def __getattr__(name: str) -> object:
    if name == "ENTITIES":
        return _source_entities()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def entity(source: str, name: str) -> CleansedEntity:
    """The spec of ``cleansed/<source>/<name>``."""
    for spec in _source_entities():
        if (spec.source, spec.entity) == (source, name):
            return spec
    raise KeyError(
        f"no cleansed entity {source}/{name}; known: {[f'{e.source}/{e.entity}' for e in _source_entities()]}"
    )


def cleansed_assets(partitions_def: dg.PartitionsDefinition, phone_region: str) -> list[dg.AssetsDefinition]:
    """One multi-asset per entity (the table and its quarantine), partitioned like raw.

    ``phone_region`` is the region phone numbers without a country code are read in (ISO 3166
    alpha-2, e.g. ``US``).
    """
    return [build_cleansed_asset(spec, partitions_def, phone_region) for spec in _source_entities()]


def cleansed_table_keys() -> list[dg.AssetKey]:
    """The key of every entity's cleansed table (not its quarantine)."""
    return [dg.AssetKey(spec.asset_path) for spec in _source_entities()]


__all__ = ["ENTITIES", "cleansed_assets", "cleansed_table_keys", "entity"]
