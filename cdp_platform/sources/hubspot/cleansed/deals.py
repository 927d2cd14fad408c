"""HubSpot deals: won ones are purchases; the associated contact and company flattened."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.hubspot.cleansed.objects import (
    KEY_COLUMNS,
    OBJECT_FIELDS,
    first_association,
    object_envelope,
)

ENTITY = CleansedEntity(
    source="hubspot",
    entity="deals",
    raw_stream="deals",
    # A purchase belongs to its buyer.
    person_keys=(PersonKey("contact_id", "contacts"),),
    fields=(
        *OBJECT_FIELDS,
        Field(
            "deal_name", "string", "$.properties.dealname", description="The deal's name (property dealname)."
        ),
        Field(
            "amount",
            "amount",
            "$.properties.amount",
            sent_as="string",
            description="The deal's value (property amount, sent as text).",
        ),
        Field(
            "close_date",
            "date",
            "$.properties.closedate",
            description="The deal's close date (property closedate): expected while open, actual once closed.",
        ),
        Field(
            "stage",
            "string",
            "$.properties.dealstage",
            description="The deal's stage in its pipeline (property dealstage, the stage's internal id).",
        ),
        Field(
            "pipeline",
            "string",
            "$.properties.pipeline",
            description="The pipeline the deal is in (property pipeline, its internal id).",
        ),
        Field(
            "is_won",
            "boolean",
            "$.properties.hs_is_closed_won",
            sent_as="string",
            description="Whether the deal is closed won (property hs_is_closed_won, sent as text): a won "
            "deal is a purchase.",
        ),
        Field(
            "contact_id",
            "string",
            first_association("contacts"),
            column=columns.reference(),
            description="The HubSpot id of the deal's first associated contact (its buyer), from the "
            "deal's associations; null when it has none.",
        ),
        Field(
            "company_id",
            "string",
            first_association("companies"),
            column=columns.reference(),
            description="The HubSpot id of the deal's first associated company, from the deal's "
            "associations; null when it has none.",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("deals", associations=("contacts", "companies")),
    description="HubSpot deals (won = purchases): amounts Decimal, close dates, contact and company ids.",
)
