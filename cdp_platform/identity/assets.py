"""The ``identity_map`` asset: who is who, between the dbt candidates and the marts.

It reads the dbt model ``int_identity_candidates`` (one row per person-like record of every
source), resolves it with :func:`cdp_platform.identity.resolve` against the previous map (so every
client keeps its id, a merge keeps the oldest, a split is logged), and writes
``identity.identity_map``. Every run's merges and splits are appended to
``identity.identity_changes``, which is history and therefore never replaced.

Beside the map it writes, each run:

- ``identity.link_evidence``: every accepted link explained, one row per rule link (the rule and
  the keyed hash of the value the two records share, never the value) and per comparison of each
  probabilistic link (Splink's waterfall: level, Bayes factor, match weight). Each record's links
  are also summed up as text in ``identity_map.link_evidence`` (and so ``client_identities``), and a
  few sampled links go into the asset's metadata as a markdown table (keyed hashes only).
- ``identity.review_queue``: pairs the model scored between the review threshold and the accept
  threshold that ended in two clients, with their evidence, for ``cdp identity review``.
- ``identity.review_decisions`` (created empty if missing): read, and honoured by the resolution
  (:mod:`cdp_platform.identity.review`); each decision's first effect is logged once in
  ``identity_changes`` (change ``review_same`` / ``review_different``, its ``decision_id`` and
  ``outcome``), beside the ``split`` or ``merge`` it caused.

Where the true persons are known (the bundled sandbox's, given by the ``identity_truth`` resource),
the asset also grades itself: pairwise
precision, recall and F1 over every candidate, clients holding more than one true person, and how
many identified clients there are for how many true persons (``eval_*`` metadata).
"""

import datetime

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

import cdp_platform.cleansed as cleansed
from cdp_platform.identity import decisions as review_decisions
from cdp_platform.identity.evaluate import evaluate
from cdp_platform.identity.evidence import describe_links, hash_shared_values, markdown_sample, per_record
from cdp_platform.identity.grading import IdentityTruth
from cdp_platform.identity.normalize import input_columns
from cdp_platform.identity.probabilistic import ModelReport
from cdp_platform.identity.resolve import Resolution, resolve
from cdp_platform.identity.summary import counts, summarize
from cdp_platform.io.resources import LakeResource
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.privacy.hashing import identifier_hash, privacy_key

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
    present = [c for c in input_columns() if c in candidates.columns]
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
    # Logs written before reviewers' decisions existed lack their two columns.
    for column in ("decision_id", "outcome"):
        connection.execute(
            f"alter table {IDENTITY_SCHEMA}.identity_changes add column if not exists {column} varchar"
        )
    connection.execute(f"insert into {IDENTITY_SCHEMA}.identity_changes by name select * from log")


def _logged_decisions(connection) -> set[str]:
    """Decisions whose effect identity_changes already holds (each is logged once)."""
    has_column = connection.execute(
        "select count(*) from information_schema.columns where table_schema = ? "
        "and table_name = 'identity_changes' and column_name = 'decision_id'",
        [IDENTITY_SCHEMA],
    ).fetchone()[0]
    if not has_column:
        return set()
    rows = connection.execute(
        f"select distinct decision_id from {IDENTITY_SCHEMA}.identity_changes where decision_id is not null"
    ).fetchall()
    return {row[0] for row in rows}


