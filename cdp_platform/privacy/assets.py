"""Erasure in Dagster: the audit log as an asset that processes pending requests, its job and schedule.

Materializing ``privacy/erasure_audit`` processes every pending row of
``privacy.erasure_requests`` as one batch (see :mod:`cdp_platform.privacy.erasure`) and appends to
the audit log. It writes the warehouse and rewrites its file, so it runs in the ``duckdb_writer``
pool: no cleansed or dbt step runs beside it, and none can write back a row it just removed. The job
``process_erasure_requests`` runs it daily (00:30 UTC; automatically in production), well within
the one month GDPR allows; materialize the asset from the UI to process a request at once, or use
``cdp erase``.
"""

import datetime
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster_duckdb import DuckDBResource

from cdp_platform.io.resources import LakeResource
from cdp_platform.io.warehouse import WAREHOUSE_POOL, WarehouseResource
from cdp_platform.privacy import audit
from cdp_platform.privacy.artifacts import LINE_LOG_SUFFIXES, ArtifactFolder
from cdp_platform.privacy.erasure import BatchOutcome, run_batch
from cdp_platform.privacy.hashing import privacy_key
from cdp_platform.profile.project import DBT_PROJECT_DIR
from cdp_platform.settings import Settings

ERASURE_AUDIT_KEY = dg.AssetKey(["privacy", "erasure_audit"])
ERASURE_JOB_NAME = "process_erasure_requests"
# GDPR Art. 12(3): a request is answered within one month.
DEADLINE_DAYS = 30


def artifact_folders(instance: dg.DagsterInstance | None) -> list[ArtifactFolder]:
    """Where dbt and Dagster write copies beside the data: dbt's ``target/`` and ``logs/``, and the
    local instance's compute logs (its other files are the SQLite event log: not touched)."""
    folders = [ArtifactFolder(DBT_PROJECT_DIR / "target"), ArtifactFolder(DBT_PROJECT_DIR / "logs")]
    manager = instance.compute_log_manager if instance is not None else None
    if isinstance(manager, LocalComputeLogManager):
        # Dagster 1.13 exports neither the class at the top level nor an accessor for its folder.
        folders.append(ArtifactFolder(Path(manager._base_dir), LINE_LOG_SUFFIXES))
    return folders


def _checks(connection: duckdb.DuckDBPyConnection) -> list[dg.AssetCheckResult]:
    not_hashes = connection.execute(
        f"select count(*) from {audit.AUDIT} where "
        f"(identifier_hash is not null and not regexp_full_match(identifier_hash, '{audit.HASH_PATTERN}')) "
        f"or len(list_filter(identifier_hashes, h -> not regexp_full_match(h, '{audit.HASH_PATTERN}'))) > 0"
    ).fetchone()[0]
    kept_values = connection.execute(
        f"select count(*) from {audit.REQUESTS} where status <> 'pending' and identifier_value is not null"
    ).fetchone()[0]
    overdue = connection.execute(
        f"select count(*) from {audit.REQUESTS} where status = 'pending' "
        f"and requested_at < current_timestamp - interval {DEADLINE_DAYS} day"
    ).fetchone()[0]
    invalid = connection.execute(
        f"select count(*) from {audit.REQUESTS} where status = 'invalid'"
    ).fetchone()[0]
    return [
        dg.AssetCheckResult(
            asset_key=ERASURE_AUDIT_KEY,
            check_name="audit_holds_hashes_only",
            passed=not_hashes == 0 and kept_values == 0,
            metadata={
                "audit_rows_with_non_hashes": not_hashes,
                "processed_requests_with_values": kept_values,
            },
        ),
        dg.AssetCheckResult(
            asset_key=ERASURE_AUDIT_KEY,
            check_name="requests_within_deadline",
            passed=overdue == 0,
            metadata={
                "pending_over_deadline": overdue,
                "invalid_requests": invalid,
                "deadline_days": DEADLINE_DAYS,
            },
        ),
    ]


