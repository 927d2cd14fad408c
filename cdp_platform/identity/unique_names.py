"""Linking name-only profiles (a commenter on a social page, a microblog's author) by a name that
only one client carries.

A social profile seen in a comment carries a display name and a platform id, nothing else: no
email, phone or address to compare, so a probabilistic score of a name agreement cannot tell the
person from a namesake (the scores of true and false name-only pairs overlap completely). What can
be said is structural: when exactly one *rich* client (one with an email, phone, birth date,
address or CRM id) carries the name, and no two name-only profiles of the same network carry it
(two user ids of one network with one name means at least two people have it), the profile is
linked to that client with rule ``unique_name``, provided the name is rare (see
:func:`unique_name_pairs`). A name carried by two rich clients (namesakes, households with a
shared first name) is ambiguous and never links; so is a name another rich client carries with
the last name one typo away, and a profile whose handle carries a number the client's user names
do not (two people, one name).

The name key is the formal first name (nicknames folded) and the last name, so "Bob Jones" on a
social network meets "Robert Jones" in the CRM. Merges go through the same limits as every other
link.
"""

from __future__ import annotations

import duckdb
import polars as pl

from cdp_platform.identity.handle_email import with_rich_flag
from cdp_platform.identity.probabilistic import within_a_typo
from cdp_platform.sources.profiles import profile_identifiers

UNIQUE_NAME_RULE = "unique_name"
PAIR_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64}


def unique_name_pairs(
    prepared: pl.DataFrame, cluster_labels: pl.Series, max_expected_holders: float
) -> pl.DataFrame:
    """(row_a, row_b) pairs: a row of the one rich client carrying a name, a row of a name-only one.

    Only names rare enough that another person is unlikely to hold them unseen: the expected number
    of clients holding the name, ``clients * share(first name) * share(last name)`` over the rich
    clients that carry names, must be at most ``max_expected_holders``. Joseph Colon is rarer than Joseph
    and than Colon, but Joseph is common enough that a second one may well be out there.
    """
    frame = with_rich_flag(prepared, cluster_labels)
    # Each declared network's identifier: a name-only profile is one of those.
    profile_ids = [f"n_{p.column}" for p in profile_identifiers()]
    named = frame.filter(
        pl.col("n_first_canonical").is_not_null() & pl.col("n_last").is_not_null()
    ).with_columns(pl.concat_str(["n_first_canonical", "n_last"], separator=" ").alias("key"))
    # Shares among the rich clients, the people the data knows by more than a name: counting the
    # name-only profiles too would count the profile being linked as a second holder of its name.
    known = named.filter(pl.col("rich"))
    clients = max(known["cluster"].n_unique(), 1)
    first_share = known.group_by("n_first_canonical").agg(pl.col("cluster").n_unique().alias("first_clients"))
    last_share = known.group_by("n_last").agg(pl.col("cluster").n_unique().alias("last_clients"))
    expected = (
        known.select("key", "n_first_canonical", "n_last")
        .unique("key")
        .join(first_share, on="n_first_canonical")
        .join(last_share, on="n_last")
        .select("key", (pl.col("first_clients") * pl.col("last_clients") / clients).alias("expected_holders"))
    )
    # A name-only client must carry one name only: two names make it two profiles' worth of doubt.
    keys_per_cluster = named.group_by("cluster").agg(pl.col("key").n_unique().alias("keys"))
    per_key = named.group_by("key").agg(
        pl.col("cluster").filter(pl.col("rich")).unique().alias("rich_clusters"),
        pl.col("row").filter(pl.col("rich")).min().alias("rich_row"),
        *(pl.col(column).filter(~pl.col("rich")).n_unique().alias(column) for column in profile_ids),
        *(
            pl.col(column).filter(~pl.col("rich")).null_count().alias(f"{column}_nulls")
            for column in profile_ids
        ),
        pl.len().alias("rows"),
        pl.col("rich").filter(~pl.col("rich")).len().alias("name_only_rows"),
    )
    # n_unique counts null as a value: distinct non-null ids = n_unique - (1 if any null).
    one_profile_per_network = pl.all_horizontal(
        (pl.col(column) - (pl.col(f"{column}_nulls") > 0).cast(pl.UInt32)) <= 1 for column in profile_ids
    )
    linkable = (
        per_key.filter(
            (pl.col("rich_clusters").list.len() == 1)
            & (pl.col("name_only_rows") > 0)
            & one_profile_per_network
        )
        .join(expected.filter(pl.col("expected_holders") <= max_expected_holders), on="key")
        .select("key", "rich_row", pl.col("rich_clusters").list.first().alias("rich_cluster"))
    )
    linkable = linkable.join(_held_within_a_typo(named, linkable), on="key", how="anti")
    # A profile whose handle carries a number that none of the client's user names carries is
    # evidence of another person with the same name (the same number would have linked it already).
    numbers = (
        frame.filter(pl.col("n_number").is_not_null())
        .group_by("cluster")
        .agg(pl.col("n_number").unique().alias("client_numbers"))
        .rename({"cluster": "rich_cluster"})
    )
    name_only = (
        named.filter(~pl.col("rich"))
        .join(keys_per_cluster.filter(pl.col("keys") == 1), on="cluster")
        .join(linkable, on="key")
        .join(numbers, on="rich_cluster", how="left")
        .filter(
            pl.col("n_number").is_null()
            | pl.col("client_numbers").is_null()
            | pl.col("client_numbers").list.contains(pl.col("n_number"))
        )
    )
    return (
        name_only.select(
            pl.min_horizontal("row", "rich_row").cast(pl.Int64).alias("row_a"),
            pl.max_horizontal("row", "rich_row").cast(pl.Int64).alias("row_b"),
        )
        .unique()
        .sort("row_a", "row_b")
    )


def _held_within_a_typo(named: pl.DataFrame, linkable: pl.DataFrame) -> pl.DataFrame:
    """Keys (of ``linkable``) that another rich client carries with its last name one typo away.

    Kathy Casey on a social network is not safely Katherine Casey of the CRM when another client is
    Katherine Caesy: one of the two records is mistyped, and the commenter may be either person.
    Compared within the same formal first name and the same first or the same last two letters of
    the last name (a swap of the first two letters is missed), by
    :func:`.probabilistic.within_a_typo`, the measure of the model's typo level.
    """
    if linkable.is_empty():
        return pl.DataFrame(schema={"key": pl.String})
    candidates = (
        named.filter(pl.col("rich"))
        .join(linkable.select("key"), on="key")
        .select("key", "n_first_canonical", "n_last")
        .unique()
        .join(linkable.select("key", "rich_cluster"), on="key")
    )
    others = named.filter(pl.col("rich")).select("cluster", "n_first_canonical", "n_last").unique()
    blocks = [pl.col("n_last").str.slice(0, 1), pl.col("n_last").str.slice(-2)]
    pairs = pl.concat(
        [
            candidates.with_columns(block.alias("block")).join(
                others.with_columns(block.alias("block")), on=["n_first_canonical", "block"], suffix="_other"
            )
            for block in blocks
        ]
    ).filter((pl.col("cluster") != pl.col("rich_cluster")) & (pl.col("n_last") != pl.col("n_last_other")))
    if pairs.is_empty():
        return pl.DataFrame(schema={"key": pl.String})
    connection = duckdb.connect()
    try:
        connection.register("typo_pairs", pairs.select("key", "n_last", "n_last_other").unique().to_arrow())
        near = connection.sql(
            f"SELECT DISTINCT key FROM typo_pairs WHERE {within_a_typo('n_last', 'n_last_other')}"
        ).pl()
    finally:
        connection.close()
    return near
