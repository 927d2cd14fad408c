"""Salesforce leads: people captured before they became contacts."""

from __future__ import annotations

import polars as pl

from cdp_platform.cleansed.derived import full_name_from_parts, null_placeholders
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_ENVELOPE,
    SYSTEM_FIELDS,
    field_path,
)

# Salesforce requires Company on a lead, so web forms fill in this placeholder when nobody gave one.
COMPANY_PLACEHOLDERS = ("[not provided]",)


def _derive(frame: pl.DataFrame) -> pl.DataFrame:
    return full_name_from_parts(frame.with_columns(null_placeholders("company", COMPANY_PLACEHOLDERS)))


ENTITY = CleansedEntity(
    source="salesforce",
    entity="leads",
    raw_stream="leads",
    person_keys=(PersonKey("record_id", "leads"),),
    placeholders=COMPANY_PLACEHOLDERS,
    exclusive=True,
    fields=(
        *SYSTEM_FIELDS,
        Field(
            "first_name",
            "name",
            "$.FirstName",
            role="first_name",
            pii=True,
            description="The lead's first name (FirstName).",
        ),
        Field(
            "last_name",
            "name",
            "$.LastName",
            role="last_name",
            pii=True,
            description="The lead's last name (LastName).",
        ),
        Field(
            "full_name",
            "name",
            "$.Name",
            role="full_name",
            pii=True,
            description="The lead's full name (Name); first and last name joined when absent.",
        ),
        Field(
            "company",
            "string",
            "$.Company",
            description=f"The lead's company (Company, which Salesforce requires); null where a web "
            f"form wrote {COMPANY_PLACEHOLDERS[0]}.",
        ),
        Field("title", "string", "$.Title", description="The lead's job title (Title)."),
        Field(
            "email",
            "email",
            "$.Email",
            role="email",
            pii=True,
            description="The lead's email address (Email).",
        ),
        Field(
            "phone",
            "phone",
            "$.Phone",
            region_from="country",
            role="phone",
            pii=True,
            description="The lead's phone number (Phone).",
        ),
        Field(
            "street", "string", "$.Street", role="street", pii=True, description="The lead's street (Street)."
        ),
        Field("city", "string", "$.City", role="city", pii=True, description="The lead's city (City)."),
        Field(
            "postcode",
            "string",
            "$.PostalCode",
            role="postcode",
            pii=True,
            description="The lead's postal code (PostalCode).",
        ),
        Field(
            "country",
            "string",
            "$.Country",
            role="country",
            description="The lead's country as entered (Country); its code is country_code.",
        ),
        Field(
            "country_code",
            "country",
            "$.Country",
            role="country_code",
            description="The lead's country (Country) as a code.",
        ),
        Field(
            "lead_source",
            "string",
            "$.LeadSource",
            description="Where the lead came from (LeadSource picklist value).",
        ),
        Field(
            "status",
            "string",
            "$.Status",
            description="The lead's status (Status picklist value, e.g. Open - Not Contacted).",
        ),
        Field(
            "is_converted",
            "boolean",
            "$.IsConverted",
            description="Whether the lead was converted into a contact, an account and an opportunity "
            "(IsConverted).",
        ),
        Field(
            "email_opt_out",
            "boolean",
            "$.HasOptedOutOfEmail",
            may_be_absent=True,
            description="Whether the lead opted out of email (HasOptedOutOfEmail); null when the "
            "record leaves it out.",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=SYSTEM_ENVELOPE,
    extra_columns=_derive,
    # The fields holding handles are custom fields of the org (CDP_SALESFORCE_LEADS_HANDLE_FIELDS).
    handle_path=field_path,
    description="Salesforce leads (people not yet contacts): emails checked, phones E.164.",
)
