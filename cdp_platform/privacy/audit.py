"""The erasure requests table and the audit log, in the warehouse schema ``privacy``.

``privacy.erasure_requests`` is how a request is filed without the CLI (one ``insert``); it holds
the identifier only until the request is processed, then only its keyed hash. The audit log is
append-only and never holds a value: ``privacy.erasure_audit`` has one row per processed request
(when, which request, the kind, the keyed hashes of every identifier it resolved to, totals) and
``privacy.erasure_audit_removals`` one row per place something was removed from (the layer, the
lake file or warehouse table, how many rows). Requests are processed in batches (see
:func:`cdp_platform.privacy.erasure.run_batch`); ``privacy.erasure_batches`` has one row per batch
with its counts and the seconds each phase took, and every audit row names its batch. Erasure never
deletes from the ``privacy`` schema.
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass

import duckdb

SCHEMA = "privacy"
REQUESTS = f"{SCHEMA}.erasure_requests"
AUDIT = f"{SCHEMA}.erasure_audit"
REMOVALS = f"{SCHEMA}.erasure_audit_removals"
BATCHES = f"{SCHEMA}.erasure_batches"
REQUEST_KINDS = ("email", "phone", "client_id")
STATUSES = ("pending", "done", "not_found", "invalid")
HASH_PATTERN = "^[0-9a-f]{64}$"

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""
    create table if not exists {REQUESTS} (
        request_id varchar not null default (gen_random_uuid()::varchar),
        identifier_type varchar not null check (identifier_type in ('email', 'phone', 'client_id')),
        identifier_value varchar,
        identifier_hash varchar,
        reference varchar,
        requested_at timestamptz not null default current_timestamp,
        status varchar not null default 'pending'
            check (status in ('pending', 'done', 'not_found', 'invalid')),
        processed_at timestamptz,
        error varchar
    )
    """,
    f"""
    create table if not exists {AUDIT} (
        request_id varchar not null,
        reference varchar,
        requested_at timestamptz,
        processed_at timestamptz not null,
        identifier_type varchar not null,
        identifier_hash varchar,
        status varchar not null,
        clients_erased integer not null,
        identifier_hashes varchar[] not null,
        suppression_entries integer not null,
        rows_removed bigint not null,
        key_fingerprint varchar
    )
    """,
    # Which key made the hashes (a public fingerprint, not the key): a changed key is visible.
    f"alter table {AUDIT} add column if not exists key_fingerprint varchar",
    f"""
    create table if not exists {REMOVALS} (
        request_id varchar not null,
        processed_at timestamptz not null,
        layer varchar not null,
        location varchar not null,
        rows_removed bigint not null
    )
    """,
    f"alter table {AUDIT} add column if not exists batch_id varchar",
    f"""
    create table if not exists {BATCHES} (
        batch_id varchar not null,
        started_at timestamptz not null,
        finished_at timestamptz not null,
        requests integer not null,
        done integer not null,
        not_found integer not null,
        invalid integer not null,
        failed integer not null,
        rows_removed bigint not null,
        files_rewritten integer not null,
        seconds double not null,
        seconds_by_phase json not null,
        bytes_before_compaction json,
        bytes_after_compaction json
    )
    """,
)


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    kind: str
    value: str | None
    reference: str | None = None
    requested_at: datetime.datetime | None = None


def ensure_tables(connection: duckdb.DuckDBPyConnection) -> None:
    from cdp_platform.io.warehouse import execute_ddl

    # On a DuckLake the CHECKs are left out; file_request and close_request check the same values.
    for statement in _DDL:
        execute_ddl(connection, statement)


