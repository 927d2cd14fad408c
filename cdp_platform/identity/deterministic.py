"""Deterministic stitching: records that share a strong identifier are one client, within limits.

The rules (each a link type; a record links to every record with the same normalized value):

=====================  ============================================================================
``crm_id``             the same CRM contact id (a CRM record's own id, or the id a logged-in GA
                       visitor carries)
``email``              the same mailbox (normalized, Gmail dots and +tags removed)
``ga_client_id``       the same GA browser cookie
``phone_name``         the same E.164 phone AND the same first and last name as typed
                       (normalized). A phone alone never links: households share a landline, and
                       a household's members have different first names; the last name guards
                       against two people given one number. Nicknames and typos are left to the
                       probabilistic stage, which blocks on phone.
each network's         the same user id or handle on one social network, as each network declares
identifier             it (``profile_identifier`` in the source's folder: the column, its priority
                       and its limit)
=====================  ============================================================================

A shared postal address never links on its own. Safeguards, as Segment's and RudderStack's identity
graphs have them: blocked values are nulled during normalization, and every client may hold at most
``limits[type]`` distinct values of each identifier type (one birth date, one profile per social
network, a few emails and phones). Edges are applied in priority order (lower first); an edge whose
merge would break a limit is refused and reported, so the weaker link gives way to the stronger
ones already applied.

Speed: connected components of the whole graph come from ``scipy.sparse.csgraph``; only components
that would break a limit (rare) are rebuilt edge by edge with a union-find in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from cdp_platform.identity.birth_dates import compatible
from cdp_platform.identity.config import ResolutionConfig, limit_types, link_types
from cdp_platform.identity.review import CANNOT_LINK_REASON, CannotLinks

EDGE_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64, "rule": pl.String, "priority": pl.Int64}
# Groups of at most this many rows sharing a value get every pair when limits are being enforced.
ALL_PAIRS_UP_TO = 50
REFUSED_SCHEMA = {
    "row_a": pl.Int64,
    "row_b": pl.Int64,
    "rule": pl.String,
    "match_probability": pl.Float64,
    "reason": pl.String,
}


@dataclass(frozen=True)
class DeterministicResult:
    """``cluster`` per row (numbered by the smallest row in it), accepted edges and refused ones."""

    cluster: np.ndarray
    links: pl.DataFrame
    refused: pl.DataFrame


def identifier_edges(
    prepared: pl.DataFrame, config: ResolutionConfig, all_pairs_up_to: int = 0
) -> pl.DataFrame:
    """Edges per rule between rows holding the same value, sorted by (priority, rule, row_a, row_b).

    By default a star: each row links to the first row holding its value, n - 1 edges for n rows and
    the same components as all pairs. Groups of at most ``all_pairs_up_to`` rows get every pair
    instead: when limits refuse some links, a star would lose the pairs that do not touch its hub.
    """
    parts = []
    for rule in link_types():
        column = f"n_{rule}"
        with_value = prepared.select("row", column).drop_nulls(column)
        sized = with_value.with_columns(
            pl.col("row").min().over(column).alias("hub"), pl.len().over(column).alias("size")
        )
        star = sized.filter((pl.col("size") > all_pairs_up_to) & (pl.col("row") != pl.col("hub")))
        star = star.select(pl.col("hub").alias("row_a"), pl.col("row").alias("row_b"))
        small = sized.filter((pl.col("size") <= all_pairs_up_to) & (pl.col("size") > 1)).select("row", column)
        pairs = (
            small.join(small, on=column, suffix="_b")
            .filter(pl.col("row") < pl.col("row_b"))
            .select(pl.col("row").alias("row_a"), "row_b")
        )
        for part in (star, pairs):
            parts.append(
                part.with_columns(
                    pl.lit(rule).alias("rule"),
                    pl.lit(config.priorities[rule], dtype=pl.Int64).alias("priority"),
                )
            )
    edges = pl.concat(parts) if parts else pl.DataFrame(schema=EDGE_SCHEMA)
    return edges.sort("priority", "rule", "row_a", "row_b")


def components(n: int, row_a: np.ndarray, row_b: np.ndarray) -> np.ndarray:
    """Connected component of each of ``n`` nodes, labelled by the smallest node in it."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_array((np.ones(row_a.size, dtype=np.int8), (row_a, row_b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Relabel by the smallest member so labels do not depend on scipy's numbering.
    smallest = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    return smallest[labels]


