"""Tweets mentioning the brand, with the author from the response's ``includes.users`` (the context).

Twitter documents ids as strings: one served as a number is quarantined as ``wrong_type``;
``created_at`` in another format as ``unparseable_timestamp``. Public metrics served as strings
are still read (the drift check names them). An author the API could not return (suspended)
leaves the author columns null.
"""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import parts_from_full_name
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey

METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count", "impression_count")

ENTITY = CleansedEntity(
    source="twitter",
    entity="mentions",
    raw_stream="mentions",
    person_keys=(PersonKey("author_id", "authors"),),
    engagement_count="twitter_mentions",
    fields=(
        Field("tweet_id", "string", "$.id", required=True, json_type="string"),
        Field("text", "string", "$.text"),
        Field("created_at", "timestamp", "$.created_at", required=True, json_type="string"),
        Field("lang", "string", "$.lang"),
        Field("author_id", "string", "$.author_id", json_type="string"),
        Field("twitter_handle", "handle", "context:$.author.username"),
        Field("full_name", "display_name", "context:$.author.name"),
        *(Field(metric, "integer", f"$.public_metrics.{metric}") for metric in METRICS),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "tweet_id": columns.identifier(),
            "text": columns.text(),
            "created_at": columns.timestamp(nullable=False),
            "lang": columns.text(),
            "author_id": columns.reference(),
            "twitter_handle": columns.handle(),
            **columns.name_columns(),
            **{metric: columns.count() for metric in METRICS},
        }
    ),
    key_columns=("record_id", "tweet_id"),
    expected_payload={
        "id": "string",
        "text": "string",
        "edit_history_tweet_ids": "array",
        "author_id": "string",
        "created_at": "string",
        "lang": "string?",
        "public_metrics": "object?",
        **{f"public_metrics.{metric}": "number?" for metric in METRICS},
    },
    extra_columns=parts_from_full_name,
    description="Tweets mentioning the brand, with the author's handle and name.",
)
