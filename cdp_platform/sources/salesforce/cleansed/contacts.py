"""Salesforce contacts: people, with their account flattened (``Account.Name`` → ``account_name``).

Each field is declared once, here: the Pandera schema and the payload fields drift is judged on
are derived from these declarations (``CleansedEntity`` with no ``schema``/``expected_payload``).
"""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import full_name_from_parts
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_ENVELOPE,
    SYSTEM_FIELDS,
    field_path,
    lookup_envelope,
)

ENTITY = CleansedEntity(
    source="salesforce",
    entity="contacts",
    raw_stream="contacts",
    person_keys=(PersonKey("record_id", "contacts"),),
    crm_contact=True,
    exclusive=True,
    fields=(
        *SYSTEM_FIELDS,
        Field(
            "account_id",
            "string",
            "$.AccountId",
            description="The contact's account.",
            column=columns.reference(),
        ),
        Field("account_name", "string", "$.Account.Name", description="The account's name."),
        Field("first_name", "name", "$.FirstName", description="First name.", role="first_name", pii=True),
        Field("last_name", "name", "$.LastName", description="Last name.", role="last_name", pii=True),
        Field(
            "full_name",
            "name",
            "$.Name",
            description="Full name (from first and last when absent).",
            role="full_name",
            pii=True,
        ),
        Field(
            "email", "email", "$.Email", description="Email, lowercased and checked.", role="email", pii=True
        ),
        Field(
            "phone",
            "phone",
            "$.Phone",
            region_from="country",
            description="Phone in E.164.",
            role="phone",
            pii=True,
        ),
        Field(
            "date_of_birth",
            "date",
            "$.Birthdate",
            description="Date of birth.",
            role="date_of_birth",
            pii=True,
        ),
        Field("street", "string", "$.MailingStreet", description="Mailing street.", role="street", pii=True),
        Field("city", "string", "$.MailingCity", description="Mailing city.", role="city", pii=True),
        Field(
            "postcode",
            "string",
            "$.MailingPostalCode",
            description="Mailing postal code.",
            role="postcode",
            pii=True,
        ),
        Field(
            "country", "string", "$.MailingCountry", description="Mailing country as written.", role="country"
        ),
        Field(
            "country_code",
            "country",
            "$.MailingCountry",
            description="Mailing country, ISO 3166 alpha-2.",
            role="country_code",
        ),
        Field("title", "string", "$.Title", description="Job title."),
        Field("lead_source", "string", "$.LeadSource", description="Where the contact came from."),
        Field("email_opt_out", "boolean", "$.HasOptedOutOfEmail", description="Opted out of email."),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload={**SYSTEM_ENVELOPE, **lookup_envelope("Account")},
    extra_columns=full_name_from_parts,
    # The fields holding handles are custom fields of the org (CDP_SALESFORCE_CONTACTS_HANDLE_FIELDS).
    handle_path=field_path,
    description="Salesforce contacts (people): emails lowercased and checked, phones E.164, handles bare.",
)
