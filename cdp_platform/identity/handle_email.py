"""Linking a handle-only social profile to the client whose mailbox carries the same chosen name.

An Instagram commenter is a username and nothing else (the Graph API gives no name, no email); a
Twitter author is a handle and a display name. When a CRM record holds that handle, the
deterministic graph links it. Otherwise the one thing left to compare is the name the person chose:
people reuse it, so ``tracy.fletcher2036`` on Instagram and ``tracy.fletcher2036@outlook.com`` in
HubSpot are, in practice, one person.

The rule links a profile with no rich identifier (no email, phone, birth date, address or CRM id)
to a rich client when the handle's key (lowercase, without ``.``, ``_``, ``-``) equals the user name
of one of that client's addresses (same key, ``+tags`` dropped), and only when:

- exactly one client holds an address with that user name (two Tracy Fletchers with the same user
  name at two providers make it ambiguous), and
- the key is distinctive: it carries a number of two digits or more, or is at least
  ``min_plain_length`` characters long. ``jsmith`` is held by thousands of people the data has not
  seen; ``tracyfletcher2036`` by one.

Merges go through the same limits as every other link (a client already holding another Instagram
username is not given a second one).
"""

from __future__ import annotations

import polars as pl

from cdp_platform.identity.normalize import user_key

HANDLE_EMAIL_RULE = "handle_email"
_RICH = ("n_email", "n_phone", "n_date_of_birth", "n_street", "n_postcode", "n_crm_id")
_HANDLES = ("n_instagram_username", "n_twitter_handle")
PAIR_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64}


def handle_email_pairs(
    prepared: pl.DataFrame, cluster_labels: pl.Series, min_plain_length: int
) -> pl.DataFrame:
    """(row_a, row_b) pairs: a row of a handle-only profile, a row of the one rich client whose
    mailbox user name equals the handle."""
    frame = prepared.with_columns(cluster_labels.alias("cluster"))
    rich = frame.group_by("cluster").agg(
        pl.any_horizontal(pl.col(column).is_not_null() for column in _RICH).any().alias("rich")
    )
    frame = frame.join(rich, on="cluster", how="left")
    mailboxes = (
        frame.filter(pl.col("rich") & pl.col("n_email_user").is_not_null())
        .group_by("n_email_user")
        .agg(pl.col("cluster").unique().alias("clusters"), pl.col("row").min().alias("rich_row"))
        .filter(pl.col("clusters").list.len() == 1)
        .select(pl.col("n_email_user").alias("key"), "rich_row")
    )
    distinctive = pl.col("key").str.contains(r"\d{2}") | (pl.col("key").str.len_chars() >= min_plain_length)
    handles = pl.concat(
        [
            frame.filter(~pl.col("rich")).select("row", user_key(pl.col(column)).alias("key"))
            for column in _HANDLES
        ]
    ).drop_nulls("key")
    return (
        handles.filter(distinctive)
        .join(mailboxes, on="key")
        .select(
            pl.min_horizontal("row", "rich_row").cast(pl.Int64).alias("row_a"),
            pl.max_horizontal("row", "rich_row").cast(pl.Int64).alias("row_b"),
        )
        .unique()
        .sort("row_a", "row_b")
    )
