"""HubSpot contacts: people, with their string properties typed."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import full_name_from_parts
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.hubspot.cleansed.objects import (
    KEY_COLUMNS,
    OBJECT_FIELDS,
    first_association,
    object_envelope,
    property_path,
)

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

ENTITY = CleansedEntity(
    source="hubspot",
    entity="contacts",
    raw_stream="contacts",
    person_keys=(PersonKey("record_id", "contacts"),),
    crm_contact=True,
    exclusive=True,
    fields=(
        *OBJECT_FIELDS,
        Field("email", "email", "$.properties.email"),
        Field("first_name", "name", "$.properties.firstname"),
        Field("last_name", "name", "$.properties.lastname"),
        Field("phone", "phone", "$.properties.phone", region_from="country"),
        Field("street", "string", "$.properties.address"),
        Field("city", "string", "$.properties.city"),
        Field("postcode", "string", "$.properties.zip"),
        Field("country", "string", "$.properties.country"),
        Field("country_code", "country", "$.properties.country"),
        Field("company", "string", "$.properties.company"),
        Field("job_title", "string", "$.properties.jobtitle"),
        Field("date_of_birth", "date", "$.properties.date_of_birth"),
        Field(
            "lifecycle_stage",
            "string",
            "$.properties.lifecyclestage",
            column=columns.one_of(LIFECYCLE_STAGES),
        ),
        Field(
            "email_opt_out", "boolean", "$.properties.hs_email_optout", sent_as="string", may_be_absent=True
        ),
        Field("company_id", "string", first_association("companies"), column=columns.reference()),
        Field("full_name", "name", computed=True),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("contacts", associations=("companies",)),
    extra_columns=full_name_from_parts,
    # The properties holding handles are the portal's choice (CDP_HUBSPOT_CONTACTS_HANDLE_FIELDS).
    handle_path=property_path,
    description="HubSpot contacts (people): properties typed, emails checked, phones E.164, handles bare.",
)
