"""A reviewer's word in resolution: ``same`` decisions are must-links, ``different`` ones cannot-links.

Decisions come from ``identity.review_decisions`` (see :mod:`.decisions`), one row per decision,
append-only: the latest decision about a pair of records wins, so a reviewer corrects themselves by
deciding again. :func:`resolve` honours every one:

- ``different`` (a cannot-link): the two records never end up in one client. The deterministic
  stage rebuilds any cluster holding both ends edge by edge, strongest rule first, and refuses the
  edge that would join the two sides (reason ``review:different``); every later merge is refused
  the same way. That is how a wrong merge is undone: the client splits, and the side with more of
  its previous records keeps its id (:mod:`.stable_ids`).
- ``same`` (a must-link): the two records' clusters are merged right after the deterministic stage,
  before any model, within the identifier limits and never across a ``different`` decision. It
  overrides an exclusive source (two CRM contacts of one person: the reviewer has looked, the
  CRM's separate records are no argument against it) but not a limit: a client with two birth dates
  is two people whatever a reviewer typed. A refused ``same`` is reported with the limit.

Decisions naming a record that is not in the input (erased, or not ingested yet) do nothing and are
reported as ``unknown_record``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

SAME, DIFFERENT = "same", "different"
DECISIONS = (SAME, DIFFERENT)
# The refusal reason of a link that would put the two ends of a ``different`` decision in one client.
CANNOT_LINK_REASON = "review:different"
REVIEW_RULE = "review"
DECISION_SCHEMA = {
    "decision_id": pl.String,
    "record_id_a": pl.String,
    "record_id_b": pl.String,
    "decision": pl.String,
    "reviewer": pl.String,
    "reason": pl.String,
    "decided_at": pl.Datetime("us", "UTC"),
}
OUTCOME_SCHEMA = {
    "decision_id": pl.String,
    "decision": pl.String,
    "record_id_a": pl.String,
    "record_id_b": pl.String,
    "outcome": pl.String,
}


class DecisionError(ValueError):
    """A decision that cannot be honoured as written (unknown kind, a record paired with itself)."""


def latest_decisions(decisions: pl.DataFrame | None) -> pl.DataFrame:
    """The decision in force per unordered pair of records: the latest ``decided_at`` (ties: the
    larger ``decision_id``), with ``record_id_a < record_id_b``."""
    if decisions is None or decisions.height == 0:
        return pl.DataFrame(schema=DECISION_SCHEMA)
    frame = decisions.select(
        pl.col(name).cast(dtype) if name in decisions.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in DECISION_SCHEMA.items()
    )
    unknown = frame.filter(~pl.col("decision").is_in(DECISIONS) | pl.col("decision").is_null())
    if unknown.height:
        raise DecisionError(
            f"{unknown.height} review decision(s) are neither {SAME!r} nor {DIFFERENT!r} "
            f"(decision ids: {', '.join(unknown['decision_id'].cast(pl.String).head(5).to_list())})"
        )
    if frame.filter(pl.col("record_id_a") == pl.col("record_id_b")).height:
        raise DecisionError("a review decision pairs a record with itself")
    return (
        frame.with_columns(
            pl.min_horizontal("record_id_a", "record_id_b").alias("record_id_a"),
            pl.max_horizontal("record_id_a", "record_id_b").alias("record_id_b"),
        )
        .sort("decided_at", "decision_id", descending=True, nulls_last=True)
        .unique(["record_id_a", "record_id_b"], keep="first", maintain_order=True)
        .sort("decided_at", "decision_id")
    )


@dataclass(frozen=True)
class CannotLinks:
    """Per row, the ``different`` decisions it is an end of: ``{row: {(decision number, side)}}``.

    A group of rows (a cluster, a union-find root) holds the union of its rows' tags; two groups
    may not join when one holds side 0 of a decision and the other side 1.
    """

    tags: dict[int, frozenset[tuple[int, int]]]

    @classmethod
    def of_rows(cls, pairs: pl.DataFrame) -> CannotLinks:
        """From (row_a, row_b) pairs, one per ``different`` decision."""
        tags: dict[int, set[tuple[int, int]]] = {}
        for number, (row_a, row_b) in enumerate(pairs.select("row_a", "row_b").iter_rows()):
            tags.setdefault(int(row_a), set()).add((number, 0))
            tags.setdefault(int(row_b), set()).add((number, 1))
        return cls({row: frozenset(held) for row, held in tags.items()})

    def __bool__(self) -> bool:
        return bool(self.tags)

    def of_group(self, rows: list[int]) -> set[tuple[int, int]]:
        held: set[tuple[int, int]] = set()
        for row in rows:
            held |= self.tags.get(row, frozenset())
        return held

    @staticmethod
    def conflict(a: set[tuple[int, int]] | frozenset[tuple[int, int]], b: set[tuple[int, int]]) -> bool:
        """Whether joining groups holding tags ``a`` and ``b`` would join the two ends of a decision."""
        if not a or not b:
            return False
        return any((number, 1 - side) in b for number, side in a)

    def violated(self, cluster: np.ndarray) -> np.ndarray:
        """Cluster labels (sorted, unique) that hold both ends of some decision."""
        ends: dict[int, dict[int, int]] = {}
        for row, held in self.tags.items():
            for number, side in held:
                ends.setdefault(number, {})[side] = int(cluster[row])
        broken = {sides[0] for sides in ends.values() if len(sides) == 2 and sides[0] == sides[1]}
        return np.array(sorted(broken), dtype=np.int64)


@dataclass(frozen=True)
class Constraints:
    """The decisions in force, as rows of one resolution's input."""

    must: pl.DataFrame  # row_a, row_b: ``same`` decisions between known records
    cannot: CannotLinks
    decisions: pl.DataFrame  # latest_decisions() with row_a, row_b (null when a record is unknown)


