"""Applying probabilistic (and unique-name) links to deterministic clusters, never across a conflict.

A scored pair links two records; what merges is their two clusters, so the checks are about the
clusters as a whole. Cluster pairs are taken strongest first, and a merge is refused when the joined
client would:

- break an identifier limit: two different birth dates, or two user ids or handles on one social
  network (limit 1 each, as each network declares), or more emails, phones or CRM ids than the
  limits allow (a probabilistic pair whose two records both carry a birth date was scored on it:
  its disagreement is weighed by the model, not vetoed again, unless ``weigh_birth_date_conflicts``
  is off); or
- hold two records of one exclusive source (``config.exclusive_sources``): each cluster already has
  its own contact in, say, the CRM, and the CRM's word that these are two people stands unless an
  exact identifier (handled by the deterministic stage) says otherwise; or
- hold both ends of a reviewer's ``different`` decision (``cannot``, see :mod:`.review`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.deterministic import REFUSED_SCHEMA, LimitedUnionFind, components
from cdp_platform.identity.review import CannotLinks

LINK_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64, "rule": pl.String, "match_probability": pl.Float64}
PROBABILISTIC_RULE = "probabilistic"


@dataclass(frozen=True)
class MergeResult:
    cluster: np.ndarray
    links: pl.DataFrame
    refused: pl.DataFrame


def merge_clusters(
    prepared: pl.DataFrame,
    cluster: np.ndarray,
    values: dict[str, np.ndarray],
    pairs: pl.DataFrame,
    config: ResolutionConfig,
    rule: str = PROBABILISTIC_RULE,
    cannot: CannotLinks | None = None,
) -> MergeResult:
    """Clusters after the ``pairs`` (row_a, row_b, match_probability: null for a rule without a
    score) that pass every conflict check have been applied, strongest first."""
    if pairs.height == 0:
        return MergeResult(
            cluster=cluster,
            links=pl.DataFrame(schema=LINK_SCHEMA),
            refused=pl.DataFrame(schema=REFUSED_SCHEMA),
        )
    scored = pairs.with_columns(
        pl.Series("cluster_a", cluster[pairs["row_a"].to_numpy()]),
        pl.Series("cluster_b", cluster[pairs["row_b"].to_numpy()]),
    ).filter(pl.col("cluster_a") != pl.col("cluster_b"))
    # One candidate per cluster pair: its strongest record pair.
    best = scored.sort(
        "match_probability", "row_a", "row_b", descending=[True, False, False], nulls_last=True
    ).unique(["cluster_a", "cluster_b"], keep="first", maintain_order=True)
    involved = np.unique(np.concatenate([best["cluster_a"].to_numpy(), best["cluster_b"].to_numpy()]))
    members = np.flatnonzero(np.isin(cluster, involved))

    # Each involved cluster starts as one union-find node holding all its rows' values.
    held: dict[int, dict[str, set[int]]] = {
        label: {kind: set() for kind in config.limits} for label in involved.tolist()
    }
    exclusive: dict[int, set[str]] = {label: set() for label in involved.tolist()}
    sources = prepared["source"].to_numpy()
    for row in members.tolist():
        label = int(cluster[row])
        for kind in config.limits:
            value = int(values[kind][row])
            if value >= 0:
                held[label][kind].add(value)
        if sources[row] in config.exclusive_sources:
            exclusive[label].add(str(sources[row]))
    apart: dict[int, set[tuple[int, int]]] = {}
    if cannot:
        for row in members.tolist():
            if row in cannot.tags:
                apart.setdefault(int(cluster[row]), set()).update(cannot.tags[row])
    finder = LimitedUnionFind(held, config.limits, apart)
    # A scored pair whose two records both carry a birth date was scored on it: the model weighed
    # the disagreement (see ProbabilisticConfig.weigh_birth_date_conflicts), so the limit does not
    # veto it a second time. It still refuses a merge whose conflicting date the model never saw.
    dates = values.get("date_of_birth")
    weigh_dates = (
        rule == PROBABILISTIC_RULE and config.probabilistic.weigh_birth_date_conflicts and dates is not None
    )

    accepted: list[tuple[int, int, str, float | None]] = []
    refused: list[tuple[int, int, str, float | None, str]] = []
    for row_a, row_b, probability, cluster_a, cluster_b in best.select(
        "row_a", "row_b", "match_probability", "cluster_a", "cluster_b"
    ).iter_rows():
        root_a, root_b = finder.find(cluster_a), finder.find(cluster_b)
        if root_a == root_b:
            continue
        shared = exclusive[root_a] & exclusive[root_b]
        if shared:
            refused.append((row_a, row_b, rule, probability, f"exclusive_source:{min(shared)}"))
            continue
        waived = (
            frozenset({"date_of_birth"})
            if weigh_dates and dates is not None and dates[row_a] >= 0 and dates[row_b] >= 0
            else frozenset()
        )
        refused_by = finder.try_union(root_a, root_b, waived)
        if refused_by is not None:
            refused.append((row_a, row_b, rule, probability, refused_by))
            continue
        kept = finder.find(root_a)
        exclusive[kept] = exclusive[root_a] | exclusive[root_b]
        accepted.append((row_a, row_b, rule, probability))

    links = pl.DataFrame(accepted, schema=LINK_SCHEMA, orient="row")
    # Re-label: the deterministic clusters joined by the accepted links.
    n = cluster.size
    row_a = np.concatenate([np.arange(n), links["row_a"].to_numpy()])
    row_b = np.concatenate([cluster, links["row_b"].to_numpy()])
    merged = components(n, row_a.astype(np.int64), row_b.astype(np.int64))
    return MergeResult(
        cluster=merged, links=links, refused=pl.DataFrame(refused, schema=REFUSED_SCHEMA, orient="row")
    )