def decision_changes(resolution: Resolution, previous: pl.DataFrame | None, logged: set[str]) -> pl.DataFrame:
    """identity_changes rows for decisions that acted for the first time: change ``review_<decision>``,
    the client record_id_a now belongs to, the clients both records had before, that client's size.
    A decision whose records are not all there yet is left for a later run."""
    acted = resolution.decisions.filter(
        (pl.col("outcome") != "unknown_record") & ~pl.col("decision_id").is_in(sorted(logged))
    )
    clients = resolution.mapping.select("record_id", "client_id")
    sizes = clients.group_by("client_id").len("records")
    before = (
        previous.select(pl.col("record_id").cast(pl.String), pl.col("client_id").cast(pl.String))
        if previous is not None
        else pl.DataFrame(schema={"record_id": pl.String, "client_id": pl.String})
    )
    ends = pl.concat(
        [
            acted.select("decision_id", pl.col("record_id_a").alias("record_id")),
            acted.select("decision_id", pl.col("record_id_b").alias("record_id")),
        ]
    )
    previous_ids = (
        ends.join(before, on="record_id")
        .group_by("decision_id")
        .agg(pl.col("client_id").unique().sort().alias("previous_client_ids"))
    )
    return (
        acted.join(clients.rename({"record_id": "record_id_a"}), on="record_id_a", how="left")
        .join(sizes, on="client_id", how="left")
        .join(previous_ids, on="decision_id", how="left")
        .select(
            (pl.lit("review_") + pl.col("decision")).alias("change"),
            "client_id",
            pl.col("previous_client_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("records").cast(pl.Int64),
            "decision_id",
            "outcome",
        )
    )


def _replace_table(connection, table: str, frame: pl.DataFrame) -> None:
    arrow = frame.to_arrow()  # noqa: F841  (DuckDB reads the Python variable by name)
    connection.execute(f"create schema if not exists {IDENTITY_SCHEMA}")
    connection.execute(f"create or replace table {IDENTITY_SCHEMA}.{table} as select * from arrow")


def review_queue(resolution: Resolution, key: bytes) -> pl.DataFrame:
    """One row per pair to review: both records and their clients, the probability, the evidence
    as text and as the waterfall (comparison, level, bayes_factor, match_weight)."""
    hashed = hash_shared_values(resolution.review, key)
    clients = resolution.mapping.select("record_id", "client_id")
    waterfall = (
        hashed.filter(pl.col("comparison").is_not_null())
        .group_by("record_id_a", "record_id_b")
        .agg(pl.struct("comparison", "level", "bayes_factor", "match_weight").alias("waterfall"))
    )
    pairs = describe_links(hashed).join(waterfall, on=["record_id_a", "record_id_b"], how="left")
    return (
        pairs.join(clients.rename({"record_id": "record_id_a", "client_id": "client_id_a"}), on="record_id_a")
        .join(clients.rename({"record_id": "record_id_b", "client_id": "client_id_b"}), on="record_id_b")
        .select(
            "record_id_a",
            "record_id_b",
            "client_id_a",
            "client_id_b",
            "match_probability",
            pl.col("text").alias("evidence"),
            "waterfall",
            pl.lit(datetime.datetime.now(datetime.UTC)).alias("queued_at"),
        )
        .sort("match_probability", "record_id_a", "record_id_b", descending=[True, False, False])
    )


# Each column of identity_map: its type and what it holds, shown beside it in the UI (declared, so
# the UI shows it before the first run; the warehouse IO manager keeps the descriptions on every
# materialization's schema).
IDENTITY_MAP_COLUMNS: dict[str, tuple[pl.DataType, str]] = {
    "record_id": (
        pl.String(),
        "The person-like record: <source system>:<object>:<id> of a CRM contact or lead, a web "
        "visitor, a lead form answer or a social profile (int_identity_candidates).",
    ),
    "client_id": (
        pl.String(),
        "The client this record belongs to: stable across runs (a client keeps its id while any "
        "of its records remain), the key of client_360, client_interactions and client_identities.",
    ),
    "first_seen": (pl.Datetime("us", "UTC"), "When this record was first resolved to a client (UTC)."),
    "link_rule": (
        pl.String(),
        "The rules of the accepted links that touch this record, sorted and comma-separated "
        "(email, crm_id, ..., probabilistic); empty for a client of one record.",
    ),
    "match_probability": (
        pl.Float64(),
        "The highest probability of an accepted probabilistic link touching this record; empty when "
        "none did.",
    ),
    "link_evidence": (
        pl.String(),
        "The evidence of up to five of its links, as keyed hashes and rule names (never the shared "
        "values themselves), and how many more there are.",
    ),
    "source": (pl.String(), "The record's source system and object (<system>/<object>)."),
}

IDENTITY_MAP_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(name, str(dtype), description=description)
        for name, (dtype, description) in IDENTITY_MAP_COLUMNS.items()
    ]
)


