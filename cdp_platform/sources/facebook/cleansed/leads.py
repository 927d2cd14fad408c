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


def _answer(question: str) -> str:
    return f"The person's answer to the form's standard question {question} (the first value in field_data)"


def _derive(frame: pl.DataFrame) -> pl.DataFrame:
    return full_name_from_parts(parts_from_full_name(frame))


ENTITY = CleansedEntity(
    source="facebook",
    entity="leads",
    raw_stream="leads",
    person_keys=(PersonKey("record_id", "leads"),),
    engagement_count="lead_forms",
    fields=(
        Field(
            "lead_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The lead's Graph id (id).",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.created_time",
            required=True,
            json_type="string",
            description="When the person submitted the Lead Ads form (created_time).",
        ),
        Field(
            "ad_id",
            "string",
            "$.ad_id",
            may_be_absent=True,
            column=columns.reference(),
            description="The id of the ad the form was submitted from (ad_id); null when Graph names none.",
        ),
        Field(
            "form_id",
            "string",
            "$.form_id",
            may_be_absent=True,
            column=columns.reference(),
            description="The id of the Lead Ads form (form_id).",
        ),
        Field("email", "email", description=_answer("email")),
        Field(
            "full_name",
            "name",
            description=_answer("full_name") + ", else the answers to first_name and last_name joined",
        ),
        Field("first_name", "name", description=_answer("first_name") + ", else the first word of full_name"),
        Field(
            "last_name",
            "name",
            description=_answer("last_name") + ", else the last word of full_name when it has more than one",
        ),
        Field("phone", "phone", region_from="country", description=_answer("phone_number")),
        Field("street", "string", description=_answer("street_address")),
        Field("city", "string", description=_answer("city")),
        Field("postcode", "string", description=_answer("zip_code")),
        Field("country", "string", description=_answer("country") + ", as typed; its code is country_code"),
        Field("country_code", "country", description=_answer("country") + ", as a code"),
        Field("date_of_birth", "date", description=_answer("date_of_birth")),
    ),
    key_columns=("record_id", "lead_id"),
    # The answers, read by ``prepare`` (the person fields above have no path of their own).
    envelope_payload={"field_data": "array"},
    prepare=pivot_field_data,
    extra_columns=_derive,
    description="Facebook Lead Ads leads: answers pivoted to email, names, phone (E.164), city.",
)
