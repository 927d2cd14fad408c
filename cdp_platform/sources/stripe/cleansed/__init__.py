"""Stripe's cleansed entities (customers, charges, refunds), found by the cleansed registry."""

from cdp_platform.sources.stripe.cleansed.entities import CHARGES, CUSTOMERS, REFUNDS

ENTITIES = (CUSTOMERS, CHARGES, REFUNDS)
