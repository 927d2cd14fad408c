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
        Field("account_id", "string", "$.Id", column=columns.identifier()),
        Field("account_name", "string", "$.Name"),
        Field("account_type", "string", "$.Type"),
        Field("industry", "string", "$.Industry"),
        Field("city", "string", "$.BillingCity"),
        Field("country", "string", "$.BillingCountry"),
        Field("country_code", "country", "$.BillingCountry"),
        Field("phone", "phone", "$.Phone", region_from="country"),
        Field("website", "string", "$.Website"),
        Field("employees", "integer", "$.NumberOfEmployees"),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=SYSTEM_ENVELOPE,
    description="Salesforce accounts (companies), typed; phones E.164.",
)
