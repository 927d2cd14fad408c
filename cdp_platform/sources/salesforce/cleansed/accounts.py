"""Salesforce accounts: the companies the CRM sells to."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_COLUMNS,
    SYSTEM_FIELDS,
    SYSTEM_PAYLOAD,
)

ENTITY = CleansedEntity(
    source="salesforce",
    entity="accounts",
    raw_stream="accounts",
    fields=(
        *SYSTEM_FIELDS,
        Field("account_id", "string", "$.Id"),
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
    schema=pa.DataFrameSchema(
        {
            **SYSTEM_COLUMNS,
            "account_id": columns.identifier(),
            "account_name": columns.text(),
            "account_type": columns.text(),
            "industry": columns.text(),
            "city": columns.text(),
            "country": columns.text(),
            "country_code": columns.country_code(),
            "phone": columns.phone(),
            "website": columns.text(),
            "employees": columns.count(),
        }
    ),
    key_columns=KEY_COLUMNS,
    expected_payload={
        **SYSTEM_PAYLOAD,
        "Name": "string",
        "Type": "string",
        "Industry": "string",
        "BillingCity": "string",
        "BillingCountry": "string",
        "Phone": "string",
        "Website": "string",
        "NumberOfEmployees": "number",
    },
    description="Salesforce accounts (companies), typed; phones E.164.",
)
