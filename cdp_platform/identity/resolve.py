"""The entry point: records in, one client per record out, with the evidence and the changes."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.deterministic import limit_values, stitch
from cdp_platform.identity.evidence import LINK_EVIDENCE_SCHEMA, link_evidence, waterfall_rows
from cdp_platform.identity.handle_email import (
    HANDLE_EMAIL_RULE,
    HANDLE_NAME_RULE,
    handle_email_pairs,
    handle_name_pairs,
)
from cdp_platform.identity.merge import LINK_SCHEMA, PROBABILISTIC_RULE, merge_clusters
from cdp_platform.identity.normalize import prepare
from cdp_platform.identity.probabilistic import EVIDENCE_SCHEMA, ModelReport, ScoredPairs, match_pairs
from cdp_platform.identity.review import OUTCOME_SCHEMA, REVIEW_RULE, CannotLinks, constraints, outcomes
from cdp_platform.identity.stable_ids import assign_client_ids
from cdp_platform.identity.unique_names import UNIQUE_NAME_RULE, unique_name_pairs


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve` returns.

    - ``mapping``: one row per record_id: ``client_id``, ``first_seen`` (the identity map to pass as
      ``previous`` next time), ``linked_by`` (sorted rules of the accepted links that touch the
      record: ``email``, ``crm_id``, ..., ``probabilistic``) and ``match_probability`` (the highest
      probability of an accepted probabilistic link touching it, null if none).
    - ``links``: accepted links (record_id_a, record_id_b, rule, match_probability).
    - ``refused``: links refused by a safeguard, with the reason (``limit:<type>`` or
      ``exclusive_source:<source>``).
    - ``changes``: the change log against ``previous`` (``new``, ``merge``, ``split``).
    - ``model``: what the match model could do with these records (:class:`.probabilistic.ModelReport`:
      trained or why not, its comparisons, degenerate parameters).
    - ``evidence``: every pair the model scored at or above the review threshold, with its
      per-comparison match weights (:class:`.probabilistic.ScoredPairs`).
    - ``link_evidence``: per accepted link, its rule and shared value (in the clear: hash it before
      writing it anywhere, :func:`.evidence.hash_shared_values`) or, for a probabilistic link, one
      row per comparison of its waterfall (:mod:`.evidence`); ``record_id_a``/``record_id_b``.
    - ``review``: pairs the model scored between ``review_threshold`` and ``threshold`` whose records
      ended in two clients and that no decision covers, with their waterfall rows (``link_evidence``
      columns): what a reviewer should look at.
    - ``decisions``: what each decision in force did (:func:`.review.outcomes`).
    """

    mapping: pl.DataFrame
    links: pl.DataFrame
    refused: pl.DataFrame
    changes: pl.DataFrame
    model: ModelReport
    evidence: pl.DataFrame
    link_evidence: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema=LINK_EVIDENCE_SCHEMA)
    )
    review: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema=LINK_EVIDENCE_SCHEMA)
    )
    decisions: pl.DataFrame = dataclasses.field(default_factory=lambda: pl.DataFrame(schema=OUTCOME_SCHEMA))


