"""A DuckLake's files and history: what the erasure and the maintenance job do to it.

DuckLake never removes data by itself. A ``DELETE`` writes a small delete file beside the data
file (the deleted rows stay in it), and every snapshot keeps the files it saw, for time travel.
Bytes leave the bucket only when (1) a data file with deleted rows is rewritten without them,
(2) the snapshots that still reference the old files are expired, and (3) the files no snapshot
needs any more are cleaned up. The erasure does all three at once for everything
(:func:`forget_history`); the maintenance job does them on a schedule, keeping the retention
(:func:`maintain`).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import asdict, dataclass

import duckdb

from cdp_platform.io.warehouse import LAKE_CATALOG, retry_conflicts

log = logging.getLogger(__name__)

METADATA = f"__ducklake_metadata_{LAKE_CATALOG}"


@dataclass(frozen=True)
class LakeStorage:
    """The lake's files: those of the current version (``live``) and all still stored (``stored``:
    live, plus those older snapshots reference and those scheduled for deletion)."""

    live_files: int
    live_bytes: int
    stored_files: int
    stored_bytes: int
    snapshots: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def storage(connection: duckdb.DuckDBPyConnection) -> LakeStorage:
    """Counted from the catalog (no listing of the bucket)."""
    live = connection.execute(
        f"""
        select count(*), coalesce(sum(file_size_bytes), 0) from (
            select file_size_bytes from {METADATA}.ducklake_data_file where end_snapshot is null
            union all
            select file_size_bytes from {METADATA}.ducklake_delete_file where end_snapshot is null
        )"""
    ).fetchone()
    stored = connection.execute(
        f"""
        select count(*), coalesce(sum(file_size_bytes), 0) from (
            select file_size_bytes from {METADATA}.ducklake_data_file
            union all
            select file_size_bytes from {METADATA}.ducklake_delete_file
        )"""
    ).fetchone()
    scheduled = connection.execute(
        f"select count(*) from {METADATA}.ducklake_files_scheduled_for_deletion"
    ).fetchone()[0]
    snapshots = connection.execute(f"select count(*) from ducklake_snapshots('{LAKE_CATALOG}')").fetchone()[0]
    return LakeStorage(
        int(live[0]), int(live[1]), int(stored[0]) + int(scheduled), int(stored[1]), int(snapshots)
    )


def forget_history(connection: duckdb.DuckDBPyConnection) -> tuple[LakeStorage, LakeStorage]:
    """After an erasure: no byte of what was deleted may stay in the lake, in any version.

    Every data file with deleted rows is rewritten without them (threshold 0), every snapshot but
    the current one is expired (time travel before the erasure is given up: those versions hold
    the people erased), and every file no snapshot needs is deleted from storage at once (not after
    the usual grace period). Returns the storage before and after.
    """
    before = storage(connection)
    retry_conflicts(
        lambda: connection.execute(
            f"call ducklake_rewrite_data_files('{LAKE_CATALOG}', delete_threshold => 0)"
        ).fetchall(),
        "erasure: rewriting the data files with deleted rows",
    )
    _expire_and_clean(connection, older_than=None, delete_older_than=None)
    after = storage(connection)
    log.info("erasure: DuckLake history forgotten: before %s, after %s", before, after)
    return before, after


def maintain(
    connection: duckdb.DuckDBPyConnection, retention_days: int, *, now: datetime.datetime | None = None
) -> dict[str, object]:
    """DuckLake's recommended maintenance: merge small adjacent files, rewrite heavily deleted
    ones, expire snapshots older than the retention, and delete the files none needs any more
    (those that became unneeded before the retention too, so a query still reading them is safe)."""
    now = now or datetime.datetime.now(datetime.UTC)
    cutoff = now - datetime.timedelta(days=retention_days)
    before = storage(connection)
    merged = retry_conflicts(
        lambda: connection.execute(f"call ducklake_merge_adjacent_files('{LAKE_CATALOG}')").fetchall(),
        "maintenance: merging adjacent files",
    )
    rewritten = retry_conflicts(
        lambda: connection.execute(f"call ducklake_rewrite_data_files('{LAKE_CATALOG}')").fetchall(),
        "maintenance: rewriting heavily deleted files",
    )
    expired, cleaned = _expire_and_clean(connection, older_than=cutoff, delete_older_than=cutoff)
    after = storage(connection)
    return {
        "before": before.as_dict(),
        "after": after.as_dict(),
        "merge_results": len(merged),
        "rewrite_results": len(rewritten),
        "snapshots_expired": expired,
        "files_deleted": cleaned,
        "retention_days": retention_days,
    }


def _expire_and_clean(
    connection: duckdb.DuckDBPyConnection,
    *,
    older_than: datetime.datetime | None,
    delete_older_than: datetime.datetime | None,
) -> tuple[int, int]:
    # ``older_than => now()`` expires every snapshot but the newest, which is never expired.
    expire_bound = "now()" if older_than is None else f"'{older_than.isoformat()}'::timestamptz"
    expired = retry_conflicts(
        lambda: connection.execute(
            f"call ducklake_expire_snapshots('{LAKE_CATALOG}', older_than => {expire_bound})"
        ).fetchall(),
        "expiring snapshots",
    )
    if delete_older_than is None:
        cleanup = f"call ducklake_cleanup_old_files('{LAKE_CATALOG}', cleanup_all => true)"
    else:
        cleanup = f"call ducklake_cleanup_old_files('{LAKE_CATALOG}', older_than => '{delete_older_than.isoformat()}'::timestamptz)"
    cleaned = retry_conflicts(lambda: connection.execute(cleanup).fetchall(), "cleaning up old files")
    return len(expired), len(cleaned)
