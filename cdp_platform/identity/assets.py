"""The ``identity_map`` asset: who is who, between the dbt candidates and the marts.

It reads the dbt model ``int_identity_candidates`` (one row per person-like record of every
source), resolves it with :func:`cdp_platform.identity.resolve` against the previous map (so every
client keeps its id, a merge keeps the oldest, a split is logged), and writes
``identity.identity_map``. Every run's merges and splits are appended to
``identity.identity_changes``, which is history and therefore never replaced.

Against the bundled sandbox, whose true persons are known, the asset also grades itself: pairwise
precision, recall and F1 over every candidate, clients holding more than one true person, and how
many identified clients there are for how many true persons (``eval_*`` metadata).
"""

import datetime
from collections.abc import Callable

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.identity.evaluate import evaluate
from cdp_platform.identity.normalize import INPUT_COLUMNS
from cdp_platform.identity.probabilistic import ModelReport
from cdp_platform.identity.resolve import resolve
from cdp_platform.identity.summary import summarize
from cdp_platform.io.warehouse import WAREHOUSE_POOL

IDENTITY_SCHEMA = "identity"
MODEL_CHECK = "match_model_trained"


def _previous_map(connection) -> pl.DataFrame | None:
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'identity_map'",
        [IDENTITY_SCHEMA],
    ).fetchone()[0]
    if not exists:
        return None
    return connection.execute(
        f"select record_id, client_id, first_seen from {IDENTITY_SCHEMA}.identity_map"
    ).pl()


def candidates_for_resolution(candidates: pl.DataFrame) -> pl.DataFrame:
    """Text columns as the library expects; ``source`` as ``<system>/<object>``."""
    present = [c for c in INPUT_COLUMNS if c in candidates.columns]
    frame = candidates.select([pl.col(c).cast(pl.String) for c in present])
    if "source" in frame.columns:
        frame = frame.with_columns(pl.col("source").str.replace(":", "/"))
    return frame


def _append_changes(connection, changes: pl.DataFrame, run_id: str) -> None:
    if changes.is_empty():
        return
    log = changes.with_columns(  # noqa: F841  (DuckDB reads the Python variable by name)
        pl.lit(run_id).alias("run_id"), pl.lit(datetime.datetime.now(datetime.UTC)).alias("logged_at")
    ).to_arrow()
    connection.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    connection.execute(
        f"create table if not exists {IDENTITY_SCHEMA}.identity_changes as select * from log limit 0"
    )
    connection.execute(f"insert into {IDENTITY_SCHEMA}.identity_changes by name select * from log")


def identity_map_asset(truth: Callable[[], pl.DataFrame] | None = None) -> dg.AssetsDefinition:
    """The ``identity_map`` asset; with ``truth`` (a loader of record_id -> person_id, the sandbox's
    :func:`cdp_platform.identity.sandbox_truth.candidate_persons`) it grades every run."""

    @dg.asset(
        key="identity_map",
        deps=[dg.AssetKey("int_identity_candidates")],
        group_name="profile",
        metadata={"schema": IDENTITY_SCHEMA},
        kinds={"python", "splink", "duckdb"},
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                MODEL_CHECK,
                asset="identity_map",
                description="The match model trained on these records, with no degenerate parameter "
                "(else only identifiers link, or links rest on parameters that cannot be right).",
            )
        ],
        description="One row per person-like record: its client_id and the evidence of its links.",
    )
    def identity_map(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
        with warehouse.get_connection() as connection:
            candidates = connection.execute("select * from intermediate.int_identity_candidates").pl()
            previous = _previous_map(connection)
        resolution = resolve(candidates_for_resolution(candidates), previous=previous)
        mapping = resolution.mapping
        table = mapping.select(
            "record_id",
            "client_id",
            pl.col("first_seen"),
            pl.col("linked_by").list.join(",").alias("link_rule"),
            pl.col("match_probability").cast(pl.Float64),
        ).join(candidates.select("record_id", pl.col("source").cast(pl.String)), on="record_id", how="left")
        with warehouse.get_connection() as connection:
            _append_changes(connection, resolution.changes, context.run.run_id)
        summary = summarize(resolution)
        metadata = {
            "clients": summary["clients"],
            "records": summary["records"],
            "clients_with_several_records": summary["clients_with_several_records"],
            "largest_client_records": summary["largest_client_records"],
            "refused_merges": summary["refused_merges"],
            "links_by_rule": dg.MetadataValue.json(summary["links_by_rule"]),
            "refused_by_reason": dg.MetadataValue.json(summary["refused_by_reason"]),
            "changes": dg.MetadataValue.json(summary["changes"]),
            **{f"links_{rule}": count for rule, count in summary["links_by_rule"].items()},
        }
        if truth is not None:
            metadata.update(
                grade(
                    table.join(candidates.select("record_id", "crm_id"), on="record_id", how="left"), truth()
                )
            )
        metadata.update(model_metadata(resolution.model))
        for problem in resolution.model.problems:
            context.log.warning(f"identity_map: match model: {problem}")
        yield dg.Output(table, metadata=metadata)
        yield model_check(resolution.model)

    return identity_map


def model_metadata(report: ModelReport) -> dict[str, object]:
    """``model_*`` metadata: whether the match model trained, why not, on what, and what is wrong."""
    return {
        "model_trained": report.trained,
        "model_reason": report.reason or "",
        "model_comparisons": dg.MetadataValue.json(list(report.comparisons)),
        "model_training_rules": dg.MetadataValue.json(list(report.training_rules)),
        "model_degenerate": dg.MetadataValue.json(list(report.degenerate)),
        "model_untrained_levels": dg.MetadataValue.json(list(report.untrained)),
    }


def model_check(report: ModelReport) -> dg.AssetCheckResult:
    """WARN when the model did not train (naming what is missing) or has a degenerate parameter:
    the map is still written (identifiers still link), but it is not what a working model gives."""
    return dg.AssetCheckResult(
        check_name=MODEL_CHECK,
        passed=not report.problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(report.problems) or None,
        metadata={
            "trained": report.trained,
            "candidates": report.candidates,
            "comparisons": dg.MetadataValue.json(list(report.comparisons)),
        },
    )


def grade(table: pl.DataFrame, persons: pl.DataFrame) -> dict[str, float | int]:
    """``eval_*`` metadata: ``table`` (record_id, client_id, source, crm_id) against the true persons.

    Identified clients are those holding a record that names a person (anything but an anonymous
    web cookie), as ``client_360.is_identified`` counts them; with no client holding two persons,
    identified clients = identified persons + the extra pieces missed links leave.
    """
    graded = table.join(persons, on="record_id", how="inner")
    scores = evaluate(graded.select("record_id", "client_id"), graded.select("record_id", "person_id"))
    names_a_person = (pl.col("source") != "google_analytics/user_daily_activity") | pl.col(
        "crm_id"
    ).is_not_null()
    identified = graded.filter(names_a_person.any().over("client_id"))
    return {
        "eval_precision": round(float(scores["precision"]), 6),
        "eval_recall": round(float(scores["recall"]), 6),
        "eval_f1": round(float(scores["f1"]), 6),
        "eval_multi_person_clusters": int(scores["multi_person_clusters"]),
        "eval_graded_records": int(scores["records"]),
        "eval_ungraded_records": table.height - graded.height,
        "eval_identified_clients": int(identified["client_id"].n_unique()),
        "eval_identified_persons": int(identified["person_id"].n_unique()),
    }


identity_map = identity_map_asset()