def resolve(
    records: pl.DataFrame,
    config: ResolutionConfig | None = None,
    previous: pl.DataFrame | None = None,
    as_of: datetime.datetime | None = None,
    decisions: pl.DataFrame | None = None,
) -> Resolution:
    """Resolve identities: which records are the same client.

    ``records`` has ``record_id`` (unique, not null) and any of ``source`` (``<system>/<object>``),
    ``first_name``, ``last_name``, ``full_name``, ``email``, ``phone``, ``date_of_birth``, ``street``,
    ``city``, ``postcode``, ``region`` (state or province), ``country``, ``crm_id``, each declared
    social network's identifier (its ``profile_identifier.column``: a handle or a user id) and
    ``ga_client_id``, all nullable text; missing columns count as null.

    ``decisions`` are reviewers' words (``identity.review_decisions``: record_id_a, record_id_b,
    decision ``same``/``different``, decision_id, decided_at; the latest per pair wins), honoured
    throughout (:mod:`.review`): a ``different`` pair never ends in one client, a ``same`` pair is
    merged first, within the limits.

    1. Values are normalized for matching, placeholders dropped (:mod:`.normalize`).
    2. Records sharing a strong identifier are stitched into clusters, within per-client limits and
       in priority order (:mod:`.deterministic`): email, CRM id, social handles and user ids, and GA
       client id link; a phone links only with the same first and last name; an address never links.
       Then reviewers' ``same`` pairs merge their clusters (rule ``review``).
    3. Splink scores name-bearing records of different clusters that share no identifier; pairs
       above ``config.probabilistic.threshold`` merge their clusters unless that would break a
       limit or join two records of an exclusive source (:mod:`.probabilistic`, :mod:`.merge`).
    4. A handle-only social profile (a commenter known by username alone) joins the one rich client
       with a mailbox of the same distinctive user name (:mod:`.handle_email`, ``link_handle_emails``).
    5. A handle-only profile whose handle spells a client's name and carries the number only that
       client's mailbox carries (``james.dumont8427``) joins it (:mod:`.handle_email`,
       ``link_handle_names``).
    6. A name-only social profile (a commenter: a display name and a platform id) joins the one rich
       client carrying its name, when exactly one does (:mod:`.unique_names`, ``link_unique_names``).
    7. Clusters get stable client ids from ``previous`` (record_id, client_id, first_seen): a client
       keeps its id, a merge keeps the oldest, a split is logged (:mod:`.stable_ids`). New records
       are stamped ``first_seen = as_of`` (default: now, UTC).

    The result is a :class:`Resolution`; ``mapping`` holds one row per input record, in input order.
    """
    config = config or ResolutionConfig()
    as_of = as_of or datetime.datetime.now(datetime.UTC)
    prepared = prepare(records, config)
    rules = constraints(decisions, prepared["record_id"])
    deterministic = stitch(prepared, config, rules.cannot)
    cluster = deterministic.cluster
    refused = deterministic.refused
    values = limit_values(prepared)
    later_links = [pl.DataFrame(schema=LINK_SCHEMA)]
    scored = ScoredPairs(
        pairs=pl.DataFrame(),
        evidence=pl.DataFrame(schema=EVIDENCE_SCHEMA),
        report=ModelReport(trained=False, reason="the probabilistic stage is disabled (config)"),
    )

    def probabilistic(clusters: np.ndarray) -> pl.DataFrame:
        nonlocal scored
        scored = match_pairs(prepared, clusters, config.probabilistic)
        return scored.pairs

    # Each later stage proposes pairs; merge_clusters applies those that break no safeguard. A
    # reviewer's ``same`` goes first and is not bound by exclusive sources (see review.py).
    stages: list[tuple[str, Callable[[np.ndarray], pl.DataFrame], ResolutionConfig]] = [
        (REVIEW_RULE, lambda _: rules.must, dataclasses.replace(config, exclusive_sources=frozenset()))
    ]
    if config.probabilistic.enabled:
        stages.append((PROBABILISTIC_RULE, probabilistic, config))
    if config.link_handle_emails:
        stages.append(
            (
                HANDLE_EMAIL_RULE,
                lambda clusters: _unscored(
                    handle_email_pairs(prepared, pl.Series(clusters), config.handle_email_min_plain_length)
                ),
                config,
            )
        )
    if config.link_handle_names:
        stages.append(
            (
                HANDLE_NAME_RULE,
                lambda clusters: _unscored(handle_name_pairs(prepared, pl.Series(clusters))),
                config,
            )
        )
    if config.link_unique_names:
        stages.append(
            (
                UNIQUE_NAME_RULE,
                lambda clusters: _unscored(
                    unique_name_pairs(prepared, pl.Series(clusters), config.unique_name_max_expected_holders)
                ),
                config,
            )
        )
    for rule, propose, stage_config in stages:
        merged = merge_clusters(
            prepared, cluster, values, propose(cluster), stage_config, rule=rule, cannot=rules.cannot
        )
        cluster = merged.cluster
        later_links.append(merged.links)
        refused = pl.concat([refused, merged.refused])

    links = pl.concat(
        [
            deterministic.links.select("row_a", "row_b", "rule").with_columns(
                pl.lit(None, dtype=pl.Float64).alias("match_probability")
            ),
            *later_links,
        ]
    )
    record_ids = prepared["record_id"]
    clusters = pl.DataFrame({"record_id": record_ids, "cluster": cluster})
    mapping, changes = assign_client_ids(clusters, previous, as_of)
    evidence = _evidence(links, prepared.height)
    mapping = (
        evidence.with_columns(pl.Series("record_id", record_ids))
        .join(mapping, on="record_id", how="left", maintain_order="left")
        .select("record_id", "client_id", "first_seen", "linked_by", "match_probability")
    )
    waterfall = waterfall_rows(scored.evidence)
    refused = _with_record_ids(
        refused.select("row_a", "row_b", "rule", "match_probability", "reason"), record_ids
    )
    return Resolution(
        mapping=mapping,
        links=_with_record_ids(links, record_ids),
        refused=refused,
        changes=changes,
        model=scored.report,
        evidence=scored.evidence,
        link_evidence=_with_record_ids(link_evidence(prepared, links, waterfall), record_ids),
        review=_with_record_ids(
            _review_pairs(
                scored.evidence, cluster, rules.decisions, rules.cannot, prepared, config, waterfall
            ),
            record_ids,
        ),
        decisions=outcomes(rules.decisions, mapping, previous, refused),
    )


