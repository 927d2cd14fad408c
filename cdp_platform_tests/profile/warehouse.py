"""A small crafted warehouse for the dbt project: the cleansed tables, exactly as the cleansed layer
writes them (their columns come from ``cleanse`` itself), filled with a handful of records whose
profile is known by hand, and the three Python tables between the dbt models.

The population:

- client ``C1`` (Ada): a Salesforce contact in two versions (the later one wins), a HubSpot
  contact, a GA4 visitor logged in as that HubSpot contact, a Twitter author with two tweets, a
  Facebook lead, a Facebook commenter, an Instagram commenter, two won purchases.
- client ``C2`` (Bob): two Salesforce leads, the later one with another email and a shorter name.
- client ``C3`` (Cy): two Facebook leads submitted at the same instant, one with a fuller address.
- client ``C4``: an anonymous GA4 visitor.
- a deleted Salesforce contact, which is nobody's profile.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from cdp_platform.cleansed import ENTITIES
from cdp_platform.cleansed.entity import cleanse


def ts(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


AS_OF = d("2025-03-31")

# record_id -> client_id: what the identity resolver would say about the candidates above.
CLIENT_OF = {
    "salesforce:contacts:SF1": "C1",
    "hubspot:contacts:HS1": "C1",
    "google_analytics:visitors:GA1": "C1",
    "twitter:authors:U1": "C1",
    "facebook:leads:FL1": "C1",
    "facebook:commenters:FB1": "C1",
    "instagram:commenters:ada_ig": "C1",
    "salesforce:leads:SL1": "C2",
    "salesforce:leads:SL2": "C2",
    "facebook:leads:FL2": "C3",
    "facebook:leads:FL3": "C3",
    "google_analytics:visitors:GA2": "C4",
}

SENTIMENT = {
    "twitter:mentions:T1": (0.8, "positive"),
    "twitter:mentions:T2": (-0.2, "negative"),
    "facebook:post_comments:FC1": (0.0, "neutral"),
    "instagram:media_comments:IC1": (0.6, "positive"),
}

SCORES = {"C1": {"p_alive": 0.9, "churn_probability": 0.1, "clv_12m": 320.5}}


def _ga(record_id: str, client: str, day: str, sessions: int, revenue: str, crm_id: str | None, **extra: Any):
    return {
        "record_id": record_id,
        "updated_at": extra.pop("updated_at", ts(day, 23)),
        "activity_date": d(day),
        "ga_client_id": client,
        "crm_id": crm_id,
        "source_medium": "google / organic",
        "sessions": sessions,
        "engaged_sessions": sessions,
        "page_views": 3 * sessions,
        "conversions": 1,
        "revenue": Decimal(revenue),
        "partition_date": extra.pop("partition_date", d(day)),
    }


ROWS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("salesforce", "contacts"): [
        # The older version: its email and name must not survive.
        {
            "record_id": "SF1",
            "crm_id": "SF1",
            "updated_at": ts("2025-02-01"),
            "is_deleted": False,
            "created_at": ts("2024-06-01"),
            "last_modified_at": ts("2025-02-01"),
            "first_name": "Adah",
            "last_name": "Lovelace",
            "full_name": "Adah Lovelace",
            "email": "old@sf.example",
            "city": "Paris",
            "partition_date": d("2025-02-01"),
        },
        {
            "record_id": "SF1",
            "crm_id": "SF1",
            "updated_at": ts("2025-03-01"),
            "is_deleted": False,
            "created_at": ts("2024-06-01"),
            "last_modified_at": ts("2025-03-01"),
            "first_name": "Ada",
            "last_name": "Lovelace",
            "full_name": "Ada Lovelace",
            "email": "ada@sf.example",
            "phone": None,
            "city": "London",
            "country": "United Kingdom",
            "account_id": "ACC1",
            "account_name": "Analytical Engines",
            "lead_source": "Web",
            "email_opt_out": False,
            "partition_date": d("2025-03-01"),
        },
        {
            "record_id": "SF9",
            "crm_id": "SF9",
            "updated_at": ts("2025-03-02"),
            "is_deleted": True,
            "created_at": ts("2024-01-01"),
            "last_modified_at": ts("2025-03-02"),
            "first_name": "Gone",
            "last_name": "Person",
            "email": "gone@sf.example",
            "partition_date": d("2025-03-02"),
        },
    ],
    ("salesforce", "leads"): [
        {
            "record_id": "SL1",
            "crm_id": "SL1",
            "updated_at": ts("2025-01-01"),
            "is_deleted": False,
            "created_at": ts("2024-12-01"),
            "last_modified_at": ts("2025-01-01"),
            "first_name": "Bob",
            "last_name": "Builder",
            "full_name": "Bob Builder",
            "email": "bob@old.example",
            "status": "Open",
            "partition_date": d("2025-01-01"),
        },
        {
            "record_id": "SL2",
            "crm_id": "SL2",
            "updated_at": ts("2025-02-01"),
            "is_deleted": False,
            "created_at": ts("2025-01-15"),
            "last_modified_at": ts("2025-02-01"),
            "full_name": "Bobby",
            "email": "bob@new.example",
            "status": "Working",
            "partition_date": d("2025-02-01"),
        },
    ],
    ("salesforce", "opportunities"): [
        {
            "record_id": "OP1",
            "crm_id": "OP1",
            "updated_at": ts("2025-02-15"),
            "is_deleted": False,
            "created_at": ts("2025-01-10"),
            "last_modified_at": ts("2025-02-15"),
            "contact_id": "SF1",
            "amount": Decimal("100.00"),
            "close_date": d("2025-02-15"),
            "is_won": True,
            "is_closed": True,
            "partition_date": d("2025-02-15"),
        },
        {
            "record_id": "OP2",
            "crm_id": "OP2",
            "updated_at": ts("2025-02-16"),
            "is_deleted": False,
            "created_at": ts("2025-01-10"),
            "last_modified_at": ts("2025-02-16"),
            "contact_id": "SF1",
            "amount": Decimal("999.00"),
            "close_date": d("2025-02-16"),
            "is_won": False,
            "is_closed": True,
            "partition_date": d("2025-02-16"),
        },
    ],
    ("salesforce", "accounts"): [
        {
            "record_id": "ACC1",
            "crm_id": "ACC1",
            "account_id": "ACC1",
            "updated_at": ts("2025-01-01"),
            "is_deleted": False,
            "account_name": "Analytical Engines",
            "partition_date": d("2025-01-01"),
        },
    ],
    ("hubspot", "contacts"): [
        {
            "record_id": "HS1",
            "crm_id": "HS1",
            "updated_at": ts("2025-03-10"),
            "archived": False,
            "created_at": ts("2024-07-01"),
            "last_modified_at": ts("2025-03-10"),
            "first_name": "Ada",
            "last_name": "L",
            "full_name": "Ada L",
            "email": "ada@hs.example",
            "phone": "+442071234567",
            "street": "12 Byron Road",
            "city": "London",
            "postcode": "N1 1AA",
            "country": "United Kingdom",
            "lifecycle_stage": "customer",
            "email_opt_out": True,
            "company_id": "CO1",
            "partition_date": d("2025-03-10"),
        },
    ],
    ("hubspot", "companies"): [
        {
            "record_id": "CO1",
            "crm_id": "CO1",
            "updated_at": ts("2025-01-01"),
            "archived": False,
            "company_name": "Engines Ltd",
            "partition_date": d("2025-01-01"),
        },
    ],
    ("hubspot", "deals"): [
        {
            "record_id": "D1",
            "crm_id": "D1",
            "updated_at": ts("2025-03-05"),
            "archived": False,
            "created_at": ts("2025-03-01"),
            "last_modified_at": ts("2025-03-05"),
            "contact_id": "HS1",
            "amount": Decimal("50.50"),
            "close_date": d("2025-03-05"),
            "is_won": True,
            "partition_date": d("2025-03-05"),
        },
    ],
    ("google_analytics", "user_daily_activity"): [
        # GA1 (Ada, logged in as HubSpot contact HS1): one day in each window edge.
        _ga("20250331:GA1", "GA1", "2025-03-31", 100, "0.00", "HS1"),  # superseded below
        _ga(
            "20250331:GA1",
            "GA1",
            "2025-03-31",
            1,
            "1.00",
            "HS1",
            updated_at=ts("2025-04-01", 6),
            partition_date=d("2025-04-01"),
        ),
        _ga("20250302:GA1", "GA1", "2025-03-02", 2, "2.00", None),  # as_of - 29: in the 30 days
        _ga("20250301:GA1", "GA1", "2025-03-01", 4, "4.00", "HS1"),  # as_of - 30: in the 90 days only
        _ga("20250101:GA1", "GA1", "2025-01-01", 8, "8.00", None),  # as_of - 89: in the 90 days
        _ga("20241231:GA1", "GA1", "2024-12-31", 16, "16.00", None),  # as_of - 90: lifetime only
        _ga("20250331:GA2", "GA2", "2025-03-31", 5, "0.00", None),
    ],
    ("facebook", "leads"): [
        {
            "record_id": "FL1",
            "lead_id": "FL1",
            "updated_at": ts("2025-03-15"),
            "created_at": ts("2025-03-15"),
            "email": "ada@fb.example",
            "full_name": "Ada Lovelace",
            "partition_date": d("2025-03-15"),
        },
        {
            "record_id": "FL2",
            "lead_id": "FL2",
            "updated_at": ts("2025-03-18"),
            "created_at": ts("2025-03-18"),
            "full_name": "Cy Young",
            "city": "Boston",
            "partition_date": d("2025-03-18"),
        },
        {
            "record_id": "FL3",
            "lead_id": "FL3",
            "updated_at": ts("2025-03-18"),
            "created_at": ts("2025-03-18"),
            "full_name": "Cy Young",
            "city": "Cambridge",
            "postcode": "02139",
            "country": "United States",
            "partition_date": d("2025-03-18"),
        },
    ],
    ("facebook", "page_posts"): [
        {
            "record_id": "P1",
            "post_id": "P1",
            "text": "New engine!",
            "updated_at": ts("2025-03-19"),
            "created_at": ts("2025-03-19"),
            "partition_date": d("2025-03-19"),
        },
    ],
    ("facebook", "post_comments"): [
        {
            "record_id": "FC1",
            "comment_id": "FC1",
            "post_id": "P1",
            "text": "Fine.",
            "facebook_id": "FB1",
            "full_name": "Ada Lovelace",
            "updated_at": ts("2025-03-22"),
            "created_at": ts("2025-03-22"),
            "partition_date": d("2025-03-22"),
        },
    ],
    ("instagram", "media"): [
        {
            "record_id": "M1",
            "media_id": "M1",
            "text": "Engine",
            "updated_at": ts("2025-03-19"),
            "created_at": ts("2025-03-19"),
            "partition_date": d("2025-03-19"),
        },
    ],
    ("instagram", "media_comments"): [
        {
            "record_id": "IC1",
            "comment_id": "IC1",
            "media_id": "M1",
            "text": "Nice",
            "instagram_username": "ada_ig",
            "updated_at": ts("2025-03-23"),
            "created_at": ts("2025-03-23"),
            "partition_date": d("2025-03-23"),
        },
    ],
    ("twitter", "mentions"): [
        {
            "record_id": "T1",
            "tweet_id": "T1",
            "text": "love it",
            "author_id": "U1",
            "twitter_handle": "ada",
            "full_name": "Ada Lovelace",
            "updated_at": ts("2025-03-20"),
            "created_at": ts("2025-03-20"),
            "partition_date": d("2025-03-20"),
        },
        {
            "record_id": "T2",
            "tweet_id": "T2",
            "text": "meh",
            "author_id": "U1",
            "twitter_handle": "ada_l",
            "full_name": "Ada Lovelace",
            "updated_at": ts("2025-03-25"),
            "created_at": ts("2025-03-25"),
            "partition_date": d("2025-03-25"),
        },
    ],
}

_RAW_SCHEMA = {
    "record_id": pl.String,
    "updated_at": pl.Datetime("us", "UTC"),
    "payload": pl.String,
    "context": pl.String,
}


def cleansed_frame(source: str, entity: str, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """``rows`` in the exact columns and types the cleansed layer writes for the entity."""
    spec = next(e for e in ENTITIES if (e.source, e.entity) == (source, entity))
    schema = cleanse(pl.DataFrame(schema=_RAW_SCHEMA), spec, dt.date(2025, 1, 1)).clean.schema
    unknown = {name for row in rows for name in row} - set(schema)
    if unknown:
        raise KeyError(f"{source}/{entity} has no columns {sorted(unknown)}")
    return pl.DataFrame(
        [{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row"
    )


def write_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841  (DuckDB reads the Python variable by name)
    connection.execute(f'create schema if not exists "{schema}"')
    connection.execute(f'create or replace table "{schema}"."{table}" as select * from arrow')


def write_cleansed(connection: duckdb.DuckDBPyConnection) -> None:
    for spec in ENTITIES:
        frame = cleansed_frame(spec.source, spec.entity, ROWS.get((spec.source, spec.entity), []))
        write_table(connection, spec.schema_name, spec.entity, frame)


def identity_map_frame(candidate_ids: Sequence[str]) -> pl.DataFrame:
    """The crafted resolution of ``candidate_ids``; an unexpected candidate fails loudly."""
    unknown = sorted(set(candidate_ids) - set(CLIENT_OF))
    if unknown:
        raise KeyError(f"candidates the test population does not expect: {unknown}")
    return pl.DataFrame(
        {
            "record_id": list(candidate_ids),
            "client_id": [CLIENT_OF[r] for r in candidate_ids],
            "link_rule": ["crafted"] * len(candidate_ids),
            "match_probability": [None] * len(candidate_ids),
            "link_evidence": [None] * len(candidate_ids),
        },
        schema={
            "record_id": pl.String,
            "client_id": pl.String,
            "link_rule": pl.String,
            "match_probability": pl.Float64,
            "link_evidence": pl.String,
        },
    )


def sentiment_frame(interaction_ids: Sequence[str]) -> pl.DataFrame:
    scored = [i for i in interaction_ids if i in SENTIMENT]
    return pl.DataFrame(
        {
            "interaction_id": scored,
            "sentiment_compound": [SENTIMENT[i][0] for i in scored],
            "sentiment_label": [SENTIMENT[i][1] for i in scored],
        },
        schema={"interaction_id": pl.String, "sentiment_compound": pl.Float64, "sentiment_label": pl.String},
    )


def scores_frame(client_ids: Sequence[str]) -> pl.DataFrame:
    columns = (
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "churn_probability",
        "expected_purchases_90d",
        "expected_average_value",
        "clv_12m",
    )
    return pl.DataFrame(
        [{"client_id": c, **{k: SCORES.get(c, {}).get(k) for k in columns}} for c in client_ids],
        schema={"client_id": pl.String, **{k: pl.Float64 for k in columns}},
        orient="row",
    )
