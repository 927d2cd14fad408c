"""``identity.review_decisions``: reviewers' ``same`` / ``different`` words about two records.

Append-only: a decision is never updated, a reviewer who changes their mind records a new one and
the latest per pair wins (:func:`cdp_platform.identity.review.latest_decisions`), so the table is
also the history of who said what, when and why. It names records (``record_id`` of
``identity.identity_map``), not clients: a client id is what a decision changes, a record id is what
it is about. Erasure removes a decision with the person it names (its record ids are the person's
keys, which the erasure sweep deletes from every identity table) and leaves every other one.

Written by ``cdp identity review`` (or any SQL ``insert``); read by the ``identity_map`` asset, whose
next materialization honours it.
"""

from __future__ import annotations

import datetime
import uuid

import duckdb
import polars as pl

from cdp_platform.identity.review import DECISIONS, DIFFERENT, SAME

SCHEMA = "identity"
TABLE = f"{SCHEMA}.review_decisions"
_DDL = f"""
create table if not exists {TABLE} (
    decision_id varchar primary key,
    record_id_a varchar not null,
    record_id_b varchar not null,
    decision varchar not null check (decision in ('{SAME}', '{DIFFERENT}')),
    reviewer varchar not null,
    reason varchar not null,
    decided_at timestamp with time zone not null,
    check (record_id_a <> record_id_b)
)
"""


def ensure_table(connection: duckdb.DuckDBPyConnection) -> None:
    from cdp_platform.io.warehouse import execute_ddl

    connection.execute(f"create schema if not exists {SCHEMA}")
    # On a DuckLake the key and CHECKs are left out; record_decision checks the same rules.
    execute_ddl(connection, _DDL)


def record_decision(
    connection: duckdb.DuckDBPyConnection,
    record_id_a: str,
    record_id_b: str,
    decision: str,
    *,
    reviewer: str,
    reason: str,
    decided_at: datetime.datetime | None = None,
) -> str:
    """Append one decision; returns its id. Raises ``ValueError`` on a decision that is not
    ``same``/``different``, a record paired with itself, or an empty reviewer or reason."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if record_id_a == record_id_b:
        raise ValueError("a decision is about two different records")
    if not reviewer.strip() or not reason.strip():
        raise ValueError("a decision needs a reviewer and a reason")
    ensure_table(connection)
    decision_id = str(uuid.uuid4())
    connection.execute(
        f"insert into {TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            decision_id,
            record_id_a,
            record_id_b,
            decision,
            reviewer.strip(),
            reason.strip(),
            decided_at or datetime.datetime.now(datetime.UTC),
        ],
    )
    return decision_id


def read_decisions(connection: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """Every decision, or None when nobody has recorded one yet (no table)."""
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'review_decisions'",
        [SCHEMA],
    ).fetchone()
    if not exists or not exists[0]:
        return None
    return connection.execute(f"select * from {TABLE}").pl()
