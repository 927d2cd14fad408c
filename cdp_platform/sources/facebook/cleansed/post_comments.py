"""Facebook post comments: who (``from``) said what on which post (the post id from the context),
and for a reply, which comment it answers (``parent.id``)."""

from __future__ import annotations

import pandera.polars as pa

from cdp_platform.cleansed import columns
from cdp_platform.cleansed.derived import parts_from_full_name
from cdp_platform.cleansed.entity import CleansedEntity, Field, PersonKey

ENTITY = CleansedEntity(
    source="facebook",
    entity="post_comments",
    raw_stream="post_comments",
    person_keys=(PersonKey("facebook_id", "commenters"),),
    engagement_count="facebook_comments",
    fields=(
        Field("comment_id", "string", "$.id", required=True, json_type="string"),
        Field("post_id", "string", "context:$.post_id"),
        Field("parent_comment_id", "string", "$.parent.id"),
        Field("text", "string", "$.message"),
        Field("created_at", "timestamp", "$.created_time", required=True, json_type="string"),
        Field("facebook_id", "string", "$.from.id"),
        Field("full_name", "display_name", "$.from.name"),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": columns.identifier(),
            "comment_id": columns.identifier(),
            "post_id": columns.reference(),
            "parent_comment_id": columns.reference(),
            "text": columns.text(),
            "created_at": columns.timestamp(nullable=False),
            "facebook_id": columns.reference(),
            **columns.name_columns(),
        }
    ),
    key_columns=("record_id", "comment_id"),
    # Graph leaves ``from`` out when the commenter's privacy hides them, ``message`` when empty.
    expected_payload={
        "id": "string",
        "message": "string?",
        "created_time": "string",
        "from": "object?",
        "from.id": "string?",
        "from.name": "string?",
        "parent": "object?",
        "parent.id": "string?",
    },
    extra_columns=parts_from_full_name,
    description="Facebook comments on the brand's posts, with the commenter's Facebook id and name.",
)
