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
        Field("first_name", "name", "$.FirstName", role="first_name", pii=True),
        Field("last_name", "name", "$.LastName", role="last_name", pii=True),
        Field("full_name", "name", "$.Name", role="full_name", pii=True),
        Field("company", "string", "$.Company"),
        Field("title", "string", "$.Title"),
        Field("email", "email", "$.Email", role="email", pii=True),
        Field("phone", "phone", "$.Phone", region_from="country", role="phone", pii=True),
        Field("street", "string", "$.Street", role="street", pii=True),
        Field("city", "string", "$.City", role="city", pii=True),
        Field("postcode", "string", "$.PostalCode", role="postcode", pii=True),
        Field("country", "string", "$.Country", role="country"),
        Field("country_code", "country", "$.Country", role="country_code"),
        Field("lead_source", "string", "$.LeadSource"),
        Field("status", "string", "$.Status"),
        Field("is_converted", "boolean", "$.IsConverted"),
        Field("email_opt_out", "boolean", "$.HasOptedOutOfEmail", may_be_absent=True),
    ),
    key_columns=KEY_COLUMNS,
    envelope_payload=SYSTEM_ENVELOPE,
    extra_columns=_derive,
    # The fields holding handles are custom fields of the org (CDP_SALESFORCE_LEADS_HANDLE_FIELDS).
    handle_path=field_path,
    description="Salesforce leads (people not yet contacts): emails checked, phones E.164.",
)
