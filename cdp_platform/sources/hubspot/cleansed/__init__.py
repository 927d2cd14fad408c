"""HubSpot's cleansed entities, in the order their assets are listed."""

from cdp_platform.sources.hubspot.cleansed import companies, contacts, deals

ENTITIES = (contacts.ENTITY, companies.ENTITY, deals.ENTITY)
