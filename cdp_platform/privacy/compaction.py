"""Rewrite a DuckDB file so that deleted rows leave no bytes behind.

DuckDB marks the blocks of deleted rows free and keeps their content, also after ``CHECKPOINT``
and ``VACUUM``: a copy of the file still spells an erased person. ``COPY FROM DATABASE`` into a
fresh file writes only live rows (schemas, tables, views, sequences and macros come along), and the
fresh file then replaces the old one at the same path, so every reader that opens the path again
finds the same database, without the erased rows.

The rewrite runs on the connection that just committed the erasure: that connection is the
read-write one, and DuckDB lets no other process open the file while it is held, so no writer (and
no reader in another process) can slip in between the copy and the swap. The swap is a rename in
the same folder, atomic on POSIX: a process that opens the path sees the old file or the new one,
never half of either.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb


def compact(connection: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int]:
    """Copy the database ``connection`` holds (the file ``path``) into a fresh file, swap it in at
    ``path`` and close ``connection``. Returns the file's size before and after, in bytes.

    ``connection`` must have nothing uncommitted and must be the only connection to ``path`` in
    this process: it is closed here, and another connection would keep writing the old file.
    """
    path = Path(path)
    fresh = path.with_name(f".{path.name}.compact-{uuid.uuid4().hex}")
    before = path.stat().st_size
    connection.execute("checkpoint")
    (source,) = connection.execute("select current_database()").fetchone()
    alias = f"compact_{uuid.uuid4().hex[:8]}"
    try:
        connection.execute(f"attach '{_quoted(fresh)}' as {alias}")
        connection.execute(f'copy from database "{source}" to {alias}')
        connection.execute(f"detach {alias}")  # checkpoints the fresh file; no WAL is left
        os.chmod(fresh, path.stat().st_mode & 0o7777)
        os.replace(fresh, path)
    except BaseException:
        fresh.unlink(missing_ok=True)
        Path(f"{fresh}.wal").unlink(missing_ok=True)
        raise
    finally:
        # Closing after the swap is safe: the old file had nothing left to checkpoint, and closing
        # touches only its own (already unlinked) file.
        connection.close()
    return before, path.stat().st_size


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
