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
        Field(
            "company_name", "string", "$.properties.name", description="The company's name (property name)."
        ),
        Field(
            "domain",
            "string",
            "$.properties.domain",
            description="The company's website domain (property domain), as entered.",
        ),
        Field(
            "city",
            "string",
            "$.properties.city",
            description="The company's city (property city), as entered.",
        ),
        Field(
            "country",
            "string",
            "$.properties.country",
            description="The company's country as entered (property country); its code is country_code.",
        ),
        Field(
            "country_code",
            "country",
            "$.properties.country",
            description="The company's country (property country) as a code.",
        ),
        Field(
            "industry",
            "string",
            "$.properties.industry",
            description="The company's industry (property industry, the internal value of HubSpot's option).",
        ),
        Field(
            "employees",
            "integer",
            "$.properties.numberofemployees",
            sent_as="string",
            description="The company's number of employees (property numberofemployees, sent as text).",
        ),
        Field(
            "phone",
            "phone",
            "$.properties.phone",
            region_from="country",
            description="The company's phone number (property phone).",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("companies"),
    description="HubSpot companies: properties typed, phones E.164.",
)