def limit_values(prepared: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per limit type, the value of each row as an integer code (-1 for null): a dense code, or for
    a birth date its ``YYYYMMDD`` digits, which :data:`TYPO_TOLERANT` compares."""
    codes = {}
    for kind in limit_types():
        series = prepared[f"n_{kind}"]
        if kind == "date_of_birth":
            day = series.cast(pl.Date)
            # Each part widened first: polars gives month and day as Int8, which 100 * month overflows.
            code = (
                day.dt.year().cast(pl.Int64) * 10000
                + day.dt.month().cast(pl.Int64) * 100
                + day.dt.day().cast(pl.Int64)
            )
            codes[kind] = code.fill_null(-1).cast(pl.Int64).to_numpy()
            continue
        physical = series.cast(pl.String).cast(pl.Categorical).to_physical()
        codes[kind] = physical.fill_null(-1).cast(pl.Int64).to_numpy()
    return codes


def over_limit(cluster: np.ndarray, values: dict[str, np.ndarray], limits: dict[str, int]) -> np.ndarray:
    """Cluster labels (sorted, unique) whose distinct values of some type exceed that type's limit."""
    frame = pl.DataFrame({"cluster": cluster, **{kind: values[kind] for kind in limits}})
    counts = frame.group_by("cluster").agg(
        pl.col(kind).filter(pl.col(kind) >= 0).n_unique().alias(kind) for kind in limits
    )
    broken = pl.any_horizontal(pl.col(kind) > limit for kind, limit in limits.items())
    return np.sort(counts.filter(broken)["cluster"].to_numpy())


# Limit types whose values may be one value typed twice: a client holding two birth dates one digit,
# one swap of neighbouring digits or a day/month swap apart holds one birth date, mistyped once (see
# :mod:`.birth_dates`). Without this one typo in a birth date vetoes every other agreement.
TYPO_TOLERANT = {"date_of_birth": compatible}
# A client holding more distinct values than the limit plus this is over the limit, typos or not.
_MAX_TYPO_VARIANTS = 2


def _within_limit(kind: str, values: set[int], limit: int) -> bool:
    if len(values) <= limit:
        return True
    same = TYPO_TOLERANT.get(kind)
    if same is None or limit != 1 or len(values) > 1 + _MAX_TYPO_VARIANTS:
        return False
    ordered = sorted(values)
    return all(same(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :])


class LimitedUnionFind:
    """Union-find whose roots remember their distinct values per limit type and the ends of
    reviewers' ``different`` decisions they hold; refuses over-limit and cannot-link unions."""

    def __init__(
        self,
        held: dict[int, dict[str, set[int]]],
        limits: dict[str, int],
        apart: dict[int, set[tuple[int, int]]] | None = None,
    ) -> None:
        """``held``: per starting node, the distinct value codes it holds per limit type; ``apart``:
        per starting node, its :class:`~cdp_platform.identity.review.CannotLinks` tags."""
        self.limits = limits
        self.parent: dict[int, int] = {node: node for node in held}
        self.held = held
        self.apart = apart or {}

    @classmethod
    def of_rows(
        cls,
        rows: np.ndarray,
        values: dict[str, np.ndarray],
        limits: dict[str, int],
        cannot: CannotLinks | None = None,
    ) -> LimitedUnionFind:
        """One node per row, holding that row's values."""
        held = {
            row: {kind: ({int(values[kind][row])} if values[kind][row] >= 0 else set()) for kind in limits}
            for row in rows.tolist()
        }
        apart = {row: set(cannot.tags[row]) for row in rows.tolist() if cannot and row in cannot.tags}
        return cls(held, limits, apart)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def try_union(self, a: int, b: int, waived: frozenset[str] = frozenset()) -> str | None:
        """Join the clients of ``a`` and ``b``; return why it was refused (``limit:<type>``, or
        ``review:different`` when a reviewer said the two sides are different people), or None.
        Limit types in ``waived`` are not checked for this union (their values still join)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return None
        if CannotLinks.conflict(self.apart.get(ra, set()), self.apart.get(rb, set())):
            return CANNOT_LINK_REASON
        held_a, held_b = self.held[ra], self.held[rb]
        for kind, limit in self.limits.items():
            if kind in waived:
                continue
            joined = held_a[kind] | held_b[kind]
            # Only a union that brings a value neither side held is checked: a client that already
            # holds two birth dates (a conflict the match model weighed, see merge.py) may still
            # take records carrying one of them, or none.
            if len(joined) > max(len(held_a[kind]), len(held_b[kind])) and not _within_limit(
                kind, joined, limit
            ):
                return f"limit:{kind}"
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        self.parent[gone] = keep
        for kind in self.limits:
            self.held[keep][kind] |= self.held[gone][kind]
        del self.held[gone]
        if gone in self.apart:
            self.apart.setdefault(keep, set()).update(self.apart.pop(gone))
        return None


def stitch(
    prepared: pl.DataFrame, config: ResolutionConfig, cannot: CannotLinks | None = None
) -> DeterministicResult:
    """Clusters from the identifier graph, with limits and reviewers' ``different`` decisions
    (``cannot``) enforced in priority order."""
    n = prepared.height
    edges = identifier_edges(prepared, config)
    row_a = edges["row_a"].to_numpy()
    row_b = edges["row_b"].to_numpy()
    cluster = components(n, row_a, row_b)
    values = limit_values(prepared)
    broken = over_limit(cluster, values, config.limits)
    if cannot:
        # A cluster holding both ends of a ``different`` decision is rebuilt like an over-limit one:
        # the weakest edge between the two sides gives way.
        broken = np.union1d(broken, cannot.violated(cluster))
    if broken.size == 0:
        return DeterministicResult(cluster=cluster, links=edges.drop("priority"), refused=_no_refusals())

    # Components within limits keep every edge (limits only grow along a merge, so the greedy pass
    # would accept them all); the broken ones are rebuilt pair by pair in priority order.
    in_broken = np.isin(cluster, broken)
    edges = edges.filter(pl.Series(~in_broken[row_a])).drop("priority")
    rows = np.flatnonzero(in_broken)
    candidates = identifier_edges(
        prepared.filter(pl.Series(in_broken)), config, all_pairs_up_to=ALL_PAIRS_UP_TO
    )
    finder = LimitedUnionFind.of_rows(rows, values, config.limits, cannot)
    accepted: list[tuple[int, int, str]] = []
    refused_rows: list[tuple[int, int, str, None, str]] = []
    for a, b, rule, _ in candidates.iter_rows():
        refused_by = finder.try_union(a, b)
        if refused_by is None:
            accepted.append((a, b, rule))
        elif finder.find(a) != finder.find(b):
            refused_rows.append((a, b, rule, None, refused_by))
    kept = pl.concat([edges, pl.DataFrame(accepted, schema=edges.schema, orient="row")])
    cluster = components(n, kept["row_a"].to_numpy(), kept["row_b"].to_numpy())
    refused = pl.DataFrame(refused_rows, schema=REFUSED_SCHEMA, orient="row")
    return DeterministicResult(cluster=cluster, links=kept, refused=refused)


def _no_refusals() -> pl.DataFrame:
    return pl.DataFrame(schema=REFUSED_SCHEMA)
