"""Facebook Lead Ads leads: the form's answers pivoted to person columns.

``field_data`` is a list of ``{name, values}``; the ``prepare`` step pivots the questions the
platform knows (email, full_name, phone_number, city...) to one column each, with a JSONPath filter
per question, so a malformed list yields no answer instead of breaking the frame. Graph documents
``created_time`` as a string: unix seconds are quarantined as ``wrong_type``, another format as
``unparseable_timestamp``; an email without ``@`` as ``invalid_email``.
"""

from __future__ import annotations

import polars as pl

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import full_name_from_parts, parts_from_full_name
from cdp_platform.cleansed.entity import RAW_PAYLOAD, CleansedEntity, Field, PersonKey

# Lead Ads standard questions → cleansed columns (first/last name appear on some forms instead of
# full_name; both are kept and completed from each other).
QUESTIONS = {
    "email": "email",
    "full_name": "full_name",
    "first_name": "first_name",
    "last_name": "last_name",
    "phone_number": "phone",
    "street_address": "street",
    "city": "city",
    "zip_code": "postcode",
    "country": "country",
    "date_of_birth": "date_of_birth",
}


def pivot_field_data(frame: pl.DataFrame) -> pl.DataFrame:
    answers = frame.with_columns(
        pl.col(RAW_PAYLOAD)
        .str.json_path_match(f"$.field_data[?(@.name == '{question}')].values[0]")
        .alias(column)
        for question, column in QUESTIONS.items()
    )
    return answers.with_columns(pl.col("country").alias("country_code"))


def _derive(frame: pl.DataFrame) -> pl.DataFrame:
    return full_name_from_parts(parts_from_full_name(frame))


ENTITY = CleansedEntity(
    source="facebook",
    entity="leads",
    raw_stream="leads",
    person_keys=(PersonKey("record_id", "leads"),),
    engagement_count="lead_forms",
    fields=(
        Field("lead_id", "string", "$.id", required=True, json_type="string", column=columns.identifier()),
        Field("created_at", "timestamp", "$.created_time", required=True, json_type="string"),
        Field("ad_id", "string", "$.ad_id", may_be_absent=True, column=columns.reference()),
        Field("form_id", "string", "$.form_id", may_be_absent=True, column=columns.reference()),
        Field("email", "email"),
        Field("full_name", "name"),
        Field("first_name", "name"),
        Field("last_name", "name"),
        Field("phone", "phone", region_from="country"),
        Field("street", "string"),
        Field("city", "string"),
        Field("postcode", "string"),
        Field("country", "string"),
        Field("country_code", "country"),
        Field("date_of_birth", "date"),
    ),
    key_columns=("record_id", "lead_id"),
    # The answers, read by ``prepare`` (the person fields above have no path of their own).
    envelope_payload={"field_data": "array"},
    prepare=pivot_field_data,
    extra_columns=_derive,
    description="Facebook Lead Ads leads: answers pivoted to email, names, phone (E.164), city.",
)