def _review_pairs(
    scored: pl.DataFrame,  # ScoredPairs.evidence
    cluster: np.ndarray,
    decided: pl.DataFrame,
    cannot: CannotLinks,
    prepared: pl.DataFrame,
    config: ResolutionConfig,
    waterfall: pl.DataFrame,
) -> pl.DataFrame:
    """Scored pairs below the accept threshold whose records are still two clients that no decision
    in force covers (a decided pair is not asked again), in the link evidence shape."""
    band = scored.select("row_a", "row_b", "match_probability").filter(
        pl.col("match_probability") < config.probabilistic.threshold
    )
    band = band.filter(pl.Series(cluster[band["row_a"].to_numpy()] != cluster[band["row_b"].to_numpy()]))
    decided_rows = decided.drop_nulls(["row_a", "row_b"]).select(
        pl.min_horizontal("row_a", "row_b").cast(pl.Int64).alias("row_a"),
        pl.max_horizontal("row_a", "row_b").cast(pl.Int64).alias("row_b"),
    )
    band = band.join(decided_rows, on=["row_a", "row_b"], how="anti")
    if cannot and band.height:
        # Two clients a reviewer already set apart (a ``different`` about other records of theirs)
        # are not asked about again.
        held: dict[int, set[tuple[int, int]]] = {}
        for row, tags in cannot.tags.items():
            held.setdefault(int(cluster[row]), set()).update(tags)
        apart = [
            CannotLinks.conflict(held.get(int(cluster[a]), set()), held.get(int(cluster[b]), set()))
            for a, b in band.select("row_a", "row_b").iter_rows()
        ]
        band = band.filter(~pl.Series(apart, dtype=pl.Boolean))
    return link_evidence(
        prepared, band.with_columns(pl.lit(PROBABILISTIC_RULE).alias("rule")), waterfall
    ).sort("match_probability", "row_a", "row_b", descending=[True, False, False])


def _unscored(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pairs of a rule without a score, in the shape merge_clusters takes."""
    return pairs.with_columns(pl.lit(None, dtype=pl.Float64).alias("match_probability"))


def _evidence(links: pl.DataFrame, n: int) -> pl.DataFrame:
    """Per row: the sorted distinct rules of its links, and its best probabilistic link."""
    ends = pl.concat(
        [
            links.select(pl.col("row_a").alias("row"), "rule", "match_probability"),
            links.select(pl.col("row_b").alias("row"), "rule", "match_probability"),
        ]
    )
    per_row = ends.group_by("row").agg(
        pl.col("rule").unique().sort().alias("linked_by"), pl.col("match_probability").max()
    )
    rows = pl.DataFrame({"row": np.arange(n, dtype=np.int64)})
    return (
        rows.join(per_row, on="row", how="left")
        .sort("row")
        .with_columns(pl.col("linked_by").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .drop("row")
    )


def _with_record_ids(frame: pl.DataFrame, record_ids: pl.Series) -> pl.DataFrame:
    ids = record_ids.to_numpy()
    return (
        frame.with_columns(
            pl.Series("record_id_a", ids[frame["row_a"].to_numpy()], dtype=pl.String),
            pl.Series("record_id_b", ids[frame["row_b"].to_numpy()], dtype=pl.String),
        )
        .drop("row_a", "row_b")
        .select("record_id_a", "record_id_b", pl.exclude("record_id_a", "record_id_b"))
    )
