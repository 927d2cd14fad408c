"""The cleansed layer: one typed, normalized table per source entity, with its quarantine.

``ENTITIES`` lists every entity spec (one module each); :func:`cleansed_assets` builds their
Dagster assets. Each asset reads ``raw/<source>/<stream>`` through the raw lake IO manager and
needs the ``io_manager`` (warehouse) and ``warehouse`` (DuckDB) resources.
"""

from __future__ import annotations

import dagster as dg

from cdp_platform.cleansed import (
    facebook_leads,
    facebook_page_posts,
    facebook_post_comments,
    google_analytics_user_daily_activity,
    hubspot_companies,
    hubspot_contacts,
    hubspot_deals,
    instagram_media,
    instagram_media_comments,
    salesforce_accounts,
    salesforce_contacts,
    salesforce_leads,
    salesforce_opportunities,
    twitter_mentions,
)
from cdp_platform.cleansed.assets import build_cleansed_asset
from cdp_platform.cleansed.entity import CleansedEntity

_BUILT_IN: tuple[CleansedEntity, ...] = (
    salesforce_accounts.ENTITY,
    salesforce_contacts.ENTITY,
    salesforce_leads.ENTITY,
    salesforce_opportunities.ENTITY,
    hubspot_contacts.ENTITY,
    hubspot_companies.ENTITY,
    hubspot_deals.ENTITY,
    google_analytics_user_daily_activity.ENTITY,
    facebook_leads.ENTITY,
    facebook_page_posts.ENTITY,
    facebook_post_comments.ENTITY,
    instagram_media.ENTITY,
    instagram_media_comments.ENTITY,
    twitter_mentions.ENTITY,
)


def _all_entities() -> tuple[CleansedEntity, ...]:
    """The built-in entities and those of the source folders (Stripe's), read on first use: a source
    folder's package imports the raw layer, which reads this registry, so not at import time."""
    cached = globals().get("ENTITIES")
    if cached is None:
        from cdp_platform.sources.stripe import entities as stripe_entities

        cached = globals()["ENTITIES"] = (*_BUILT_IN, *stripe_entities.ENTITIES)
    return cached


def __getattr__(name: str) -> object:
    if name == "ENTITIES":
        return _all_entities()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def entity(source: str, name: str) -> CleansedEntity:
    """The spec of ``cleansed/<source>/<name>``."""
    for spec in _all_entities():
        if (spec.source, spec.entity) == (source, name):
            return spec
    raise KeyError(
        f"no cleansed entity {source}/{name}; known: {[f'{e.source}/{e.entity}' for e in _all_entities()]}"
    )


def cleansed_assets(partitions_def: dg.PartitionsDefinition, phone_region: str) -> list[dg.AssetsDefinition]:
    """One multi-asset per entity (the table and its quarantine), partitioned like raw.

    ``phone_region`` is the region phone numbers without a country code are read in (ISO 3166
    alpha-2, e.g. ``US``).
    """
    return [build_cleansed_asset(spec, partitions_def, phone_region) for spec in _all_entities()]


__all__ = ["ENTITIES", "cleansed_assets", "entity"]
