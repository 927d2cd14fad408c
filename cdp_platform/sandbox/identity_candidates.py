"""The identity input frame made from the bundled sandbox, with the true person of every row.

The real pipeline feeds :func:`cdp_platform.identity.resolve` from the dbt model
``int_identity_candidates`` (cleansed tables, the same columns). For tests and benchmarks this module
builds the same frame straight from the sandbox's vendor-shaped records: vendor field names are mapped
to the identity columns with light parsing only (Graph ``field_data`` lists flattened, GA's
``(not set)`` read as null); normalization is the resolver's job, so the noise the sandbox puts in
(case, spaces, phone formats, ``@handles`` and profile URLs) reaches the resolver as a vendor sends it.

The ``source`` column is ``<system>/<object>`` (``salesforce/contacts``): the resolver treats a
contact and a lead of one CRM as different objects. Streams used: the person-like ones: Salesforce
contacts and leads, HubSpot contacts, Facebook lead ads, the author of each Facebook post comment,
the username of each Instagram comment, the author of each Twitter mention, and the Google Analytics
rows of logged-in visitors (those that carry the CRM contact id). Company records, deals and brand
posts are not about a person and are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from cdp_platform.identity.normalize import INPUT_COLUMNS
from cdp_platform.sandbox.population import person_id
from cdp_platform.sandbox.records import SandboxData

IDENTITY_COLUMNS: tuple[str, ...] = INPUT_COLUMNS
IDENTITY_SCHEMA: dict[str, pl.DataType] = {column: pl.String() for column in IDENTITY_COLUMNS}

PERSON_STREAMS: tuple[str, ...] = (
    "salesforce/contacts",
    "salesforce/leads",
    "hubspot/contacts",
    "facebook/leads",
    "facebook/post_comments",
    "instagram/media_comments",
    "twitter/mentions",
    "google_analytics/user_daily_activity",
)
_GA_NOT_SET = "(not set)"

Row = dict[str, str | None]


@dataclass(frozen=True)
class SandboxCandidates:
    """The resolver's input (``records``) and the truth to grade it (``truth``: record_id, person_id,
    source, stream, household_of, namesake)."""

    records: pl.DataFrame
    truth: pl.DataFrame


def sandbox_candidates(data: SandboxData, streams: Iterable[str] = PERSON_STREAMS) -> SandboxCandidates:
    """Every record of the person-like ``streams`` as one identity input frame, with its truth."""
    rows: list[Row] = []
    truth_ids: list[str] = []
    truth_streams: list[str] = []
    truth_persons: list[int] = []
    for stream in streams:
        mapper = _MAPPERS[stream]
        persons = data.person_index(stream, range(data.count(stream)))
        for position in data.all_positions(stream):
            row = mapper(data, data.record(stream, position))
            if row is None:
                continue
            row["source"] = stream
            rows.append(row)
            truth_ids.append(row["record_id"] or "")
            truth_streams.append(stream)
            truth_persons.append(int(persons[position]))
    records = pl.DataFrame(rows, schema=IDENTITY_SCHEMA, orient="row") if rows else _empty()
    records = records.select(IDENTITY_COLUMNS)
    truth = _truth(data, truth_ids, truth_streams, truth_persons)
    return SandboxCandidates(records=records, truth=truth)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=IDENTITY_SCHEMA)


def _person_ids(index: np.ndarray) -> pl.Series:
    """``P0000042`` per person index (the truth's person ids), null where the index is -1."""
    return pl.Series("person_id", [person_id(i) if i >= 0 else None for i in index.tolist()], dtype=pl.String)


def _truth(data: SandboxData, ids: list[str], streams: list[str], persons: list[int]) -> pl.DataFrame:
    index = np.asarray(persons, dtype=np.int64)
    kinds = data.population.kinds(np.maximum(index, 0)) if index.size else np.zeros(0, dtype=np.int8)
    return pl.DataFrame(
        [
            pl.Series("record_id", ids, dtype=pl.String),
            _person_ids(index),
            pl.Series("source", [s.split("/", 1)[0] for s in streams], dtype=pl.String),
            pl.Series("stream", streams, dtype=pl.String),
            _person_ids(np.where(kinds == 1, index - 1, -1)).alias("household_of"),
            pl.Series("namesake", kinds == 2, dtype=pl.Boolean),
        ]
    )


# --- one mapper per stream: vendor record -> identity row (None: not about an identifiable person) ---


def _salesforce_contact(_: SandboxData, record: dict[str, Any]) -> Row:
    return {
        "record_id": record["Id"],
        "first_name": record.get("FirstName"),
        "last_name": record.get("LastName"),
        "full_name": record.get("Name"),
        "email": record.get("Email"),
        "phone": record.get("Phone"),
        "date_of_birth": record.get("Birthdate"),
        "street": record.get("MailingStreet"),
        "city": record.get("MailingCity"),
        "postcode": record.get("MailingPostalCode"),
        "country": record.get("MailingCountry"),
        "crm_id": record["Id"],
        "twitter_handle": record.get("Twitter_Handle__c"),
        "instagram_username": record.get("Instagram_Username__c"),
    }


def _salesforce_lead(_: SandboxData, record: dict[str, Any]) -> Row:
    return {
        "record_id": record["Id"],
        "first_name": record.get("FirstName"),
        "last_name": record.get("LastName"),
        "full_name": record.get("Name"),
        "email": record.get("Email"),
        "phone": record.get("Phone"),
        "street": record.get("Street"),
        "city": record.get("City"),
        "postcode": record.get("PostalCode"),
        "country": record.get("Country"),
        "crm_id": record["Id"],
        "twitter_handle": record.get("Twitter_Handle__c"),
    }


def _hubspot_contact(_: SandboxData, record: dict[str, Any]) -> Row:
    properties = record["properties"]
    return {
        "record_id": record["id"],
        "first_name": properties.get("firstname"),
        "last_name": properties.get("lastname"),
        "email": properties.get("email"),
        "phone": properties.get("phone"),
        "date_of_birth": properties.get("date_of_birth"),
        "street": properties.get("address"),
        "city": properties.get("city"),
        "postcode": properties.get("zip"),
        "country": properties.get("country"),
        "crm_id": record["id"],
        "twitter_handle": properties.get("twitterhandle"),
        "instagram_username": properties.get("instagram_username"),
    }


def _facebook_lead(_: SandboxData, record: dict[str, Any]) -> Row:
    fields = {field["name"]: (field.get("values") or [None])[0] for field in record.get("field_data", [])}
    return {
        "record_id": record["id"],
        "full_name": fields.get("full_name"),
        "email": fields.get("email"),
        "phone": fields.get("phone_number"),
        "city": fields.get("city"),
    }


def _facebook_comment(_: SandboxData, record: dict[str, Any]) -> Row | None:
    author = record.get("from") or {}
    if not author.get("id"):
        return None
    return {"record_id": record["id"], "full_name": author.get("name"), "facebook_id": author["id"]}


def _instagram_comment(_: SandboxData, record: dict[str, Any]) -> Row | None:
    if not record.get("username"):
        return None
    return {"record_id": record["id"], "instagram_username": record["username"]}


def _twitter_mention(data: SandboxData, record: dict[str, Any]) -> Row | None:
    # The API sends the author's profile in includes.users (expansions=author_id).
    user = data.twitter_user(record["author_id"])
    if user is None:
        return None
    return {"record_id": record["id"], "full_name": user.get("name"), "twitter_handle": user.get("username")}


def _ga_row(data: SandboxData, record: dict[str, Any]) -> Row | None:
    dimensions = record["dimensions"]
    crm_id = dimensions.get("customUser:crm_contact_id")
    if not crm_id or crm_id == _GA_NOT_SET:
        return None
    client_id = dimensions["customUser:ga_client_id"]
    return {"record_id": f"{dimensions['date']}:{client_id}", "crm_id": crm_id, "ga_client_id": client_id}


_MAPPERS: dict[str, Callable[[SandboxData, dict[str, Any]], Row | None]] = {
    "salesforce/contacts": _salesforce_contact,
    "salesforce/leads": _salesforce_lead,
    "hubspot/contacts": _hubspot_contact,
    "facebook/leads": _facebook_lead,
    "facebook/post_comments": _facebook_comment,
    "instagram/media_comments": _instagram_comment,
    "twitter/mentions": _twitter_mention,
    "google_analytics/user_daily_activity": _ga_row,
}
