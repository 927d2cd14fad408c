"""Salesforce opportunities: deals, won ones being purchases; the account flattened."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_ENVELOPE,
    SYSTEM_FIELDS,
    lookup_envelope,
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
        Field("account_id", "string", "$.AccountId", column=columns.reference()),
        Field("account_name", "string", "$.Account.Name"),
        Field("contact_id", "string", "$.ContactId", column=columns.reference()),
        Field("amount", "amount", "$.Amount"),
        Field("close_date", "date", "$.CloseDate"),
        Field("stage", "string", "$.StageName"),
        Field(
            "probability",
            "float",
            "$.Probability",
            column=pa.Column(float, nullable=True, checks=pa.Check.in_range(0, 100)),
        ),
        Field("is_closed", "boolean", "$.IsClosed"),
        Field("is_won", "boolean", "$.IsWon"),
        Field("opportunity_type", "string", "$.Type"),
        Field("lead_source", "string", "$.LeadSource"),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload={**SYSTEM_ENVELOPE, **lookup_envelope("Account")},
    description="Salesforce opportunities (deals; won = purchases): amounts Decimal, close dates.",
)
