"""Instagram comments: who (``username``) said what on which media (the media id from the context)."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey

ENTITY = CleansedEntity(
    source="instagram",
    entity="media_comments",
    raw_stream="media_comments",
    person_keys=(PersonKey("instagram_username", "commenters"),),
    engagement_count="instagram_comments",
    fields=(
        Field("comment_id", "string", "$.id", required=True, json_type="string"),
        Field("media_id", "string", "context:$.media_id"),
        Field("text", "string", "$.text"),
        Field("created_at", "timestamp", "$.timestamp", required=True, json_type="string"),
        Field("instagram_username", "handle", "$.username"),
        Field("like_count", "integer", "$.like_count"),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "comment_id": columns.identifier(),
            "media_id": columns.reference(),
            "text": columns.text(),
            "created_at": columns.timestamp(nullable=False),
            "instagram_username": columns.handle(),
            "like_count": columns.count(),
        }
    ),
    key_columns=("record_id", "comment_id"),
    expected_payload={
        "id": "string",
        "text": "string?",
        "timestamp": "string",
        "username": "string?",
        "like_count": "number?",
    },
    description="Instagram comments on the brand's media, with the commenter's username.",
)
