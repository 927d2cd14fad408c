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
        Field("deal_name", "string", "$.properties.dealname"),
        Field("amount", "amount", "$.properties.amount", sent_as="string"),
        Field("close_date", "date", "$.properties.closedate"),
        Field("stage", "string", "$.properties.dealstage"),
        Field("pipeline", "string", "$.properties.pipeline"),
        Field("is_won", "boolean", "$.properties.hs_is_closed_won", sent_as="string"),
        Field("contact_id", "string", first_association("contacts"), column=columns.reference()),
        Field("company_id", "string", first_association("companies"), column=columns.reference()),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("deals", associations=("contacts", "companies")),
    description="HubSpot deals (won = purchases): amounts Decimal, close dates, contact and company ids.",
)
