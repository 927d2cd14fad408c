"""Erasure (GDPR Art. 17 right to be forgotten, CCPA deletion): one person out of every layer.

A request names a person by email, phone or ``client_id``. Processing it:

1. **Resolve** the request to the person's *person keys* (the ids ``identity_map`` uses:
   ``hubspot:contacts:<id>``, ``twitter:authors:<id>``...). An email or a phone matches every record
   whose normalized email or phone equals it, in the raw lake (every partition, so records not
   cleansed yet or quarantined count too) and in ``int_identity_candidates``; a ``client_id``
   matches its rows of ``identity_map``. Then every client those keys belong to is taken whole:
   the person is what identity resolution says they are, every source included.
2. **Suppress**: the keyed hashes of the request's identifier, of every person key and of every
   email and phone of the person's records (but those another, remaining record also carries: a
   household's shared phone must not suppress the other members) go to the suppression list
   *before* anything is removed, so an ingestion running meanwhile already drops them.
3. **Lake**: every raw partition and every checkpoint spool page of a stream that holds personal
   data is read, and rewritten without the person's rows when it had any (atomically: a rename
   locally, one ``PutObject`` on S3, after which older S3 object versions are deleted too). Dead
   letters (``dead_letter/`` and the spool's) are dropped when their body is one of the person's
   records or spells one of the person's identifiers.
4. **Warehouse**, in one transaction with the audit rows: the cleansed tables and quarantines lose
   the person's records (by record id, by owner column, and by reading quarantined payloads); then
   every other table in every schema (identity, intermediate, marts, predictive, whatever is added
   later) loses every row holding one of the person's unambiguous identifiers (person keys,
   interaction ids, client ids, emails, phones) in any text or text-list column. The incremental
   ``client_interactions`` is cleaned like any other table, so no history survives a rebuild.
5. **Audit**: the request row forgets its value (only its keyed hash stays) and the audit log gets
   the keyed hashes and a count per layer and location.

Bare vendor ids are only ever matched within their own stream's tables, never in the generic
sweep: a HubSpot contact and a HubSpot deal can share a number.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from cdp_platform.io.lake import Lake, S3Lake
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.privacy import audit
from cdp_platform.privacy.hashing import identifier_hash, key_fingerprint, normalize
from cdp_platform.privacy.identifiers import (
    IDENTIFY_SCHEMA,
    PersonStream,
    identify,
    identify_record,
    person_streams,
)
from cdp_platform.privacy.suppression import write_suppression
from cdp_platform.settings import Settings

log = logging.getLogger(__name__)

DEAD_LETTER_PREFIXES = ("dead_letter", "_checkpoints/raw")
# Schemas erasure never deletes from: its own requests and audit log (hashes only once processed).
PROTECTED_SCHEMAS = frozenset({audit.SCHEMA})


class ErasureInputError(ValueError):
    """The request's identifier cannot be read; the message never repeats the value."""


@dataclass
class Person:
    """What one request resolved to; grows as the lake is read (tokens, erased ids)."""

    kind: str
    seed: str
    keys: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)  # normalized, not carried by anyone else
    phones: set[str] = field(default_factory=set)  # E.164, not carried by anyone else
    cleansed_emails: set[str] = field(default_factory=set)  # as the cleansed layer spells them
    tokens: set[str] = field(default_factory=set)
    erased_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def matches(self, identified: pl.DataFrame) -> pl.Series:
        """Per row of :func:`identify`'s output: is it this person's record?"""
        keys = sorted(self.keys)
        mask = identified.select(
            pl.col("person_keys").list.eval(pl.element().is_in(keys)).list.any().fill_null(False)
        ).to_series()
        if self.kind == "email":
            mask = mask | (identified["email"] == self.seed).fill_null(False)
        elif self.kind == "phone":
            mask = mask | (identified["phone"] == self.seed).fill_null(False)
        return mask

    def letter_tokens(self) -> set[str]:
        """What a dead letter could spell this person with (see :func:`_spelled_in`)."""
        key_values = {k.split(":", 2)[2] for k in self.keys if k.count(":") >= 2}
        seed = {self.seed} if self.kind != "client_id" else set()
        return (self.tokens | self.emails | self.phones | self.cleansed_emails | key_values | seed) - {""}

    def sweep_values(self) -> list[str]:
        """Identifiers that name this person and nobody else wherever they appear in a table."""
        interactions = {
            f"{src}:{stream}:{rid}" for (src, stream), ids in self.erased_ids.items() for rid in ids
        }
        values = self.keys | self.clients | self.emails | self.phones | self.cleansed_emails | interactions
        if self.kind != "client_id":
            values.add(self.seed)
        return sorted(values)


