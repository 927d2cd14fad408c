"""Stable client ids across runs: a client keeps its id, a merge keeps the oldest, a split is logged.

``previous`` is the identity map of the last run (record_id, client_id, first_seen), where
``first_seen`` is when that record first entered resolution; a client's age is the earliest
``first_seen`` among its records. For every new cluster:

- each previous client id has a *home*: the new cluster holding most of its previous records (ties:
  the cluster with the smallest row);
- a cluster keeps the oldest previous id whose home it is; other previous ids at home there are
  merged into it (change ``merge``);
- a cluster with no previous id at home gets a new id (change ``new`` when none of its records had a
  client before);
- records of a previous client that end up outside its home are logged as a ``split``: one row per
  (old client, client they now belong to), with the number of records that moved.

New ids are ``c_`` plus a UUID5 of the cluster's smallest record_id, so the same input gives the
same ids on every run; an id already used in ``previous`` is never handed out again.
"""

from __future__ import annotations

import datetime
import uuid

import polars as pl

PREVIOUS_SCHEMA = {"record_id": pl.String, "client_id": pl.String, "first_seen": pl.Datetime("us", "UTC")}
CHANGE_SCHEMA = {
    "change": pl.String,
    "client_id": pl.String,
    "previous_client_ids": pl.List(pl.String),
    "records": pl.Int64,
}
_NAMESPACE = uuid.UUID("5b0f3c1e-8a6d-4c53-9a43-6f1d2c0e7b21")


def new_client_id(smallest_record_id: str, attempt: int = 0) -> str:
    name = smallest_record_id if attempt == 0 else f"{smallest_record_id}#{attempt}"
    return f"c_{uuid.uuid5(_NAMESPACE, name).hex}"


def assign_client_ids(
    clusters: pl.DataFrame, previous: pl.DataFrame | None, as_of: datetime.datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(record_id, client_id, first_seen) for ``clusters`` (record_id, cluster), and the change log."""
    if previous is None:
        previous = pl.DataFrame(schema=PREVIOUS_SCHEMA)
    previous = previous.select(
        pl.col("record_id").cast(pl.String),
        pl.col("client_id").cast(pl.String),
        pl.col("first_seen").cast(pl.Datetime("us", "UTC")),
    )
    joined = clusters.join(previous, on="record_id", how="left").with_columns(
        pl.col("first_seen").fill_null(as_of)
    )
    client_age = previous.group_by("client_id").agg(pl.col("first_seen").min().alias("client_first_seen"))
    home = (
        joined.drop_nulls("client_id")
        .group_by("client_id", "cluster")
        .len()
        .sort(["client_id", "len", "cluster"], descending=[False, True, False])
        .unique("client_id", keep="first", maintain_order=True)
        .join(client_age, on="client_id")
    )
    kept = home.sort("cluster", "client_first_seen", "client_id").unique(
        "cluster", keep="first", maintain_order=True
    )
    merged_away = home.join(
        kept.select("cluster", pl.col("client_id").alias("kept_id")), on="cluster"
    ).filter(pl.col("client_id") != pl.col("kept_id"))

    sizes = joined.group_by("cluster").agg(
        pl.len().alias("records"),
        pl.col("record_id").min().alias("smallest"),
        pl.col("client_id").drop_nulls().unique().sort().alias("previous_client_ids"),
    )
    sizes = sizes.join(kept.select("cluster", pl.col("client_id").alias("kept_id")), on="cluster", how="left")
    taken = set(previous["client_id"].unique().to_list())
    new_ids: list[str | None] = []
    for kept_id, smallest in sizes.select("kept_id", "smallest").iter_rows():
        if kept_id is not None:
            new_ids.append(kept_id)
            continue
        attempt = 0
        candidate = new_client_id(smallest)
        while candidate in taken:
            attempt += 1
            candidate = new_client_id(smallest, attempt)
        taken.add(candidate)
        new_ids.append(candidate)
    sizes = sizes.with_columns(pl.Series("new_client_id", new_ids, dtype=pl.String))

    mapping = joined.join(sizes.select("cluster", "new_client_id"), on="cluster").select(
        "record_id", pl.col("new_client_id").alias("client_id"), "first_seen"
    )
    moved = (
        joined.drop_nulls("client_id")
        .group_by("client_id", "cluster")
        .len()
        .join(home.select("client_id", pl.col("cluster").alias("home")), on="client_id")
        .filter(pl.col("cluster") != pl.col("home"))
        .join(sizes.select("cluster", "new_client_id"), on="cluster")
    )
    return mapping, _changes(sizes, merged_away, moved)


def _changes(sizes: pl.DataFrame, merged_away: pl.DataFrame, moved: pl.DataFrame) -> pl.DataFrame:
    merges = (
        merged_away.group_by("kept_id")
        .agg(pl.col("client_id").sort().alias("gone"))
        .join(
            sizes.select(pl.col("kept_id"), "records", "previous_client_ids").drop_nulls("kept_id"),
            on="kept_id",
        )
        .select(
            pl.lit("merge").alias("change"),
            pl.col("kept_id").alias("client_id"),
            pl.col("gone").alias("previous_client_ids"),
            pl.col("records").cast(pl.Int64),
        )
    )
    fresh = sizes.filter(pl.col("kept_id").is_null())
    new = fresh.filter(pl.col("previous_client_ids").list.len() == 0).select(
        pl.lit("new").alias("change"),
        pl.col("new_client_id").alias("client_id"),
        "previous_client_ids",
        pl.col("records").cast(pl.Int64),
    )
    # A split: records of an old client that now belong to another client (not its home).
    splits = moved.select(
        pl.lit("split").alias("change"),
        pl.col("new_client_id").alias("client_id"),
        pl.concat_list(pl.col("client_id")).alias("previous_client_ids"),
        pl.col("len").cast(pl.Int64).alias("records"),
    )
    return pl.concat([merges, splits, new]).cast(CHANGE_SCHEMA).sort("change", "client_id")  # type: ignore[arg-type]
