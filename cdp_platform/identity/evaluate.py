"""Grading a resolution against known true persons: pairwise precision, recall, F1, mixed clusters.

Pairwise metrics count pairs of records: a pair is predicted when both records share a client, true
when both belong to one person. Precision is the share of predicted pairs that are true (merging two
people lowers it), recall the share of true pairs that are predicted (missing a link lowers it).
A cluster holding records of more than one true person is the error a CDP must avoid most, so it is
counted on its own.
"""

from __future__ import annotations

import polars as pl


def _pairs(column: pl.Expr) -> pl.Expr:
    return (column * (column - 1) // 2).sum()


def evaluate(mapping: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """Scores of ``mapping`` (record_id, client_id) against ``truth`` (record_id, person_id).

    Only records present in both and with a known person are graded. Returns precision, recall, f1,
    the pair counts behind them, the number of clients and persons, and ``multi_person_clusters``:
    clients that hold records of more than one true person.
    """
    graded = mapping.select("record_id", "client_id").join(
        truth.select("record_id", "person_id").drop_nulls("person_id"), on="record_id", how="inner"
    )
    by_client = graded.group_by("client_id").agg(
        pl.len().alias("records"), pl.col("person_id").n_unique().alias("persons")
    )
    by_person = graded.group_by("person_id").len()
    by_both = graded.group_by("client_id", "person_id").len()
    predicted = int(by_client.select(_pairs(pl.col("records").cast(pl.Int64))).item() or 0)
    actual = int(by_person.select(_pairs(pl.col("len").cast(pl.Int64))).item() or 0)
    correct = int(by_both.select(_pairs(pl.col("len").cast(pl.Int64))).item() or 0)
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": actual,
        "predicted_pairs": predicted,
        "correct_pairs": correct,
        "records": graded.height,
        "clients": by_client.height,
        "persons": by_person.height,
        "multi_person_clusters": int(by_client.filter(pl.col("persons") > 1).height),
    }