def constraints(decisions: pl.DataFrame | None, record_ids: pl.Series) -> Constraints:
    """The latest decisions mapped to rows of the input (``record_ids`` in row order)."""
    latest = latest_decisions(decisions)
    rows = pl.DataFrame({"record_id": record_ids.cast(pl.String)}).with_row_index("row")
    rows = rows.with_columns(pl.col("row").cast(pl.Int64))
    placed = latest.join(
        rows.rename({"record_id": "record_id_a", "row": "row_a"}), on="record_id_a", how="left"
    ).join(rows.rename({"record_id": "record_id_b", "row": "row_b"}), on="record_id_b", how="left")
    known = placed.drop_nulls(["row_a", "row_b"])
    must = known.filter(pl.col("decision") == SAME).select(
        pl.min_horizontal("row_a", "row_b").alias("row_a"),
        pl.max_horizontal("row_a", "row_b").alias("row_b"),
        pl.lit(None, dtype=pl.Float64).alias("match_probability"),
    )
    cannot = CannotLinks.of_rows(known.filter(pl.col("decision") == DIFFERENT))
    return Constraints(must=must, cannot=cannot, decisions=placed)


def outcomes(
    placed: pl.DataFrame, mapping: pl.DataFrame, previous: pl.DataFrame | None, refused: pl.DataFrame
) -> pl.DataFrame:
    """What each decision in force did in this resolution (``OUTCOME_SCHEMA``):

    - ``unknown_record``: one of its records is not in the input;
    - ``different``: ``split`` (the two were one client before and are two now) or ``apart``;
    - ``same``: ``merged`` (two clients before, or new), ``together`` (one client already), or
      ``refused:<reason>`` (a limit or a ``different`` decision kept them apart).

    ``refused`` is the resolution's refused links (record_id_a, record_id_b, rule, reason).
    """
    if placed.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA)
    now = mapping.select("record_id", "client_id")
    before = (
        previous.select(pl.col("record_id").cast(pl.String), pl.col("client_id").cast(pl.String))
        if previous is not None
        else pl.DataFrame(schema={"record_id": pl.String, "client_id": pl.String})
    )
    frame = placed
    for side in ("a", "b"):
        frame = frame.join(
            now.rename({"record_id": f"record_id_{side}", "client_id": f"client_{side}"}),
            on=f"record_id_{side}",
            how="left",
        ).join(
            before.rename({"record_id": f"record_id_{side}", "client_id": f"before_{side}"}),
            on=f"record_id_{side}",
            how="left",
        )
    review_refusals = (
        refused.filter(pl.col("rule") == REVIEW_RULE)
        .select(
            pl.min_horizontal("record_id_a", "record_id_b").alias("record_id_a"),
            pl.max_horizontal("record_id_a", "record_id_b").alias("record_id_b"),
            pl.col("reason").alias("refused_because"),
        )
        .unique(["record_id_a", "record_id_b"], keep="first")
    )
    frame = frame.join(review_refusals, on=["record_id_a", "record_id_b"], how="left")
    together_now = pl.col("client_a") == pl.col("client_b")
    together_before = (pl.col("before_a") == pl.col("before_b")).fill_null(False)
    outcome = (
        pl.when(pl.col("row_a").is_null() | pl.col("row_b").is_null())
        .then(pl.lit("unknown_record"))
        .when(pl.col("decision") == DIFFERENT)
        .then(pl.when(together_before).then(pl.lit("split")).otherwise(pl.lit("apart")))
        .when(together_now)
        .then(pl.when(together_before).then(pl.lit("together")).otherwise(pl.lit("merged")))
        .otherwise(
            pl.concat_str(pl.lit("refused"), pl.lit(":") + pl.col("refused_because"), ignore_nulls=True)
        )
    )
    return frame.with_columns(outcome.alias("outcome")).select(*OUTCOME_SCHEMA)
