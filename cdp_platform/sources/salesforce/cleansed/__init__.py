"""Salesforce's cleansed entities, in the order their assets are listed."""

from cdp_platform.sources.salesforce.cleansed import accounts, contacts, leads, opportunities

ENTITIES = (accounts.ENTITY, contacts.ENTITY, leads.ENTITY, opportunities.ENTITY)
