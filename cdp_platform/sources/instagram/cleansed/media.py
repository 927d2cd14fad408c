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
        Field(
            "media_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The media object's Instagram id (id).",
        ),
        # Graph leaves out an empty caption and a like count the owner hid.
        Field(
            "text",
            "string",
            "$.caption",
            may_be_absent=True,
            description="The media's caption (caption); null when it has none.",
        ),
        Field(
            "media_type",
            "string",
            "$.media_type",
            column=columns.one_of(MEDIA_TYPES),
            description=f"What was posted (media_type: {', '.join(MEDIA_TYPES)}).",
        ),
        Field(
            "permalink",
            "string",
            "$.permalink",
            description="The media's permanent URL on Instagram (permalink).",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.timestamp",
            required=True,
            json_type="string",
            description="When the media was published (timestamp).",
        ),
        Field(
            "like_count",
            "integer",
            "$.like_count",
            may_be_absent=True,
            description="Likes on the media (like_count); null when the owner hides the count.",
        ),
        Field(
            "comments_count",
            "integer",
            "$.comments_count",
            description="Comments on the media (comments_count).",
        ),
    ),
    key_columns=("record_id", "media_id"),
    description="Instagram media posted by the brand, with like and comment counts.",
)
