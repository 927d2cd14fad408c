"""identity_map, client_scores and interaction_sentiment on a warehouse holding their dbt inputs.

The dbt models are replaced here by tables built from the sandbox with the same columns, so the
three Python assets are exercised alone: resolution quality and id stability, the CLV fit and its
refusal on thin data, sentiment against the sandbox labels.
"""

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from cdp_platform.identity import evaluate
from cdp_platform.identity.assets import IDENTITY_MAP_SCHEMA, identity_map
from cdp_platform.identity.grading import IdentityTruth
from cdp_platform.io.resources import LakeResource
from cdp_platform.io.warehouse import WarehouseIOManager
from cdp_platform.predictive.assets import client_scores, interaction_sentiment
from cdp_platform.predictive.grading import SentimentTruth
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.identity_candidates import sandbox_candidates
from cdp_platform.sandbox.records import SandboxData


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return SandboxData(SandboxConfig(persons=2000))


def _resources(path) -> dict:
    return {
        "io_manager": WarehouseIOManager(database=str(path)),
        "warehouse": DuckDBResource(database=str(path)),
        # identity_map hashes the values its link evidence names with the lake's privacy key.
        "lake": LakeResource(lake_root=str(path.parent / "lake")),
        # No grading here: the tests compare with the sandbox themselves.
        "identity_truth": IdentityTruth(),
        "sentiment_truth": SentimentTruth(),
    }


def _write(path, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(f"create or replace table intermediate.{table} as select * from arrow")


def _checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_identity_map_resolves_and_keeps_client_ids(tmp_path, data):
    candidates = sandbox_candidates(data)
    warehouse = tmp_path / "wh.duckdb"
    _write(warehouse, "int_identity_candidates", candidates.records)
    first = dg.materialize([identity_map], resources=_resources(warehouse))
    meta = first.asset_materializations_for_node("identity_map")[0].metadata
    assert meta["records"].value == candidates.records.height
    assert 0 < meta["clients"].value < candidates.records.height
    assert meta["model_trained"].value is True and meta["model_reason"].value == ""
    assert "name" in meta["model_comparisons"].value
    assert _checks(first)["match_model_trained"].passed
    # The declared columns (types and descriptions, shown before any run) are those written.
    assert meta["dagster/column_schema"].schema == IDENTITY_MAP_SCHEMA
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mapping = con.execute("select * from identity.identity_map").pl()
    assert mapping["record_id"].n_unique() == candidates.records.height
    scores = evaluate(mapping.select("record_id", "client_id"), candidates.truth)
    assert scores["precision"] >= 0.999

    # A second run with one more record: every existing record keeps its client id.
    extra = candidates.records.head(1).with_columns(pl.lit("salesforce/contacts:new-1").alias("record_id"))
    _write(warehouse, "int_identity_candidates", pl.concat([candidates.records, extra]))
    dg.materialize([identity_map], resources=_resources(warehouse))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        again = con.execute("select record_id, client_id from identity.identity_map").pl()
        changes = con.execute("select change, count(*) from identity.identity_changes group by 1").fetchall()
    joined = mapping.select("record_id", "client_id").join(again, on="record_id", suffix="_again")
    assert joined.height == mapping.height
    assert (joined["client_id"] == joined["client_id_again"]).all()
    assert dict(changes)["new"] >= 1


def test_identity_map_warns_when_the_model_cannot_train(tmp_path) -> None:
    # Names and mailboxes of 20 people, each name once: identifiers still link, but no pairs of
    # records share anything EM could learn from.
    names = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(40)],
            "source": ["crm/contacts"] * 40,
            "first_name": [f"Name{chr(97 + i % 26)}" for i in range(40)],
            "last_name": [f"Family{chr(97 + i % 7)}" for i in range(40)],
            "email": [f"p{i % 20}@mail.net" for i in range(40)],
        }
    )
    warehouse = tmp_path / "wh.duckdb"
    _write(warehouse, "int_identity_candidates", names)
    result = dg.materialize([identity_map], resources=_resources(warehouse))
    meta = result.asset_materializations_for_node("identity_map")[0].metadata
    assert meta["model_trained"].value is False
    assert "too few pairs" in meta["model_reason"].value and "date of birth" in meta["model_reason"].value
    check = _checks(result)["match_model_trained"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.description == meta["model_reason"].value
    # The map is still written: the shared mailboxes linked their records.
    assert meta["clients"].value == 20


def _purchases(data: SandboxData, persons: int | None = None) -> pl.DataFrame:
    history = data.purchases
    keep = np.ones(len(history.person), dtype=bool) if persons is None else history.person < persons
    return pl.DataFrame(
        {
            "client_id": [f"C{p}" for p in history.person[keep]],
            "purchased_at": pl.Series(history.time_ms[keep], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")),
            "amount": history.amount_cents[keep] / 100.0,
            "source": ["sandbox"] * int(keep.sum()),
            "record_id": [f"deal-{i}" for i in range(int(keep.sum()))],
        }
    )


def test_client_scores_fit_the_sandbox_purchases(tmp_path, data):
    warehouse = tmp_path / "wh.duckdb"
    _write(warehouse, "int_client_purchases", _purchases(data))
    result = dg.materialize([client_scores], resources=_resources(warehouse))
    assert _checks(result)["fit_supported"].passed
    meta = result.asset_materializations_for_node("client_scores")[0].metadata
    assert {"bgnbd_r", "bgnbd_alpha", "gamma_gamma_p"} <= set(meta)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = con.execute("select * from predictive.client_scores").pl()
    assert scores["client_id"].n_unique() == scores.height
    assert scores.filter(pl.col("p_alive").is_null()).is_empty()
    assert ((scores["churn_probability"] - (1 - scores["p_alive"])).abs() < 1e-9).all()
    assert (scores["clv_12m"] >= 0).all()


def test_thin_purchases_give_null_predictions_and_a_failed_check(tmp_path, data):
    warehouse = tmp_path / "wh.duckdb"
    _write(warehouse, "int_client_purchases", _purchases(data, persons=40))
    result = dg.materialize([client_scores], resources=_resources(warehouse), raise_on_error=False)
    check = _checks(result)["fit_supported"]
    assert not check.passed
    assert "InsufficientDataError" in check.description
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scores = con.execute("select * from predictive.client_scores").pl()
    assert scores.height > 0 and scores["clv_12m"].is_null().all()


def test_interaction_sentiment_matches_the_sandbox_labels(tmp_path, data):
    rows, labels = [], []
    for stream in ("twitter/mentions", "facebook/post_comments", "instagram/media_comments"):
        positions = list(data.all_positions(stream))
        truth = data.sentiment(stream, positions)
        for position, label in zip(positions, truth, strict=True):
            record = data.record(stream, position)
            rows.append(
                {
                    "interaction_id": f"{stream}:{record['id']}",
                    "text": record.get("text") or record.get("message"),
                }
            )
            labels.append(label)
    warehouse = tmp_path / "wh.duckdb"
    _write(warehouse, "int_interactions_unioned", pl.DataFrame(rows))
    dg.materialize([interaction_sentiment], resources=_resources(warehouse))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scored = con.execute(
            "select interaction_id, sentiment_label from predictive.interaction_sentiment"
        ).pl()
    expected = pl.DataFrame({"interaction_id": [r["interaction_id"] for r in rows], "label": labels})
    joined = scored.join(expected, on="interaction_id")
    assert joined.height == len(rows)
    assert (joined["sentiment_label"] == joined["label"]).mean() > 0.9
