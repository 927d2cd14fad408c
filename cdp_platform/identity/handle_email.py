"""Linking a handle-only social profile to the client whose mailbox carries the same chosen name
(rule ``handle_email``) or whose name the handle spells with the client's number (``handle_name``,
see :func:`handle_name_pairs`).

A commenter on a photo network can be a username and nothing else (no name, no email); a
microblog's author is a handle and a display name. When a CRM record holds that handle, the
deterministic graph links it. Otherwise the one thing left to compare is the name the person chose:
people reuse it, so ``tracy.fletcher2036`` on a social network and ``tracy.fletcher2036@outlook.com``
in a CRM are, in practice, one person.

The rule links a profile with no rich identifier (no email, phone, birth date, address or CRM id)
to a rich client when the handle's key (lowercase, without ``.``, ``_``, ``-``) equals the user name
of one of that client's addresses (same key, ``+tags`` dropped), and only when:

- exactly one client holds an address with that user name (two Tracy Fletchers with the same user
  name at two providers make it ambiguous), and
- the key is distinctive: it carries a number of two digits or more, or is at least
  ``min_plain_length`` characters long. ``jsmith`` is held by thousands of people the data has not
  seen; ``tracyfletcher2036`` by one.

Merges go through the same limits as every other link (a client already holding another username
on that network is not given a second one).
"""

from __future__ import annotations

import polars as pl

from cdp_platform.identity.nicknames import CANONICAL_FIRST_NAME
from cdp_platform.identity.normalize import user_key
from cdp_platform.sources.profiles import handle_columns

HANDLE_EMAIL_RULE = "handle_email"
_RICH = ("n_email", "n_phone", "n_date_of_birth", "n_street", "n_postcode", "n_crm_id")
PAIR_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64}


def _handles() -> list[str]:
    """The prepared columns of every declared network's handle."""
    return [f"n_{column}" for column in handle_columns()]


def with_rich_flag(prepared: pl.DataFrame, cluster_labels: pl.Series) -> pl.DataFrame:
    """The rows with their ``cluster`` and ``rich``: whether the cluster holds any contact data
    (email, phone, birth date, address) or a CRM id, as opposed to social profiles alone."""
    frame = prepared.with_columns(cluster_labels.alias("cluster"))
    rich = frame.group_by("cluster").agg(
        pl.any_horizontal(pl.col(column).is_not_null() for column in _RICH).any().alias("rich")
    )
    return frame.join(rich, on="cluster", how="left")


def handle_email_pairs(
    prepared: pl.DataFrame, cluster_labels: pl.Series, min_plain_length: int
) -> pl.DataFrame:
    """(row_a, row_b) pairs: a row of a handle-only profile, a row of the one rich client whose
    mailbox user name equals the handle."""
    frame = with_rich_flag(prepared, cluster_labels)
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
            for column in _handles()
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


HANDLE_NAME_RULE = "handle_name"
# first part, separator, last part, optional separator, number: ``james.dumont8427``,
# ``christop.mann5101`` (a network that cuts long names), ``erna_haase_8731``.
_NAME_HANDLE = r"^([a-z]+)[._\-]+([a-z]+)[._\-]*(\d{2,})$"


def handle_name_pairs(prepared: pl.DataFrame, cluster_labels: pl.Series) -> pl.DataFrame:
    """(row_a, row_b) pairs: a row of a handle-only profile whose handle spells a name and a number,
    a row of the one rich client carrying that number and that name.

    ``james.dumont8427`` on a social network and ``jdumont8427@free.fr`` of James Dumont in a CRM share no
    key, but the handle names the person (first name, or its start, then last name, or its start)
    and carries the number the person put in the mailbox. Two pieces of evidence that each alone
    would not do: the number must be held by exactly one rich client (a year shared by two clients
    links neither), and the name must agree: the handle's first part starts that client's first
    name or its formal form (``drew`` for Andrew through the nickname table), at least three
    letters or the whole name; the second part starts the last name, at least three letters.
    """
    frame = with_rich_flag(prepared, cluster_labels)
    holders = (
        frame.filter(pl.col("rich") & pl.col("n_number").is_not_null())
        .group_by("n_number")
        .agg(pl.col("cluster").unique().alias("clusters"))
        .filter(pl.col("clusters").list.len() == 1)
        .select(pl.col("n_number").alias("number"), pl.col("clusters").list.first().alias("rich_cluster"))
    )
    names = frame.filter(
        pl.col("rich") & pl.col("n_first").is_not_null() & pl.col("n_last").is_not_null()
    ).select(
        pl.col("cluster").alias("rich_cluster"),
        pl.col("row").alias("rich_row"),
        "n_first",
        "n_first_canonical",
        "n_last",
    )
    handles = (
        pl.concat(
            [
                frame.filter(~pl.col("rich") & pl.col(column).is_not_null()).select(
                    "row", pl.col(column).str.extract_groups(_NAME_HANDLE).alias("parts")
                )
                for column in _handles()
            ]
        )
        .select(
            "row",
            pl.col("parts").struct.field("1").alias("h_first"),
            pl.col("parts").struct.field("2").alias("h_last"),
            pl.col("parts").struct.field("3").alias("number"),
        )
        .drop_nulls()
    )
    handles = handles.with_columns(pl.col("h_first").replace(CANONICAL_FIRST_NAME).alias("h_first_canonical"))
    first_agrees = (
        (pl.col("h_first") == pl.col("n_first"))
        | (pl.col("h_first_canonical") == pl.col("n_first_canonical"))
        | (
            (pl.col("h_first").str.len_chars() >= 3)
            & (
                pl.col("n_first").str.starts_with(pl.col("h_first"))
                | pl.col("n_first_canonical").str.starts_with(pl.col("h_first"))
            )
        )
    )
    last_agrees = (pl.col("h_last").str.len_chars() >= 3) & pl.col("n_last").str.starts_with(pl.col("h_last"))
    return (
        handles.join(holders, on="number")
        .join(names, on="rich_cluster")
        .filter(first_agrees & last_agrees)
        .group_by("row")
        .agg(pl.col("rich_row").min())
        .select(
            pl.min_horizontal("row", "rich_row").cast(pl.Int64).alias("row_a"),
            pl.max_horizontal("row", "rich_row").cast(pl.Int64).alias("row_b"),
        )
        .unique()
        .sort("row_a", "row_b")
    )
