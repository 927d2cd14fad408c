"""The match model's output: links above the threshold, every scored pair's waterfall, a report."""

from __future__ import annotations

import math

import polars as pl
import pytest

from cdp_platform.identity.config import ProbabilisticConfig, ResolutionConfig
from cdp_platform.identity.deterministic import stitch
from cdp_platform.identity.normalize import prepare
from cdp_platform.identity.probabilistic import (
    ScoredPairs,
    degenerate_parameters,
    evidence_long,
    match_pairs,
    model_levels,
    neutralise_untrained,
)
from cdp_platform.sandbox.identity_candidates import SandboxCandidates


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


def _model(levels: list[dict]) -> dict:
    return {"comparisons": [{"output_column_name": "postcode", "comparison_levels": levels}]}


def test_degenerate_parameters_are_named() -> None:
    null = {"sql_condition": "postcode_l IS NULL", "is_null_level": True}
    sound = _model(
        [
            null,
            {"sql_condition": "=", "label_for_charts": "exact", "m_probability": 0.9, "u_probability": 0.01},
            {
                "sql_condition": "ELSE",
                "label_for_charts": "else",
                "m_probability": 0.1,
                "u_probability": 0.99,
            },
        ]
    )
    assert degenerate_parameters(model_levels(sound)) == ()
    # EM that learnt agreement as evidence against a match, and disagreement as evidence for one.
    upside_down = _model(
        [
            null,
            {
                "sql_condition": "=",
                "label_for_charts": "exact",
                "m_probability": 0.005,
                "u_probability": 0.01,
            },
            {
                "sql_condition": "ELSE",
                "label_for_charts": "else",
                "m_probability": 0.995,
                "u_probability": 0.99,
            },
        ]
    )
    found = degenerate_parameters(model_levels(upside_down))
    assert len(found) == 2
    assert found[0].startswith("postcode 'exact': m/u = 0.5 < 1")
    assert found[1].startswith("postcode 'else': m/u = 1.01 > 1")


def test_untrained_levels_count_for_nothing() -> None:
    model = _model(
        [
            {"sql_condition": "postcode_l IS NULL", "is_null_level": True},
            {"sql_condition": "=", "label_for_charts": "exact", "m_probability": 0.9, "u_probability": 0.01},
            {
                "sql_condition": "typo",
                "label_for_charts": "typo",
                "u_probability": "level not observed in training dataset",
            },
            {
                "sql_condition": "ELSE",
                "label_for_charts": "else",
                "m_probability": 0.1,
                "u_probability": 0.99,
            },
        ]
    )
    patched, untrained = neutralise_untrained(model)
    assert untrained == ("postcode 'typo'",)
    typo = patched["comparisons"][0]["comparison_levels"][2]
    assert typo["m_probability"] == typo["u_probability"]
    assert patched["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.9
