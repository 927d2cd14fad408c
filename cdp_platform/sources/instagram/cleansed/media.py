"""Instagram media: the brand's own posts (the parents of comments)."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field

MEDIA_TYPES = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM", "REELS")

ENTITY = CleansedEntity(
    source="instagram",
    entity="media",
    raw_stream="media",
    fields=(
        Field("media_id", "string", "$.id", required=True, json_type="string"),
        Field("text", "string", "$.caption"),
        Field("media_type", "string", "$.media_type"),
        Field("permalink", "string", "$.permalink"),
        Field("created_at", "timestamp", "$.timestamp", required=True, json_type="string"),
        Field("like_count", "integer", "$.like_count"),
        Field("comments_count", "integer", "$.comments_count"),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "media_id": columns.identifier(),
            "text": columns.text(),
            "media_type": columns.one_of(MEDIA_TYPES),
            "permalink": columns.text(),
            "created_at": columns.timestamp(nullable=False),
            "like_count": columns.count(),
            "comments_count": columns.count(),
        }
    ),
    key_columns=("record_id", "media_id"),
    # Graph leaves out an empty caption and a like count the owner hid.
    expected_payload={
        "id": "string",
        "caption": "string?",
        "media_type": "string",
        "permalink": "string",
        "timestamp": "string",
        "like_count": "number?",
        "comments_count": "number",
    },
    description="Instagram media posted by the brand, with like and comment counts.",
)
