"""Salesforce leads: people captured before they became contacts."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import full_name_from_parts, null_placeholders
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_COLUMNS,
    SYSTEM_FIELDS,
    SYSTEM_PAYLOAD,
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
    fields=(
        *SYSTEM_FIELDS,
        Field("first_name", "name", "$.FirstName"),
        Field("last_name", "name", "$.LastName"),
        Field("full_name", "name", "$.Name"),
        Field("company", "string", "$.Company"),
        Field("title", "string", "$.Title"),
        Field("email", "email", "$.Email"),
        Field("phone", "phone", "$.Phone", region_from="country"),
        Field("street", "string", "$.Street"),
        Field("city", "string", "$.City"),
        Field("postcode", "string", "$.PostalCode"),
        Field("country", "string", "$.Country"),
        Field("country_code", "country", "$.Country"),
        Field("lead_source", "string", "$.LeadSource"),
        Field("status", "string", "$.Status"),
        Field("is_converted", "boolean", "$.IsConverted"),
        Field("email_opt_out", "boolean", "$.HasOptedOutOfEmail"),
        Field("twitter_handle", "handle", "$.Twitter_Handle__c"),
    ),
    schema=pa.DataFrameSchema(
        {
            **SYSTEM_COLUMNS,
            **columns.person_columns(),
            "company": columns.text(),
            "title": columns.text(),
            "street": columns.text(),
            "city": columns.text(),
            "postcode": columns.text(),
            "country": columns.text(),
            "country_code": columns.country_code(),
            "lead_source": columns.text(),
            "status": columns.text(),
            "is_converted": columns.flag(),
            "email_opt_out": columns.flag(),
            "twitter_handle": columns.handle(),
        }
    ),
    key_columns=KEY_COLUMNS,
    expected_payload={
        **SYSTEM_PAYLOAD,
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Company": "string",
        "Title": "string",
        "Email": "string",
        "Phone": "string",
        "Street": "string",
        "City": "string",
        "PostalCode": "string",
        "Country": "string",
        "LeadSource": "string",
        "Status": "string",
        "IsConverted": "boolean",
        "HasOptedOutOfEmail": "boolean?",
        "Twitter_Handle__c": "string",
    },
    extra_columns=_derive,
    description="Salesforce leads (people not yet contacts): emails checked, phones E.164.",
)
