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

# The tweet's public_metrics, and what each counts.
METRICS = {
    "retweet_count": "Times the tweet was retweeted",
    "reply_count": "Replies to the tweet",
    "like_count": "Likes of the tweet",
    "quote_count": "Quote tweets of the tweet",
    "bookmark_count": "Times the tweet was bookmarked",
    "impression_count": "Times the tweet was seen (impressions)",
}

ENTITY = CleansedEntity(
    source="twitter",
    entity="mentions",
    raw_stream="mentions",
    person_keys=(PersonKey("author_id", "authors"),),
    engagement_count="twitter_mentions",
    fields=(
        Field(
            "tweet_id",
            "string",
            "$.id",
            required=True,
            json_type="string",
            column=columns.identifier(),
            description="The tweet's id (id).",
        ),
        Field("text", "string", "$.text", description="The tweet's text (text), mentioning the brand."),
        Field(
            "created_at",
            "timestamp",
            "$.created_at",
            required=True,
            json_type="string",
            description="When the tweet was posted (created_at).",
        ),
        Field(
            "lang",
            "string",
            "$.lang",
            may_be_absent=True,
            description="The tweet's language as X detected it (lang, a BCP 47 code such as en).",
        ),
        Field(
            "author_id",
            "string",
            "$.author_id",
            json_type="string",
            column=columns.reference(),
            description="The X user id of the tweet's author (author_id).",
        ),
        Field(
            "twitter_handle",
            "handle",
            "context:$.author.username",
            description="The author's username (username of the author in includes.users); null when the "
            "API could not return the author (suspended).",
        ),
        Field(
            "full_name",
            "display_name",
            "context:$.author.name",
            description="The author's display name (name of the author in includes.users).",
        ),
        *(
            Field(
                metric,
                "integer",
                f"$.public_metrics.{metric}",
                may_be_absent=True,
                description=f"{counts} (public_metrics.{metric}), when the tweet was read.",
            )
            for metric, counts in METRICS.items()
        ),
        Field(
            "first_name",
            "name",
            computed=True,
            description="The first word of full_name: X gives a display name whole.",
        ),
        Field(
            "last_name",
            "name",
            computed=True,
            description="The last word of full_name when it has more than one; null otherwise.",
        ),
    ),
    key_columns=("record_id", "tweet_id"),
    # Every tweet lists its versions' ids (an array: drift does not enter it).
    envelope_payload={"edit_history_tweet_ids": "array"},
    extra_columns=parts_from_full_name,
    description="Tweets mentioning the brand, with the author's handle and name.",
)
