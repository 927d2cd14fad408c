"""The match model's output: links above the threshold, every scored pair's waterfall, a report."""

from __future__ import annotations

import math

import polars as pl
import pytest

from cdp_platform.identity.config import ProbabilisticConfig, ResolutionConfig
from cdp_platform.identity.deterministic import stitch
from cdp_platform.identity.normalize import prepare
from cdp_platform.identity.probabilistic import ScoredPairs, evidence_long, match_pairs
from cdp_platform.identity.sandbox_candidates import SandboxCandidates


@pytest.fixture(scope="module")
def scored(small_candidates: SandboxCandidates) -> ScoredPairs:
    config = ResolutionConfig()
    prepared = prepare(small_candidates.records, config)
    return match_pairs(prepared, stitch(prepared, config).cluster, config.probabilistic)


def test_pairs_are_the_evidence_above_the_threshold(scored: ScoredPairs) -> None:
    threshold = ProbabilisticConfig().threshold
    above = scored.evidence.filter(pl.col("match_probability") >= threshold)
    assert scored.pairs.height > 0
    assert scored.pairs.equals(above.select("row_a", "row_b", "match_probability"))
    # Pairs between the review threshold and the threshold are kept for a reviewer.
    assert scored.evidence["match_probability"].min() >= ProbabilisticConfig().review_threshold
    assert (scored.evidence["row_a"] < scored.evidence["row_b"]).all()


def test_each_pair_carries_its_waterfall(scored: ScoredPairs) -> None:
    assert scored.report.trained and scored.report.reason is None
    long = evidence_long(scored.evidence)
    per_pair = long.group_by("record_id_a", "record_id_b").agg(
        pl.len(),
        pl.col("comparison_match_weight").sum(),
        pl.col("match_weight").first(),
        pl.col("level").null_count().alias("unlabelled"),
    )
    assert (per_pair["len"] == len(scored.report.comparisons)).all()
    assert per_pair["unlabelled"].sum() == 0
    # Fellegi-Sunter: the pair's weight is the prior's plus every comparison's, so the prior's
    # share is one constant across all pairs.
    prior = per_pair["match_weight"] - per_pair["comparison_match_weight"]
    assert float(prior.max() - prior.min()) < 1e-6
    row = long.row(0, named=True)
    assert math.isclose(row["bayes_factor"], 2 ** row["comparison_match_weight"])
