"""Facebook page posts: the brand's own posts (the parents of comments)."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field

ENTITY = CleansedEntity(
    source="facebook",
    entity="page_posts",
    raw_stream="page_posts",
    fields=(
        Field("post_id", "string", "$.id", required=True, json_type="string"),
        Field("text", "string", "$.message"),
        Field("created_at", "timestamp", "$.created_time", required=True, json_type="string"),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "post_id": columns.identifier(),
            "text": columns.text(),
            "created_at": columns.timestamp(nullable=False),
        }
    ),
    key_columns=("record_id", "post_id"),
    # Graph leaves ``message`` out of a post without text (a photo alone).
    expected_payload={"id": "string", "message": "string?", "created_time": "string"},
    description="Facebook page posts by the brand.",
)