def identity_map_asset(production: bool = False) -> dg.AssetsDefinition:
    """The ``identity_map`` asset; it grades every run when its ``identity_truth`` resource knows the
    candidates' true persons (the local default's sandbox, see :mod:`cdp_platform.identity.grading`).
    ``production`` refuses a privacy key that is not configured (see ``privacy_key``)."""

    @dg.asset(
        key="identity_map",
        deps=[dg.AssetKey("int_identity_candidates")],
        group_name="profile",
        metadata={"schema": IDENTITY_SCHEMA, "dagster/column_schema": IDENTITY_MAP_SCHEMA},
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
        description=(
            "One row per person-like record: its client_id and the evidence of its links; also writes "
            "identity.link_evidence and identity.review_queue and honours identity.review_decisions."
        ),
    )
    def identity_map(
        context: dg.AssetExecutionContext,
        warehouse: DuckDBResource,
        lake: LakeResource,
        identity_truth: IdentityTruth,
    ):
        key = privacy_key(lake.lake(), production=production)
        with warehouse.get_connection() as connection:
            candidates = connection.execute("select * from intermediate.int_identity_candidates").pl()
            previous = _previous_map(connection)
            decisions = review_decisions.read_decisions(connection)
            logged = _logged_decisions(connection)
        resolution = resolve(candidates_for_resolution(candidates), previous=previous, decisions=decisions)
        mapping = resolution.mapping
        hashed = hash_shared_values(resolution.link_evidence, key)
        described = describe_links(hashed)
        table = (
            mapping.select(
                "record_id",
                "client_id",
                pl.col("first_seen"),
                pl.col("linked_by").list.join(",").alias("link_rule"),
                pl.col("match_probability").cast(pl.Float64),
            )
            .join(per_record(described), on="record_id", how="left", maintain_order="left")
            .join(
                candidates.select("record_id", pl.col("source").cast(pl.String)),
                on="record_id",
                how="left",
                maintain_order="left",
            )
        )
        queue = review_queue(resolution, key)
        acted = decision_changes(resolution, previous, logged)
        with warehouse.get_connection() as connection:
            _append_changes(
                connection, pl.concat([resolution.changes, acted], how="diagonal_relaxed"), context.run.run_id
            )
            _replace_table(connection, "link_evidence", hashed)
            _replace_table(connection, "review_queue", queue)
            # Empty until someone decides; there from the first run so a reviewer can insert by SQL.
            review_decisions.ensure_table(connection)
        if acted.height:
            context.log.info(f"identity: {acted.height} reviewer decision(s) took effect")
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
            "review_queue": queue.height,
            "decisions_in_force": resolution.decisions.height,
            "decisions_taking_effect": dg.MetadataValue.json(counts(acted, "outcome")),
            "link_evidence_rows": hashed.height,
            # Keyed hashes of the two record ids name a link: the event log never holds an identifier.
            "link_evidence_sample": dg.MetadataValue.md(
                markdown_sample(
                    hashed,
                    lambda a, b: (
                        f"{identifier_hash('record_id', a, key)[:8]}~{identifier_hash('record_id', b, key)[:8]}"
                    ),
                )
            ),
        }
        persons = identity_truth.true_persons()
        if persons is not None:
            metadata.update(
                grade(
                    table.join(candidates.select("record_id", "crm_id"), on="record_id", how="left"), persons
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
    devices = [f"{e.source}/{e.entity}" for e in cleansed.ENTITIES if e.device_records]
    names_a_person = ~pl.col("source").is_in(devices) | pl.col("crm_id").is_not_null()
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
