"""Salesforce contacts: people, with their account flattened (``Account.Name`` → ``account_name``)."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import full_name_from_parts
from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.sources.salesforce.cleansed.system import (
    KEY_COLUMNS,
    SYSTEM_COLUMNS,
    SYSTEM_FIELDS,
    SYSTEM_PAYLOAD,
    lookup_payload,
)

ENTITY = CleansedEntity(
    source="salesforce",
    entity="contacts",
    raw_stream="contacts",
    fields=(
        *SYSTEM_FIELDS,
        Field("account_id", "string", "$.AccountId"),
        Field("account_name", "string", "$.Account.Name"),
        Field("first_name", "name", "$.FirstName"),
        Field("last_name", "name", "$.LastName"),
        Field("full_name", "name", "$.Name"),
        Field("email", "email", "$.Email"),
        Field("phone", "phone", "$.Phone", region_from="country"),
        Field("date_of_birth", "date", "$.Birthdate"),
        Field("street", "string", "$.MailingStreet"),
        Field("city", "string", "$.MailingCity"),
        Field("postcode", "string", "$.MailingPostalCode"),
        Field("country", "string", "$.MailingCountry"),
        Field("country_code", "country", "$.MailingCountry"),
        Field("title", "string", "$.Title"),
        Field("lead_source", "string", "$.LeadSource"),
        Field("email_opt_out", "boolean", "$.HasOptedOutOfEmail"),
        Field("twitter_handle", "handle", "$.Twitter_Handle__c"),
        Field("instagram_username", "handle", "$.Instagram_Username__c"),
    ),
    schema=pa.DataFrameSchema(
        {
            **SYSTEM_COLUMNS,
            **columns.person_columns(),
            "account_id": columns.reference(),
            "account_name": columns.text(),
            "date_of_birth": columns.day(),
            "street": columns.text(),
            "city": columns.text(),
            "postcode": columns.text(),
            "country": columns.text(),
            "country_code": columns.country_code(),
            "title": columns.text(),
            "lead_source": columns.text(),
            "email_opt_out": columns.flag(),
            "twitter_handle": columns.handle(),
            "instagram_username": columns.handle(),
        }
    ),
    key_columns=KEY_COLUMNS,
    expected_payload={
        **SYSTEM_PAYLOAD,
        "AccountId": "string",
        **lookup_payload("Account"),
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Email": "string",
        "Phone": "string",
        "Birthdate": "string",
        "MailingStreet": "string",
        "MailingCity": "string",
        "MailingPostalCode": "string",
        "MailingCountry": "string",
        "Title": "string",
        "LeadSource": "string",
        "HasOptedOutOfEmail": "boolean",
        "Twitter_Handle__c": "string",
        "Instagram_Username__c": "string",
    },
    extra_columns=full_name_from_parts,
    description="Salesforce contacts (people): emails lowercased and checked, phones E.164, handles bare.",
)