@dataclass
class Outcome:
    request_id: str
    kind: str
    status: str  # done | not_found | invalid
    identifier_hash: str | None
    identifier_hashes: list[str]
    clients: int
    suppression_entries: int
    removals: list[tuple[str, str, int]]
    error: str | None = None
    key_fingerprint: str | None = None

    def removed_by_layer(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for layer, _, rows in self.removals:
            totals[layer] = totals.get(layer, 0) + rows
        return dict(sorted(totals.items()))

    def summary(self) -> dict:
        """What the CLI prints and the asset reports: counts and hashes, never a value."""
        return {
            "request_id": self.request_id,
            "identifier_type": self.kind,
            "status": self.status,
            "identifier_hash": self.identifier_hash,
            "clients_erased": self.clients,
            "suppression_entries": self.suppression_entries,
            "rows_removed": sum(rows for _, _, rows in self.removals),
            "removed_by_layer": self.removed_by_layer(),
            **({"error": self.error} if self.error else {}),
        }


def normalized_seed(kind: str, value: str | None, phone_region: str = "US") -> str:
    """The request's identifier in the form records are matched on, or :class:`ErasureInputError`."""
    if kind not in audit.REQUEST_KINDS:
        raise ErasureInputError(
            f"unknown identifier type {kind!r}: use one of {', '.join(audit.REQUEST_KINDS)}"
        )
    if value is None or not str(value).strip():
        raise ErasureInputError(f"the {kind} is empty")
    seed = normalize(kind, value, phone_region)
    if seed is None:
        hint = {
            "email": "an address like name@example.com",
            "phone": f"a valid number, with its country code (+44...) or national in {phone_region}",
        }.get(kind, "a client id from identity.identity_map")
        raise ErasureInputError(f"the {kind} given cannot be read: give {hint}")
    return seed


# --- 1. resolve ---------------------------------------------------------------------------------


def _parquet_keys(lake: Lake, prefix: str) -> Iterator[str]:
    return (key for key in lake.list_keys(prefix) if key.endswith(".parquet"))


def _read_raw(lake: Lake, key: str) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(lake.read_bytes(key)))