def file_request(
    connection: duckdb.DuckDBPyConnection,
    kind: str,
    value: str,
    *,
    reference: str | None = None,
    request_id: str | None = None,
) -> ErasureRequest:
    """Add a pending request (what an ``insert`` into ``privacy.erasure_requests`` does)."""
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown identifier type {kind!r}: use one of {', '.join(REQUEST_KINDS)}")
    ensure_tables(connection)
    request_id = request_id or str(uuid.uuid4())
    taken = connection.execute(
        f"select count(*) from {REQUESTS} where request_id = ?", [request_id]
    ).fetchone()
    if taken and taken[0]:
        raise ValueError(f"request id {request_id!r} is already used: choose another or omit it")
    connection.execute(
        f"insert into {REQUESTS} (request_id, identifier_type, identifier_value, reference) values (?, ?, ?, ?)",
        [request_id, kind, value, reference],
    )
    row = connection.execute(
        f"select requested_at from {REQUESTS} where request_id = ?", [request_id]
    ).fetchone()
    return ErasureRequest(request_id, kind, value, reference, row[0] if row else None)


def pending_requests(connection: duckdb.DuckDBPyConnection) -> list[ErasureRequest]:
    ensure_tables(connection)
    rows = connection.execute(
        f"select request_id, identifier_type, identifier_value, reference, requested_at from {REQUESTS} "
        "where status = 'pending' order by requested_at, request_id"
    ).fetchall()
    return [ErasureRequest(*row) for row in rows]


def request(connection: duckdb.DuckDBPyConnection, request_id: str) -> ErasureRequest | None:
    row = connection.execute(
        f"select request_id, identifier_type, identifier_value, reference, requested_at from {REQUESTS} "
        "where request_id = ?",
        [request_id],
    ).fetchone()
    return ErasureRequest(*row) if row else None


def close_request(
    connection: duckdb.DuckDBPyConnection,
    request_id: str,
    *,
    status: str,
    identifier_hash: str | None,
    processed_at: datetime.datetime,
    error: str | None = None,
) -> None:
    """Mark a request processed and forget its value: from now on only its hash is kept."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    connection.execute(
        f"update {REQUESTS} set status = ?, identifier_hash = ?, identifier_value = null, "
        "processed_at = ?, error = ? where request_id = ?",
        [status, identifier_hash, processed_at, error, request_id],
    )


def note_failure(connection: duckdb.DuckDBPyConnection, request_id: str, error: str) -> None:
    """A request its batch could not process: it stays pending (with its value, for the retry)
    and says why."""
    connection.execute(f"update {REQUESTS} set error = ? where request_id = ?", [error, request_id])


def append_batch(connection: duckdb.DuckDBPyConnection, row: dict) -> None:
    """One row of ``privacy.erasure_batches`` (columns as in its DDL; JSON columns as objects)."""
    values = {
        name: json.dumps(value, sort_keys=True) if isinstance(value, dict) else value
        for name, value in row.items()
    }
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    connection.execute(f"insert into {BATCHES} ({columns}) values ({marks})", list(values.values()))


def append_audit(
    connection: duckdb.DuckDBPyConnection,
    *,
    filed: ErasureRequest,
    processed_at: datetime.datetime,
    status: str,
    identifier_hash: str | None,
    identifier_hashes: list[str],
    clients_erased: int,
    suppression_entries: int,
    removals: list[tuple[str, str, int]],
    key_fingerprint: str | None = None,
    batch_id: str | None = None,
) -> None:
    """One audit row for the request, one removal row per (layer, location, rows)."""
    connection.execute(
        f"insert into {AUDIT} (request_id, reference, requested_at, processed_at, identifier_type, "
        "identifier_hash, status, clients_erased, identifier_hashes, suppression_entries, rows_removed, "
        "key_fingerprint, batch_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            filed.request_id,
            filed.reference,
            filed.requested_at,
            processed_at,
            filed.kind,
            identifier_hash,
            status,
            clients_erased,
            sorted(identifier_hashes),
            suppression_entries,
            sum(rows for _, _, rows in removals),
            key_fingerprint,
            batch_id,
        ],
    )
    if removals:
        connection.executemany(
            f"insert into {REMOVALS} values (?, ?, ?, ?, ?)",
            [[filed.request_id, processed_at, layer, location, rows] for layer, location, rows in removals],
        )
