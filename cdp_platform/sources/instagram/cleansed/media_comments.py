"""Instagram comments: who (``username``) said what on which media (the media id from the context)."""

from __future__ import annotations

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey

ENTITY = CleansedEntity(
    source="instagram",
    entity="media_comments",
    raw_stream="media_comments",
    person_keys=(PersonKey("instagram_username", "commenters"),),
    engagement_count="instagram_comments",
    fields=(
        Field(
            "comment_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The comment's Instagram id (id).",
        ),
        Field(
            "media_id",
            "string",
            "context:$.media_id",
            column=columns.reference(),
            description="The id of the media commented on (the media whose comments were listed).",
        ),
        Field(
            "text",
            "string",
            "$.text",
            may_be_absent=True,
            description="The comment's text (text); null when Graph leaves it out.",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.timestamp",
            required=True,
            json_type="string",
            description="When the comment was posted (timestamp).",
        ),
        Field(
            "instagram_username",
            "handle",
            "$.username",
            may_be_absent=True,
            description="The commenter's Instagram username (username).",
        ),
        Field(
            "like_count",
            "integer",
            "$.like_count",
            may_be_absent=True,
            description="Likes on the comment (like_count); null when Graph leaves it out.",
        ),
    ),
    key_columns=("record_id", "comment_id"),
    description="Instagram comments on the brand's media, with the commenter's username.",
)