def _contact_rows(lake: Lake, connection: duckdb.DuckDBPyConnection, phone_region: str) -> pl.DataFrame:
    """Person keys, email and phone of every record that has an email or a phone field: the raw
    lake (partitions and spools) and the warehouse's identity candidates."""
    frames = []
    for person in person_streams():
        if not person.has_contact_fields:
            continue
        for prefix in (person.raw_prefix, person.checkpoint_prefix):
            for key in _parquet_keys(lake, prefix):
                raw = _read_raw(lake, key)
                frames.append(identify(raw, person, phone_region).select("person_keys", "email", "phone"))
    if _table_exists(connection, "intermediate", "int_identity_candidates"):
        candidates = connection.execute(
            "select record_id, email, phone from intermediate.int_identity_candidates "
            "where email is not null or phone is not null"
        ).pl()
        emails = candidates["email"].drop_nulls().unique().to_list()
        mapping = {value: normalize("email", value) for value in emails}
        frames.append(
            candidates.select(
                pl.concat_list(pl.col("record_id").cast(pl.String)).alias("person_keys"),
                pl.col("email").replace_strict(mapping, default=None, return_dtype=pl.String).alias("email"),
                pl.col("phone").cast(pl.String).alias("phone"),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={"person_keys": pl.List(pl.String), "email": pl.String, "phone": pl.String}
        )
    return pl.concat(frames, how="vertical_relaxed")


def _table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def resolve(
    kind: str, seed: str, lake: Lake, connection: duckdb.DuckDBPyConnection, phone_region: str = "US"
) -> Person:
    person = Person(kind, seed)
    contacts = _contact_rows(lake, connection, phone_region)
    if kind in ("email", "phone"):
        seeded = contacts.filter(pl.col(kind) == seed)
        person.keys |= set(seeded["person_keys"].explode().drop_nulls().to_list())
    has_map = _table_exists(connection, "identity", "identity_map")
    if has_map:
        if kind == "client_id":
            found = connection.execute(
                "select record_id from identity.identity_map where client_id = ?", [seed]
            ).fetchall()
            if found:
                person.clients.add(seed)
                person.keys |= {row[0] for row in found}
        elif person.keys:
            rows = connection.execute(
                "select distinct client_id from identity.identity_map where record_id in (select unnest(?))",
                [sorted(person.keys)],
            ).fetchall()
            person.clients |= {row[0] for row in rows}
        if person.clients:
            rows = connection.execute(
                "select record_id from identity.identity_map where client_id in (select unnest(?))",
                [sorted(person.clients)],
            ).fetchall()
            person.keys |= {row[0] for row in rows}

    # The person's emails and phones, minus those a remaining record also carries.
    keys = sorted(person.keys)
    owned = contacts.with_columns(
        pl.col("person_keys").list.eval(pl.element().is_in(keys)).list.any().fill_null(False).alias("mine")
    )
    if kind in ("email", "phone"):
        owned = owned.with_columns((pl.col("mine") | (pl.col(kind) == seed).fill_null(False)).alias("mine"))
    for column, target in (("email", person.emails), ("phone", person.phones)):
        mine = set(owned.filter("mine")[column].drop_nulls().to_list())
        others = set(owned.filter(~pl.col("mine"))[column].drop_nulls().to_list())
        target |= mine - others
    if kind in ("email", "phone"):
        (person.emails if kind == "email" else person.phones).add(seed)
    return person


def suppression_entries(person: Person, key: bytes, phone_region: str) -> list[tuple[str, str]]:
    entries = [("person", identifier_hash("person", k, key)) for k in person.keys]
    entries += [("email", identifier_hash("email", e, key)) for e in person.emails]
    entries += [("phone", identifier_hash("phone", p, key, phone_region)) for p in person.phones]
    return sorted({(kind, digest) for kind, digest in entries if digest is not None})


# --- 3. lake ------------------------------------------------------------------------------------


def _purge_old_versions(lake: Lake, key: str, *, keep_latest: bool) -> int:
    """On a versioned S3 bucket a rewrite or delete leaves the old object as a noncurrent
    version: delete those too (needs ``s3:ListBucketVersions`` and ``s3:DeleteObjectVersion``)."""
    if not isinstance(lake, S3Lake):
        return 0
    client, bucket, object_key = lake._client, lake.bucket, lake._object_key(key)
    deleted = 0
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=object_key):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] != object_key or (keep_latest and version.get("IsLatest")):
                continue
            client.delete_object(Bucket=bucket, Key=object_key, VersionId=version["VersionId"])
            deleted += 1
    return deleted


def _purge_stream_files(
    lake: Lake, person: Person, stream: PersonStream, phone_region: str
) -> list[tuple[str, str, int]]:
    removals = []
    for layer, prefix in (("raw", stream.raw_prefix), ("checkpoint", stream.checkpoint_prefix)):
        for key in list(_parquet_keys(lake, prefix)):
            frame = _read_raw(lake, key)
            if frame.height == 0:
                continue
            identified = identify(frame, stream, phone_region)
            mask = person.matches(identified)
            erased = int(mask.sum())
            if not erased:
                continue
            gone = identified.filter(mask)
            person.tokens |= set(gone["tokens"].explode().drop_nulls().to_list())
            person.erased_ids.setdefault((stream.source, stream.stream), set()).update(
                frame.filter(mask)["record_id"].cast(pl.String).to_list()
            )
            write_frame(lake, key, frame.filter(~mask))
            _purge_old_versions(lake, key, keep_latest=True)
            removals.append((layer, key, erased))
    return removals


def _stream_of(key: str) -> tuple[str, str] | None:
    parts = key.split("/")
    if parts[0] == "dead_letter" and len(parts) >= 4:
        return parts[1], parts[2]
    if parts[:2] == ["_checkpoints", "raw"] and len(parts) >= 5:
        return parts[2], parts[3]
    return None


