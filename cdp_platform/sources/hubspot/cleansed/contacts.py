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
        Field(
            "email",
            "email",
            "$.properties.email",
            description="The contact's email address (property email).",
        ),
        Field(
            "first_name",
            "name",
            "$.properties.firstname",
            description="The contact's first name (property firstname).",
        ),
        Field(
            "last_name",
            "name",
            "$.properties.lastname",
            description="The contact's last name (property lastname).",
        ),
        Field(
            "phone",
            "phone",
            "$.properties.phone",
            region_from="country",
            description="The contact's phone number (property phone).",
        ),
        Field(
            "street",
            "string",
            "$.properties.address",
            description="The contact's street address (property address).",
        ),
        Field("city", "string", "$.properties.city", description="The contact's city (property city)."),
        Field(
            "postcode", "string", "$.properties.zip", description="The contact's postal code (property zip)."
        ),
        Field(
            "country",
            "string",
            "$.properties.country",
            description="The contact's country as entered (property country); its code is country_code.",
        ),
        Field(
            "country_code",
            "country",
            "$.properties.country",
            description="The contact's country (property country) as a code.",
        ),
        Field(
            "company",
            "string",
            "$.properties.company",
            description="The company name the contact gave (property company), as entered; the "
            "associated company is company_id.",
        ),
        Field(
            "job_title",
            "string",
            "$.properties.jobtitle",
            description="The contact's job title (property jobtitle).",
        ),
        Field(
            "date_of_birth",
            "date",
            "$.properties.date_of_birth",
            description="The contact's date of birth (property date_of_birth).",
        ),
        Field(
            "lifecycle_stage",
            "string",
            "$.properties.lifecyclestage",
            column=columns.one_of(LIFECYCLE_STAGES),
            description="The contact's lifecycle stage (property lifecyclestage: "
            f"{', '.join(LIFECYCLE_STAGES)}).",
        ),
        Field(
            "email_opt_out",
            "boolean",
            "$.properties.hs_email_optout",
            sent_as="string",
            may_be_absent=True,
            description="Whether the contact unsubscribed from all email (property hs_email_optout, "
            "sent as text); null until set.",
        ),
        Field(
            "company_id",
            "string",
            first_association("companies"),
            column=columns.reference(),
            description="The HubSpot id of the contact's first associated company, from the contact's "
            "associations; null when it has none.",
        ),
        Field(
            "full_name",
            "name",
            computed=True,
            description="first_name and last_name joined: HubSpot holds a contact's name in two properties.",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=object_envelope("contacts", associations=("companies",)),
    extra_columns=full_name_from_parts,
    # The properties holding handles are the portal's choice (CDP_HUBSPOT_CONTACTS_HANDLE_FIELDS).
    handle_path=property_path,
    description="HubSpot contacts (people): properties typed, emails checked, phones E.164, handles bare.",
)
