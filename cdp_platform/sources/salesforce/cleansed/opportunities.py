"""Salesforce opportunities: deals, won ones being purchases; the account flattened."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_COLUMNS,
    SYSTEM_FIELDS,
    SYSTEM_PAYLOAD,
    lookup_payload,
)

ENTITY = CleansedEntity(
    source="salesforce",
    entity="opportunities",
    raw_stream="opportunities",
    # A purchase belongs to its buyer.
    person_keys=(PersonKey("contact_id", "contacts"),),
    fields=(
        *SYSTEM_FIELDS,
        Field("opportunity_name", "string", "$.Name"),
        Field("account_id", "string", "$.AccountId"),
        Field("account_name", "string", "$.Account.Name"),
        Field("contact_id", "string", "$.ContactId"),
        Field("amount", "amount", "$.Amount"),
        Field("close_date", "date", "$.CloseDate"),
        Field("stage", "string", "$.StageName"),
        Field("probability", "float", "$.Probability"),
        Field("is_closed", "boolean", "$.IsClosed"),
        Field("is_won", "boolean", "$.IsWon"),
        Field("opportunity_type", "string", "$.Type"),
        Field("lead_source", "string", "$.LeadSource"),
    ),
    schema=pa.DataFrameSchema(
        {
            **SYSTEM_COLUMNS,
            "opportunity_name": columns.text(),
            "account_id": columns.reference(),
            "account_name": columns.text(),
            "contact_id": columns.reference(),
            "amount": columns.amount(),
            "close_date": columns.day(),
            "stage": columns.text(),
            "probability": pa.Column(float, nullable=True, checks=pa.Check.in_range(0, 100)),
            "is_closed": columns.flag(),
            "is_won": columns.flag(),
            "opportunity_type": columns.text(),
            "lead_source": columns.text(),
        }
    ),
    key_columns=KEY_COLUMNS,
    expected_payload={
        **SYSTEM_PAYLOAD,
        "Name": "string",
        "AccountId": "string",
        **lookup_payload("Account"),
        "ContactId": "string",
        "Amount": "number",
        "CloseDate": "string",
        "StageName": "string",
        "Probability": "number",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "Type": "string",
        "LeadSource": "string",
    },
    description="Salesforce opportunities (deals; won = purchases): amounts Decimal, close dates.",
)