def _letter_matches(letter: dict, person: Person, stream: PersonStream | None, phone_region: str) -> bool:
    body = letter.get("body")
    if stream is not None and isinstance(body, str) and body.startswith("{"):
        try:
            record = json.loads(body)
        except ValueError:
            record = None
        if isinstance(record, dict):
            identified = identify_record(record, stream, phone_region)
            frame = pl.DataFrame([identified], schema=IDENTIFY_SCHEMA)
            if bool(person.matches(frame)[0]):
                return True
    texts = [
        body if isinstance(body, str) else json.dumps(body, default=str),
        json.dumps(letter.get("request"), default=str),
    ]
    return any(_spelled_in(token, text) for token in person.letter_tokens() for text in texts)


def _spelled_in(token: str, text: str) -> bool:
    """The token as a JSON string (quoted, so the HubSpot id ``151`` does not match ``1515``); an
    email or an E.164 phone also bare, as a malformed body may have lost its quotes."""
    if f'"{token}"' in text or f'\\"{token}\\"' in text:
        return True
    return ("@" in token or (token.startswith("+") and len(token) >= 8)) and token in text


def _purge_dead_letters(lake: Lake, person: Person, phone_region: str) -> list[tuple[str, str, int]]:
    removals = []
    by_name = {(s.source, s.stream): s for s in person_streams()}
    for prefix in DEAD_LETTER_PREFIXES:
        for key in list(lake.list_keys(prefix)):
            if not key.endswith(".jsonl"):
                continue
            stream = by_name.get(_stream_of(key) or ("", ""))
            lines = [line for line in lake.read_bytes(key).decode().splitlines() if line.strip()]
            kept = []
            for line in lines:
                try:
                    letter = json.loads(line)
                except ValueError:
                    letter = {"body": line}
                if not _letter_matches(letter, person, stream, phone_region):
                    kept.append(line)
            if len(kept) == len(lines):
                continue
            if kept:
                lake.write_bytes(key, ("\n".join(kept) + "\n").encode())
                _purge_old_versions(lake, key, keep_latest=True)
            else:
                lake.delete(key)
                _purge_old_versions(lake, key, keep_latest=False)
            removals.append(("dead_letter", key, len(lines) - len(kept)))
    return removals


# --- 4. warehouse -------------------------------------------------------------------------------


def _layer_of(schema: str, table: str) -> str:
    if schema.startswith("cleansed_"):
        return "quarantine" if table.endswith("_rejected") else "cleansed"
    return {
        "identity": "identity",
        "marts": "mart",
        "predictive": "predictive",
        "intermediate": "intermediate",
    }.get(schema, "warehouse")


