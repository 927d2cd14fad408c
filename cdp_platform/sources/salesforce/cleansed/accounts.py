"""Salesforce accounts: the companies the CRM sells to."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_ENVELOPE,
    SYSTEM_FIELDS,
)

ENTITY = CleansedEntity(
    source="salesforce",
    entity="accounts",
    raw_stream="accounts",
    fields=(
        *SYSTEM_FIELDS,
        Field(
            "account_id",
            "string",
            "$.Id",
            column=columns.identifier(),
            description="The account's Salesforce id (Id): what contacts and opportunities name as AccountId.",
        ),
        Field("account_name", "string", "$.Name", description="The account's name (Name): the company."),
        Field("account_type", "string", "$.Type", description="The account's type (Type picklist value)."),
        Field(
            "industry",
            "string",
            "$.Industry",
            description="The account's industry (Industry picklist value).",
        ),
        Field("city", "string", "$.BillingCity", description="The account's billing city (BillingCity)."),
        Field(
            "country",
            "string",
            "$.BillingCountry",
            description="The account's billing country as entered (BillingCountry); its code is country_code.",
        ),
        Field(
            "country_code",
            "country",
            "$.BillingCountry",
            description="The account's billing country (BillingCountry) as a code.",
        ),
        Field(
            "phone",
            "phone",
            "$.Phone",
            region_from="country",
            description="The account's main phone number (Phone).",
        ),
        Field("website", "string", "$.Website", description="The account's website (Website), as entered."),
        Field(
            "employees",
            "integer",
            "$.NumberOfEmployees",
            description="The account's number of employees (NumberOfEmployees).",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=SYSTEM_ENVELOPE,
    description="Salesforce accounts (companies), typed; phones E.164.",
)
