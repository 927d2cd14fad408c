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
            description="The Salesforce id of the contact's account (AccountId).",
            column=columns.reference(),
        ),
        Field(
            "account_name",
            "string",
            "$.Account.Name",
            description="The name of the contact's account (Name of the Account lookup).",
        ),
        Field(
            "first_name",
            "name",
            "$.FirstName",
            description="The contact's first name (FirstName).",
            role="first_name",
            pii=True,
        ),
        Field(
            "last_name",
            "name",
            "$.LastName",
            description="The contact's last name (LastName).",
            role="last_name",
            pii=True,
        ),
        Field(
            "full_name",
            "name",
            "$.Name",
            description="The contact's full name (Name); first and last name joined when absent.",
            role="full_name",
            pii=True,
        ),
        Field(
            "email",
            "email",
            "$.Email",
            description="The contact's email address (Email).",
            role="email",
            pii=True,
        ),
        Field(
            "phone",
            "phone",
            "$.Phone",
            region_from="country",
            description="The contact's business phone number (Phone).",
            role="phone",
            pii=True,
        ),
        Field(
            "date_of_birth",
            "date",
            "$.Birthdate",
            description="The contact's birthdate (Birthdate).",
            role="date_of_birth",
            pii=True,
        ),
        Field(
            "street",
            "string",
            "$.MailingStreet",
            description="The contact's mailing street (MailingStreet).",
            role="street",
            pii=True,
        ),
        Field(
            "city",
            "string",
            "$.MailingCity",
            description="The contact's mailing city (MailingCity).",
            role="city",
            pii=True,
        ),
        Field(
            "postcode",
            "string",
            "$.MailingPostalCode",
            description="The contact's mailing postal code (MailingPostalCode).",
            role="postcode",
            pii=True,
        ),
        Field(
            "country",
            "string",
            "$.MailingCountry",
            description="The contact's mailing country as entered (MailingCountry); its code is "
            "country_code.",
            role="country",
        ),
        Field(
            "country_code",
            "country",
            "$.MailingCountry",
            description="The contact's mailing country (MailingCountry) as a code.",
            role="country_code",
        ),
        Field("title", "string", "$.Title", description="The contact's job title (Title)."),
        Field(
            "lead_source",
            "string",
            "$.LeadSource",
            description="Where the contact came from (LeadSource picklist value).",
        ),
        Field(
            "email_opt_out",
            "boolean",
            "$.HasOptedOutOfEmail",
            description="Whether the contact opted out of email (HasOptedOutOfEmail).",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload={**SYSTEM_ENVELOPE, **lookup_envelope("Account")},
    extra_columns=full_name_from_parts,
    # The fields holding handles are custom fields of the org (CDP_SALESFORCE_CONTACTS_HANDLE_FIELDS).
    handle_path=field_path,
    description="Salesforce contacts (people): emails lowercased and checked, phones E.164, handles bare.",
)
