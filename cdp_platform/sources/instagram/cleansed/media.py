"""Instagram media: the brand's own posts (the parents of comments)."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field

MEDIA_TYPES = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM", "REELS")

ENTITY = CleansedEntity(
    source="instagram",
    entity="media",
    raw_stream="media",
    fields=(
        Field("media_id", "string", "$.id", required=True, json_type="string", column=columns.identifier()),
        # Graph leaves out an empty caption and a like count the owner hid.
        Field("text", "string", "$.caption", may_be_absent=True),
        Field("media_type", "string", "$.media_type", column=columns.one_of(MEDIA_TYPES)),
        Field("permalink", "string", "$.permalink"),
        Field("created_at", "timestamp", "$.timestamp", required=True, json_type="string"),
        Field("like_count", "integer", "$.like_count", may_be_absent=True),
        Field("comments_count", "integer", "$.comments_count"),
    ),
    key_columns=("record_id", "media_id"),
    description="Instagram media posted by the brand, with like and comment counts.",
)
