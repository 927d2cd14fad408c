"""Pairwise grading against true persons."""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import evaluate


def test_pairwise_scores_and_mixed_clusters() -> None:
    truth = pl.DataFrame({"record_id": list("abcdef"), "person_id": ["P1", "P1", "P1", "P2", "P2", None]})
    # a, b together (right); c alone (missed 2 pairs); d with e and a stranger f (f is ungraded).
    mapping = pl.DataFrame({"record_id": list("abcdef"), "client_id": ["X", "X", "Y", "Z", "Z", "Z"]})
    scores = evaluate(mapping, truth)
    assert scores["true_pairs"] == 4  # ab ac bc de
    assert scores["predicted_pairs"] == 2  # ab de
    assert scores["correct_pairs"] == 2
    assert scores["precision"] == 1.0
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["multi_person_clusters"] == 0


def test_a_cluster_of_two_people_costs_precision_and_is_counted() -> None:
    truth = pl.DataFrame({"record_id": list("abc"), "person_id": ["P1", "P1", "P2"]})
    mapping = pl.DataFrame({"record_id": list("abc"), "client_id": ["X", "X", "X"]})
    scores = evaluate(mapping, truth)
    assert scores["precision"] == pytest.approx(1 / 3)
    assert scores["recall"] == 1.0
    assert scores["multi_person_clusters"] == 1