def build_erasure_asset(settings: Settings) -> dg.AssetsDefinition:
    production = settings.env == "production"

    @dg.asset(
        key=ERASURE_AUDIT_KEY,
        group_name="privacy",
        pool=WAREHOUSE_POOL,
        kinds={"python", "duckdb"},
        description=(
            "Processes pending erasure requests (privacy.erasure_requests) as one batch: removes each "
            "person from the raw lake, checkpoints, dead letters, cleansed tables, quarantine, identity_map "
            "and every mart, adds them to the suppression list, rewrites the DuckDB files so no deleted "
            "byte remains, scrubs dbt's artifacts and compute logs, and appends keyed hashes, counts and "
            "the batch's timing to the audit log."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "audit_holds_hashes_only",
                asset=ERASURE_AUDIT_KEY,
                description="The audit log holds only keyed hashes; processed requests keep no value.",
            ),
            dg.AssetCheckSpec(
                "requests_within_deadline",
                asset=ERASURE_AUDIT_KEY,
                description=f"No request waits longer than {DEADLINE_DAYS} days (GDPR: one month).",
            ),
        ],
    )
    def erasure_audit(context: dg.AssetExecutionContext, lake: LakeResource, warehouse: DuckDBResource):
        store = lake.lake()
        with warehouse.get_connection() as connection:
            audit.ensure_tables(connection)
            pending = audit.pending_requests(connection)
        batch: BatchOutcome | None = None
        if pending:
            # No connection is held here: the batch opens the file itself, to rewrite it.
            batch = run_batch(
                pending,
                lake=store,
                # The file (rewritten by the batch) or the DuckLake (its history forgotten).
                warehouse=warehouse.target if isinstance(warehouse, WarehouseResource) else Path(warehouse.database),
                key=privacy_key(store, production=production),
                phone_region=settings.default_phone_region,
                pseudonymized=settings.pseudonymized_warehouse_path,
                artifact_folders=artifact_folders(context.instance),
            )
        with warehouse.get_connection() as connection:
            checks = _checks(connection)
        summary = batch.summary() if batch is not None else {}
        if batch is not None and batch.failed:
            for request_id, reason in batch.failed.items():
                context.log.error(f"erasure request {request_id} failed and stays pending: {reason}")
            raise dg.Failure(
                description=(
                    f"{len(batch.failed)} erasure request(s) failed and stay pending: "
                    f"{', '.join(batch.failed)}; the others of the batch were processed"
                ),
                metadata={"failed_requests": len(batch.failed), "processed_requests": len(batch.outcomes)},
            )
        yield dg.MaterializeResult(
            metadata={
                "batch_id": summary.get("batch_id", ""),
                "processed_requests": len(batch.outcomes) if batch else 0,
                "erased": summary.get("done", 0),
                "not_found": summary.get("not_found", 0),
                "invalid": summary.get("invalid", 0),
                "rows_removed": summary.get("rows_removed", 0),
                "removed_by_layer": dg.MetadataValue.json(summary.get("removed_by_layer", {})),
                "files_rewritten": summary.get("files_rewritten", 0),
                "artifacts_scrubbed": summary.get("artifacts_scrubbed", 0),
                "seconds_by_phase": dg.MetadataValue.json(summary.get("seconds_by_phase", {})),
                "suppression_entries_added": sum(o.suppression_entries for o in batch.outcomes)
                if batch
                else 0,
                "processed_at": datetime.datetime.now(datetime.UTC).isoformat(),
            },
            check_results=checks,
        )

    return erasure_audit


def privacy_definitions(settings: Settings) -> dg.Definitions:
    """The erasure asset, the job that runs it and its daily schedule."""
    asset = build_erasure_asset(settings)
    job = dg.define_asset_job(
        ERASURE_JOB_NAME,
        selection=dg.AssetSelection.assets(ERASURE_AUDIT_KEY),
        description="Process pending erasure requests (privacy.erasure_requests).",
    )
    schedule = dg.ScheduleDefinition(
        name=f"{ERASURE_JOB_NAME}_daily",
        job=job,
        cron_schedule="30 0 * * *",
        execution_timezone="UTC",
        default_status=(
            dg.DefaultScheduleStatus.RUNNING
            if settings.env == "production"
            else dg.DefaultScheduleStatus.STOPPED
        ),
        description="Processes erasure requests every day at 00:30 UTC, before the daily ingestion.",
    )
    return dg.Definitions(assets=[asset], jobs=[job], schedules=[schedule])
