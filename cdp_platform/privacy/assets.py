"""Erasure in Dagster: the audit log as an asset that processes pending requests, its job and schedule.

Materializing ``privacy/erasure_audit`` processes every pending row of
``privacy.erasure_requests`` (see :mod:`cdp_platform.privacy.erasure`) and appends to the audit
log. It writes the warehouse, so it runs in the ``duckdb_writer`` pool: no cleansed or dbt step
runs beside it, and none can write back a row it just removed. The job
``process_erasure_requests`` runs it daily (00:30 UTC; automatically in production), well within
the one month GDPR allows; materialize the asset from the UI to process a request at once, or use
``cdp erase``.
"""

import datetime

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from cdp_platform.io.resources import LakeResource
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.privacy import audit
from cdp_platform.privacy.erasure import Outcome, process_with_settings
from cdp_platform.privacy.hashing import privacy_key
from cdp_platform.settings import Settings

ERASURE_AUDIT_KEY = dg.AssetKey(["privacy", "erasure_audit"])
ERASURE_JOB_NAME = "process_erasure_requests"
# GDPR Art. 12(3): a request is answered within one month.
DEADLINE_DAYS = 30


def process_pending(
    connection: duckdb.DuckDBPyConnection,
    lake,
    key: bytes,
    settings: Settings,
    log=None,
) -> tuple[list[Outcome], list[str]]:
    """Process every pending request; a request that fails stays pending for the next run."""
    outcomes, failed = [], []
    for filed in audit.pending_requests(connection):
        try:
            outcomes.append(
                process_with_settings(filed, lake=lake, connection=connection, key=key, settings=settings)
            )
        except Exception as exc:  # one broken request must not hold up the others
            failed.append(filed.request_id)
            if log is not None:
                log.error(
                    f"erasure request {filed.request_id} failed and stays pending: {type(exc).__name__}: {exc}"
                )
    return outcomes, failed


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
            "Processes pending erasure requests (privacy.erasure_requests): removes each person from "
            "the raw lake, checkpoints, dead letters, cleansed tables, quarantine, identity_map and every "
            "mart, adds them to the suppression list, and appends keyed hashes and counts to the audit log."
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
            outcomes: list[Outcome] = []
            failed: list[str] = []
            if pending:
                key = privacy_key(store, production=production)
                outcomes, failed = process_pending(connection, store, key, settings, context.log)
            checks = _checks(connection)
        removed: dict[str, int] = {}
        for outcome in outcomes:
            for layer, rows in outcome.removed_by_layer().items():
                removed[layer] = removed.get(layer, 0) + rows
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} erasure request(s) failed and stay pending: {', '.join(failed)}",
                metadata={"failed_requests": len(failed), "processed_requests": len(outcomes)},
            )
        yield dg.MaterializeResult(
            metadata={
                "processed_requests": len(outcomes),
                "erased": sum(o.status == "done" for o in outcomes),
                "not_found": sum(o.status == "not_found" for o in outcomes),
                "invalid": sum(o.status == "invalid" for o in outcomes),
                "rows_removed": sum(removed.values()),
                "removed_by_layer": dg.MetadataValue.json(dict(sorted(removed.items()))),
                "suppression_entries_added": sum(o.suppression_entries for o in outcomes),
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
