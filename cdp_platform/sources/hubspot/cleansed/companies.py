"""HubSpot companies."""

from __future__ import annotations

from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.sources.hubspot.cleansed.objects import (
    KEY_COLUMNS,
    OBJECT_FIELDS,
    object_envelope,
)

ENTITY = CleansedEntity(
    source="hubspot",
    entity="companies",
    raw_stream="companies",
    fields=(
        *OBJECT_FIELDS,
        Field("company_name", "string", "$.properties.name"),
        Field("domain", "string", "$.properties.domain"),
        Field("city", "string", "$.properties.city"),
        Field("country", "string", "$.properties.country"),
        Field("country_code", "country", "$.properties.country"),
        Field("industry", "string", "$.properties.industry"),
        Field("employees", "integer", "$.properties.numberofemployees", sent_as="string"),
        Field("phone", "phone", "$.properties.phone", region_from="country"),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("companies"),
    description="HubSpot companies: properties typed, phones E.164.",
)
