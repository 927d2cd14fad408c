"""DuckLake maintenance: a daily job keeping the lake's files few and its history bounded.

DuckLake writes a Parquet file per commit and a delete file per DELETE, and keeps every old file
for time travel. Left alone, a year of daily partitions is thousands of small files (slow to
list and read) and every byte ever written stays in the bucket. The recommended maintenance is
run here (:func:`cdp_platform.io.lake_history.maintain`): merge adjacent small files, rewrite files
that are mostly deleted rows, expire snapshots older than ``CDP_DUCKLAKE_SNAPSHOT_RETENTION_DAYS``
(default 7), and delete the files none of the remaining snapshots needs. The job's output carries
the files, bytes and snapshots before and after, so its effect is visible run by run.

Only a DuckLake warehouse has this job; the DuckDB file compacts itself on checkpoint (and the
erasure rewrites it). The job runs beside writers: each maintenance call is its own transaction,
retried when a writer's commit conflicts with it.
"""

import dagster as dg

from cdp_platform.io.lake_history import maintain
from cdp_platform.io.warehouse import WarehouseResource
from cdp_platform.settings import Settings

MAINTENANCE_JOB_NAME = "ducklake_maintenance"
# 03:30 UTC: after the nightly ingestion's busiest hour, before the profile rebuilds in the morning.
MAINTENANCE_CRON = "30 3 * * *"


def ducklake_maintenance_definitions(settings: Settings) -> dg.Definitions:
    """The maintenance job and its daily schedule, for a DuckLake warehouse only."""
    if not settings.warehouse.is_lake:
        return dg.Definitions()
    retention_days = settings.ducklake_snapshot_retention_days

    @dg.op(
        name="ducklake_maintain",
        out=dg.Out(dg.Nothing),  # the report is the output's metadata; nothing is stored
        # One maintenance at a time; writers are not held up (conflicts are retried).
        pool="warehouse/maintenance",
        description=(
            f"Merge small files, rewrite mostly deleted ones, expire snapshots older than {retention_days} "
            "days, delete the files no snapshot needs."
        ),
    )
    def ducklake_maintain(context: dg.OpExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as connection:
            report = maintain(connection, retention_days)
        before, after = report["before"], report["after"]
        context.log.info(
            f"DuckLake maintenance: live files {before['live_files']} -> {after['live_files']}, stored bytes "
            f"{before['stored_bytes']} -> {after['stored_bytes']}, snapshots {before['snapshots']} -> "
            f"{after['snapshots']} ({report['files_deleted']} file(s) deleted)"
        )
        yield dg.Output(
            None,
            metadata={
                **{f"{k}_before": dg.MetadataValue.int(v) for k, v in before.items()},
                **{f"{k}_after": dg.MetadataValue.int(v) for k, v in after.items()},
                "snapshots_expired": dg.MetadataValue.int(report["snapshots_expired"]),
                "files_deleted": dg.MetadataValue.int(report["files_deleted"]),
                "retention_days": dg.MetadataValue.int(retention_days),
            },
        )

    @dg.job(name=MAINTENANCE_JOB_NAME, description="DuckLake's recommended maintenance (see the op).")
    def maintenance_job():
        ducklake_maintain()

    status = (
        dg.DefaultScheduleStatus.RUNNING if settings.env == "production" else dg.DefaultScheduleStatus.STOPPED
    )
    schedule = dg.ScheduleDefinition(
        name=f"{MAINTENANCE_JOB_NAME}_daily",
        job=maintenance_job,
        cron_schedule=MAINTENANCE_CRON,
        execution_timezone="UTC",
        default_status=status,
    )
    return dg.Definitions(jobs=[maintenance_job], schedules=[schedule])