def _columns(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = connection.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def _deleted(connection: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    row = connection.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _purge_cleansed(
    connection: duckdb.DuckDBPyConnection, person: Person, stream: PersonStream, phone_region: str
) -> list[tuple[str, str, int]]:
    """The stream's cleansed table and quarantine: by the record ids erased from the lake, by
    owner columns, and (quarantine) by reading each quarantined payload again."""
    schema, table = stream.entity.schema_name, stream.entity.entity
    erased = person.erased_ids.setdefault((stream.source, stream.stream), set())
    ids = sorted(erased)
    keys = sorted(person.keys)
    removals = []
    if _table_exists(connection, schema, table):
        columns = _columns(connection, schema, table)
        conditions = ["record_id in (select unnest(?::varchar[]))"]
        params: list = [ids]
        for link in stream.owners:
            if link.field in columns:
                for prefix in link.prefixes:
                    conditions.append(f'(? || "{link.field}") in (select unnest(?::varchar[]))')
                    params += [prefix, keys]
        if "email" in columns and person.kind == "email":
            conditions.append("lower(trim(email)) in (select unnest(?::varchar[]))")
            params.append(sorted(person.cleansed_emails | {person.seed}))
        if "phone" in columns and person.kind == "phone":
            conditions.append("phone = ?")
            params.append(person.seed)
        where = " or ".join(conditions)
        # Their ids name the interactions built from them (interaction_sentiment has nothing else),
        # also when a retried request finds the lake already clean.
        found = connection.execute(
            f"select distinct record_id from {stream.table} where {where}", params
        ).fetchall()
        erased.update(str(row[0]) for row in found)
        removed = _deleted(connection, f"delete from {stream.table} where {where}", params)
        if removed:
            removals.append(("cleansed", f"{schema}.{table}", removed))
    rejected = f"{table}_rejected"
    if _table_exists(connection, schema, rejected):
        rows = connection.execute(f"select rowid, record_id, payload from {stream.rejected_table}").pl()
        doomed: list[int] = []
        if rows.height:
            identified = identify(rows.select("record_id", "payload"), stream, phone_region)
            mask = person.matches(identified) | rows["record_id"].is_in(ids).fill_null(False)
            doomed = rows.filter(mask)["rowid"].to_list()
            erased.update(rows.filter(mask)["record_id"].drop_nulls().cast(pl.String).to_list())
        if doomed:
            removed = _deleted(
                connection,
                f"delete from {stream.rejected_table} where rowid in (select unnest(?::bigint[]))",
                [doomed],
            )
            removals.append(("quarantine", f"{schema}.{rejected}", removed))
    return removals


def _sweep(
    connection: duckdb.DuckDBPyConnection, values: list[str], layer: str | None = None
) -> list[tuple[str, str, int]]:
    """Every base table of every schema: delete rows holding one of ``values`` (the person's
    unambiguous identifiers) in a text or text-list column."""
    if not values:
        return []
    connection.execute("create or replace temp table _erasure_values (v varchar)")
    connection.executemany("insert into _erasure_values values (?)", [[v] for v in values])
    tables = connection.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        "and table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
    ).fetchall()
    removals = []
    for schema, table in tables:
        # Cleansed tables were handled per stream, by their own ids; the tables of streams that
        # hold no one's personal data (accounts, companies, brand posts) are not erasure's to touch.
        if schema in PROTECTED_SCHEMAS or schema.startswith("cleansed_"):
            continue
        conditions = []
        for name, dtype in _columns(connection, schema, table).items():
            quoted = '"' + name.replace('"', '""') + '"'
            if dtype == "VARCHAR":
                conditions.append(f"{quoted} in (select v from _erasure_values)")
            elif dtype == "VARCHAR[]":
                conditions.append(f"list_has_any({quoted}, (select list(v) from _erasure_values))")
        if not conditions:
            continue
        removed = _deleted(connection, f'delete from "{schema}"."{table}" where {" or ".join(conditions)}')
        if removed:
            removals.append((layer or _layer_of(schema, table), f"{schema}.{table}", removed))
    connection.execute("drop table if exists _erasure_values")
    return removals


# --- the whole request --------------------------------------------------------------------------


def process(
    filed: audit.ErasureRequest,
    *,
    lake: Lake,
    connection: duckdb.DuckDBPyConnection,
    key: bytes,
    phone_region: str = "US",
    pseudonymized: Path | None = None,
) -> Outcome:
    """Erase the person ``filed`` names from every layer, suppress them, and record the audit.

    ``pseudonymized`` is the pseudonymized marts' DuckDB file (see
    :mod:`cdp_platform.privacy.pseudonymize`): its rows hold the person's identifiers as keyed
    hashes, so it is swept with the hashes of the person's client ids, person keys, emails and
    phones. It is rebuilt from the marts anyway, but not before its next materialization.
    """
    audit.ensure_tables(connection)
    processed_at = datetime.datetime.now(datetime.UTC)
    try:
        seed = normalized_seed(filed.kind, filed.value, phone_region)
    except ErasureInputError as exc:
        outcome = Outcome(filed.request_id, filed.kind, "invalid", None, [], 0, 0, [], error=str(exc))
        _record(connection, filed, outcome, processed_at)
        return outcome
    seed_hash = identifier_hash(filed.kind, seed, key, phone_region)

    person = resolve(filed.kind, seed, lake, connection, phone_region)
    if filed.kind == "client_id" and not person.clients:
        outcome = Outcome(
            filed.request_id,
            filed.kind,
            "not_found",
            seed_hash,
            [],
            0,
            0,
            [],
            error="no such client_id in identity_map",
            key_fingerprint=key_fingerprint(key),
        )
        _record(connection, filed, outcome, processed_at)
        return outcome

    # Suppress first: an ingestion running while the lake is rewritten already drops the person.
    entries = suppression_entries(person, key, phone_region)
    if filed.kind != "client_id":
        entries = sorted(set(entries) | {(filed.kind, seed_hash)})
    written = write_suppression(lake, filed.request_id, entries, phone_region, key) if entries else 0
    removals: list[tuple[str, str, int]] = []
    for stream in person_streams():
        removals += _purge_stream_files(lake, person, stream, phone_region)
    person.cleansed_emails |= {
        t.strip().lower() for t in person.tokens if "@" in t and _normalized_is_mine(t, person)
    }
    removals += _purge_dead_letters(lake, person, phone_region)

    client_hashes = {identifier_hash("client_id", client, key) for client in person.clients}
    hashes = sorted({digest for _, digest in entries} | {h for h in client_hashes if h} | {seed_hash})
    if pseudonymized is not None and pseudonymized.exists():
        removals += _purge_pseudonymized(pseudonymized, person, key, phone_region)
    connection.execute("begin transaction")
    try:
        for stream in person_streams():
            removals += _purge_cleansed(connection, person, stream, phone_region)
        removals += _sweep(connection, person.sweep_values())
        outcome = Outcome(
            filed.request_id,
            filed.kind,
            "done",
            seed_hash,
            hashes,
            len(person.clients),
            written,
            removals,
            key_fingerprint=key_fingerprint(key),
        )
        _record(connection, filed, outcome, processed_at, in_transaction=True)
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    # Deleted rows leave the file's live data at the next checkpoint; do it now, not "eventually".
    connection.execute("checkpoint")
    log.info("erasure %s: %s", filed.request_id, outcome.summary())
    return outcome


def _purge_pseudonymized(
    path: Path, person: Person, key: bytes, phone_region: str
) -> list[tuple[str, str, int]]:
    hashed = [identifier_hash("client_id", c, key) for c in person.clients]
    hashed += [identifier_hash("record_id", k, key) for k in person.keys]
    hashed += [identifier_hash("email", e, key) for e in person.emails]
    hashed += [identifier_hash("phone", p, key, phone_region) for p in person.phones]
    try:
        target = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        # Analysts read this file; erasure must not skip it, so the request stays pending.
        raise RuntimeError(
            f"the pseudonymized warehouse {path} is open in another process ({exc}); the request stays "
            "pending and is retried by the next run"
        ) from None
    with target:
        removals = _sweep(target, sorted({h for h in hashed if h}), layer="pseudonymized")
        target.execute("checkpoint")
    return [(layer, f"{path.name}:{location}", rows) for layer, location, rows in removals]


def _normalized_is_mine(token: str, person: Person) -> bool:
    return normalize("email", token) in person.emails


def _record(
    connection: duckdb.DuckDBPyConnection,
    filed: audit.ErasureRequest,
    outcome: Outcome,
    processed_at: datetime.datetime,
    *,
    in_transaction: bool = False,
) -> None:
    if not in_transaction:
        connection.execute("begin transaction")
    audit.append_audit(
        connection,
        filed=filed,
        processed_at=processed_at,
        status=outcome.status,
        identifier_hash=outcome.identifier_hash,
        identifier_hashes=outcome.identifier_hashes,
        clients_erased=outcome.clients,
        suppression_entries=outcome.suppression_entries,
        removals=outcome.removals,
        key_fingerprint=outcome.key_fingerprint,
    )
    audit.close_request(
        connection,
        filed.request_id,
        status=outcome.status,
        identifier_hash=outcome.identifier_hash,
        processed_at=processed_at,
        error=outcome.error,
    )
    if not in_transaction:
        connection.execute("commit")


def process_with_settings(
    filed: audit.ErasureRequest,
    *,
    lake: Lake,
    connection: duckdb.DuckDBPyConnection,
    key: bytes,
    settings: Settings,
) -> Outcome:
    """:func:`process` with the platform's phone region and pseudonymized file (the job and the CLI)."""
    return process(
        filed,
        lake=lake,
        connection=connection,
        key=key,
        phone_region=settings.default_phone_region,
        pseudonymized=settings.pseudonymized_warehouse_path,
    )
