"""Facebook page posts: the brand's own posts (the parents of comments)."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field

ENTITY = CleansedEntity(
    source="facebook",
    entity="page_posts",
    raw_stream="page_posts",
    fields=(
        Field(
            "post_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The page post's Graph id (id).",
        ),
        # Graph leaves ``message`` out of a post without text (a photo alone).
        Field(
            "text",
            "string",
            "$.message",
            may_be_absent=True,
            description="The post's text (message); null for a post without text (a photo alone).",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.created_time",
            required=True,
            json_type="string",
            description="When the page published the post (created_time).",
        ),
    ),
    key_columns=("record_id", "post_id"),
    description="Facebook page posts by the brand.",
)
