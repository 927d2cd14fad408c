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
        Field("opportunity_name", "string", "$.Name", description="The opportunity's name (Name)."),
        Field(
            "account_id",
            "string",
            "$.AccountId",
            column=columns.reference(),
            description="The Salesforce id of the account the opportunity is with (AccountId).",
        ),
        Field(
            "account_name",
            "string",
            "$.Account.Name",
            description="The name of that account (Name of the Account lookup).",
        ),
        Field(
            "contact_id",
            "string",
            "$.ContactId",
            column=columns.reference(),
            description="The Salesforce id of the opportunity's contact (ContactId): the buyer of a won one.",
        ),
        Field(
            "amount",
            "amount",
            "$.Amount",
            description="The opportunity's amount (Amount, a currency field sent as a JSON number).",
        ),
        Field(
            "close_date",
            "date",
            "$.CloseDate",
            description="The opportunity's close date (CloseDate): expected while open, actual once closed.",
        ),
        Field(
            "stage",
            "string",
            "$.StageName",
            description="The opportunity's stage (StageName picklist value).",
        ),
        Field(
            "probability",
            "float",
            "$.Probability",
            column=pa.Column(float, nullable=True, checks=pa.Check.in_range(0, 100)),
            description="The likelihood of closing, in percent from 0 to 100 (Probability, which the stage "
            "sets unless a user changed it).",
        ),
        Field(
            "is_closed",
            "boolean",
            "$.IsClosed",
            description="Whether the opportunity is closed, won or lost (IsClosed).",
        ),
        Field(
            "is_won",
            "boolean",
            "$.IsWon",
            description="Whether the opportunity is closed won (IsWon): a won opportunity is a purchase.",
        ),
        Field(
            "opportunity_type",
            "string",
            "$.Type",
            description="The opportunity's type (Type picklist value).",
        ),
        Field(
            "lead_source",
            "string",
            "$.LeadSource",
            description="Where the opportunity came from (LeadSource picklist value).",
        ),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload={**SYSTEM_ENVELOPE, **lookup_envelope("Account")},
    description="Salesforce opportunities (deals; won = purchases): amounts Decimal, close dates.",
)
