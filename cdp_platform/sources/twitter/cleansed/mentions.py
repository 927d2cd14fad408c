"""Tweets mentioning the brand, with the author from the response's ``includes.users`` (the context).

Twitter documents ids as strings: one served as a number is quarantined as ``wrong_type``;
``created_at`` in another format as ``unparseable_timestamp``. Public metrics served as strings
are still read (the drift check names them). An author the API could not return (suspended)
leaves the author columns null.
"""

from __future__ import annotations

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
        Field("tweet_id", "string", "$.id", required=True, json_type="string", column=columns.identifier()),
        Field("text", "string", "$.text"),
        Field("created_at", "timestamp", "$.created_at", required=True, json_type="string"),
        Field("lang", "string", "$.lang", may_be_absent=True),
        Field("author_id", "string", "$.author_id", json_type="string", column=columns.reference()),
        Field("twitter_handle", "handle", "context:$.author.username"),
        Field("full_name", "display_name", "context:$.author.name"),
        *(Field(metric, "integer", f"$.public_metrics.{metric}", may_be_absent=True) for metric in METRICS),
        Field("first_name", "name", computed=True),
        Field("last_name", "name", computed=True),
    ),
    key_columns=("record_id", "tweet_id"),
    # Every tweet lists its versions' ids (an array: drift does not enter it).
    envelope_payload={"edit_history_tweet_ids": "array"},
    extra_columns=parts_from_full_name,
    description="Tweets mentioning the brand, with the author's handle and name.",
)
