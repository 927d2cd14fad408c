"""Facebook post comments: who (``from``) said what on which post (the post id from the context),
and for a reply, which comment it answers (``parent.id``)."""

from __future__ import annotations

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
        Field(
            "comment_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The comment's Graph id (id).",
        ),
        Field(
            "post_id",
            "string",
            "context:$.post_id",
            column=columns.reference(),
            description="The Graph id of the page post commented on (the post whose comments were listed).",
        ),
        Field(
            "parent_comment_id",
            "string",
            "$.parent.id",
            may_be_absent=True,
            column=columns.reference(),
            description="For a reply, the id of the comment it answers (parent.id); null for a comment "
            "on the post itself.",
        ),
        # Graph leaves ``from`` out when the commenter's privacy hides them, ``message`` when empty.
        Field(
            "text",
            "string",
            "$.message",
            may_be_absent=True,
            description="The comment's text (message); null when it has none.",
        ),
        Field(
            "created_at",
            "timestamp",
            "$.created_time",
            required=True,
            json_type="string",
            description="When the comment was posted (created_time).",
        ),
        Field(
            "facebook_id",
            "string",
            "$.from.id",
            may_be_absent=True,
            column=columns.reference(),
            description="The commenter's Facebook user id (from.id, app-scoped); null when their privacy "
            "settings hide them.",
        ),
        Field(
            "full_name",
            "display_name",
            "$.from.name",
            may_be_absent=True,
            description="The commenter's name as Facebook shows it (from.name).",
        ),
        Field(
            "first_name",
            "name",
            computed=True,
            description="The first word of full_name: Facebook gives a commenter's name whole.",
        ),
        Field(
            "last_name",
            "name",
            computed=True,
            description="The last word of full_name when it has more than one; null otherwise.",
        ),
    ),
    key_columns=("record_id", "comment_id"),
    extra_columns=parts_from_full_name,
    description="Facebook comments on the brand's posts, with the commenter's Facebook id and name.",
)
