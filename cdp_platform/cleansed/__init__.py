"""The cleansed layer: one typed, normalized table per source entity, with its quarantine.

``ENTITIES`` lists every entity spec, found in the sources' folders (``sources/<source>/cleansed/``,
one module each); :func:`cleansed_assets` builds their
Dagster assets. Each asset reads ``raw/<source>/<stream>`` through the raw lake IO manager and
needs the ``io_manager`` (warehouse) and ``warehouse`` (DuckDB) resources.
"""

from __future__ import annotations

import importlib

import dagster as dg

from cdp_platform.cleansed.assets import build_cleansed_asset
from cdp_platform.cleansed.entity import CleansedEntity
from cdp_platform.sources.registry import source_names


def _source_entities() -> tuple[CleansedEntity, ...]:
    """Every declared source's entities (``sources/<source>/cleansed/``), in the registry's order;
    a source without cleansed entities has no such folder."""
    entities: list[CleansedEntity] = []
    for name in source_names():
        try:
            module = importlib.import_module(f"cdp_platform.sources.{name}.cleansed")
        except ModuleNotFoundError as exc:
            if exc.name != f"cdp_platform.sources.{name}.cleansed":
                raise
            continue
        entities.extend(module.ENTITIES)
    return tuple(entities)


ENTITIES: tuple[CleansedEntity, ...] = _source_entities()


def entity(source: str, name: str) -> CleansedEntity:
    """The spec of ``cleansed/<source>/<name>``."""
    for spec in ENTITIES:
        if (spec.source, spec.entity) == (source, name):
            return spec
    raise KeyError(
        f"no cleansed entity {source}/{name}; known: {[f'{e.source}/{e.entity}' for e in ENTITIES]}"
    )


def cleansed_assets(partitions_def: dg.PartitionsDefinition, phone_region: str) -> list[dg.AssetsDefinition]:
    """One multi-asset per entity (the table and its quarantine), partitioned like raw.

    ``phone_region`` is the region phone numbers without a country code are read in (ISO 3166
    alpha-2, e.g. ``US``).
    """
    return [build_cleansed_asset(spec, partitions_def, phone_region) for spec in ENTITIES]


__all__ = ["ENTITIES", "cleansed_assets", "entity"]
