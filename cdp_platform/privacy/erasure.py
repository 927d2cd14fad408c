"""Erasure (GDPR Art. 17 right to be forgotten, CCPA deletion): people out of every layer.

A request names a person by email, phone or ``client_id``. Requests are processed in batches
(:func:`run_batch`): each layer is passed over once for the whole batch and each file rewritten at
most once, so a day's requests cost one compaction of the warehouse, not one each.

1. **Resolve** each request to the person's *person keys* (the ids ``identity_map`` uses:
   ``<source>:<kind>:<id>``: a CRM's contact, a social author...). An email or a phone matches every record
   whose normalized email or phone equals it, in the raw lake (every partition, so records not
   cleansed yet or quarantined count too) and in ``int_identity_candidates``; a ``client_id``
   matches its rows of ``identity_map``. Then every client those keys belong to is taken whole:
   the person is what identity resolution says they are, every source included. A request that
   cannot be read is closed as ``invalid`` with the reason; one whose resolution fails stays
   pending with the reason, and the rest of the batch goes on.
2. **Suppress**: the keyed hashes of the request's identifier, of every person key and of every
   email and phone of the person's records (but those another, remaining record also carries: a
   household's shared phone must not suppress the other members) go to the suppression list
   *before* anything is removed, so an ingestion running meanwhile already drops them.
3. **Lake**: every raw partition and every checkpoint spool page of a stream that holds personal
   data is read once, and rewritten without the batch's people when it had any (atomically: a
   rename locally, one ``PutObject`` on S3, after which older S3 object versions are deleted too).
   Dead letters (``dead_letter/`` and the spool's) are dropped when their body is one of the
   people's records or spells one of their identifiers.
4. **Warehouse**, in one transaction with the audit rows: the cleansed tables and quarantines lose
   the people's records (by record id, by owner column, and by reading quarantined payloads); then
   every other table in every schema (identity, intermediate, marts, predictive, whatever is added
   later) loses every row holding one of their unambiguous identifiers (person keys, interaction
   ids, client ids, emails, phones) in any text or text-list column. The incremental
   ``client_interactions`` is cleaned like any other table, so no history survives a rebuild. The
   pseudonymized file loses the rows of their keyed hashes.
5. **Compact**: the warehouse and the pseudonymized file are copied into fresh files and swapped in
   at the same paths (:mod:`cdp_platform.privacy.compaction`), since DuckDB keeps deleted rows'
   bytes in its free blocks. Then dbt's artifacts and the instance's compute logs lose any line or
   file spelling their identifiers (:mod:`cdp_platform.privacy.artifacts`).
6. **Audit**: each request row forgets its value (only its keyed hash stays), the audit log gets
   the keyed hashes and a count per layer and location, and ``privacy.erasure_batches`` the batch's
   counts and the seconds of each phase.

Bare vendor ids are only ever matched within their own stream's tables, never in the generic
sweep: a CRM's contact and one of its deals can share a number.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from cdp_platform.io.lake import Lake, S3Lake
from cdp_platform.io.lake_history import forget_history
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.io.warehouse import WarehouseTarget, connect_warehouse, retry_conflicts
from cdp_platform.privacy import audit
from cdp_platform.privacy.artifacts import ArtifactFolder, scrub_folders
from cdp_platform.privacy.compaction import compact
from cdp_platform.privacy.hashing import identifier_hash, key_fingerprint, normalize
from cdp_platform.privacy.identifiers import (
    IDENTIFY_SCHEMA,
    PersonStream,
    identify,
    identify_record,
    person_streams,
)
from cdp_platform.privacy.suppression import write_suppression

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "_checkpoints/raw"
DEAD_LETTER_PREFIXES = ("dead_letter", CHECKPOINT_PREFIX)
# Schemas erasure never deletes from: its own requests and audit log (hashes only once processed).
PROTECTED_SCHEMAS = frozenset({audit.SCHEMA})


class ErasureInputError(ValueError):
    """The request's identifier cannot be read; the message never repeats the value."""


class WarehouseBusyError(RuntimeError):
    """Another process holds a DuckDB file erasure must rewrite; the requests stay pending."""


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


def resolve(kind: str, seed: str, contacts: pl.DataFrame, connection: duckdb.DuckDBPyConnection) -> Person:
    """The person a request names; ``contacts`` is :func:`_contact_rows`, read once per batch."""
    person = Person(kind, seed)
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


# --- the batch ----------------------------------------------------------------------------------


@dataclass
class _Work:
    """One readable request of a batch: what it resolved to and what it removed."""

    index: int
    filed: audit.ErasureRequest
    seed: str
    seed_hash: str
    person: Person
    entries: list[tuple[str, str]] = field(default_factory=list)
    written: int = 0
    removals: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """The work's name in the batch's SQL temp tables (never the identifier)."""
        return str(self.index)


@dataclass
class BatchOutcome:
    batch_id: str
    outcomes: list[Outcome]
    failed: dict[str, str]  # request id → why it stays pending
    seconds: dict[str, float]
    files_rewritten: int = 0
    bytes_before: dict[str, int] = field(default_factory=dict)
    bytes_after: dict[str, int] = field(default_factory=dict)
    artifacts_scrubbed: int = 0  # dbt artifacts and compute logs that spelled someone

    def removed_by_layer(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            for layer, rows in outcome.removed_by_layer().items():
                totals[layer] = totals.get(layer, 0) + rows
        return dict(sorted(totals.items()))

    def summary(self) -> dict:
        """Counts, timings and hashes of the batch, never a value."""
        return {
            "batch_id": self.batch_id,
            "requests": len(self.outcomes) + len(self.failed),
            "done": sum(o.status == "done" for o in self.outcomes),
            "not_found": sum(o.status == "not_found" for o in self.outcomes),
            "invalid": sum(o.status == "invalid" for o in self.outcomes),
            "failed": len(self.failed),
            "rows_removed": sum(self.removed_by_layer().values()),
            "removed_by_layer": self.removed_by_layer(),
            "files_rewritten": self.files_rewritten,
            "artifacts_scrubbed": self.artifacts_scrubbed,
            "seconds": round(sum(self.seconds.values()), 3),
            "seconds_by_phase": self.seconds,
            "bytes_before_compaction": self.bytes_before,
            "bytes_after_compaction": self.bytes_after,
        }


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lap = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._lap, 3)
        self._lap = now


def run_batch(
    requests: Sequence[audit.ErasureRequest],
    *,
    lake: Lake,
    warehouse: Path | WarehouseTarget,
    key: bytes,
    phone_region: str = "US",
    pseudonymized: Path | None = None,
    artifact_folders: Sequence[ArtifactFolder] = (),
) -> BatchOutcome:
    """Erase the people ``requests`` name from every layer in one pass, suppress them, compact the
    DuckDB files and record the audit (see the module's docstring).

    Opens ``warehouse`` read-write itself and keeps it to the end: DuckDB then lets no other
    process in, so nothing writes a row back or reads the file half-swapped. Callers hold no
    connection to it (the Dagster asset runs in the ``duckdb_writer`` pool). ``pseudonymized`` is
    the pseudonymized marts' file (:mod:`cdp_platform.privacy.pseudonymize`), swept by the keyed
    hashes of the people's identifiers; ``artifact_folders`` are scrubbed at the end (dbt's
    ``target/`` and ``logs/``, the instance's compute logs).
    """
    clock = _Clock()
    batch_id = str(uuid.uuid4())
    started_at = datetime.datetime.now(datetime.UTC)
    connection = _connect(warehouse, "warehouse")
    try:
        audit.ensure_tables(connection)
        outcomes, failed, work = _resolve_all(requests, lake, connection, key, phone_region, clock)
        files = 0
        for item in work:  # suppress first: an ingestion running meanwhile already drops them
            if item.entries:
                item.written = write_suppression(lake, item.filed.request_id, item.entries, phone_region, key)
        clock.lap("suppress")
        if work:
            files += _purge_lake(lake, work, phone_region)
            for item in work:
                person = item.person
                person.cleansed_emails |= {
                    t.strip().lower() for t in person.tokens if "@" in t and _normalized_is_mine(t, person)
                }
            files += _purge_dead_letters(lake, work, phone_region)
            files += _purge_cursors(lake, work)
            clock.lap("lake")
        before: dict[str, int] = {}
        after: dict[str, int] = {}
        if work and pseudonymized is not None and pseudonymized.exists():
            sizes = _purge_pseudonymized(pseudonymized, work, key, phone_region)
            before["pseudonymized"], after["pseudonymized"] = sizes
            clock.lap("pseudonymized")
        processed_at = datetime.datetime.now(datetime.UTC)
        removals = [list(item.removals) for item in work]

        def commit_warehouse() -> None:
            # One transaction; on DuckLake a concurrent writer of a table may make it conflict, and
            # then it is done again from the start (the removals it counted included).
            for item, counted in zip(work, removals, strict=True):
                item.removals[:] = counted
            del outcomes[len(outcomes_before):]
            connection.execute("begin transaction")
            try:
                if work:
                    _purge_warehouse(connection, work, phone_region)
                for item in work:
                    outcome = Outcome(
                        item.filed.request_id,
                        item.filed.kind,
                        "done",
                        item.seed_hash,
                        _hashes(item, key),
                        len(item.person.clients),
                        item.written,
                        item.removals,
                        key_fingerprint=key_fingerprint(key),
                    )
                    outcomes.append((item.filed, outcome))
                for filed, outcome in outcomes:
                    _record(connection, filed, outcome, processed_at, batch_id)
                for request_id, reason in failed.items():
                    audit.note_failure(connection, request_id, reason)
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise

        outcomes_before = list(outcomes)
        retry_conflicts(commit_warehouse, "erasure: removing the people from the warehouse")
        clock.lap("warehouse")
        if isinstance(warehouse, WarehouseTarget) and warehouse.is_lake:
            # The rows are gone from the current version, but DuckLake keeps them in their data
            # files (a delete file marks them) and in every older snapshot: forget both.
            lake_before, lake_after = forget_history(connection)
            before["warehouse"], after["warehouse"] = lake_before.stored_bytes, lake_after.stored_bytes
            connection.close()
        else:
            before["warehouse"], after["warehouse"] = compact(connection, _file_of(warehouse))
        clock.lap("compact")
    finally:
        connection.close()  # closed already after a compaction; a no-op then
    tokens = set().union(*(item.person.letter_tokens() for item in work)) if work else set()
    scrubbed = scrub_folders(list(artifact_folders), tokens)
    clock.lap("artifacts")
    result = BatchOutcome(
        batch_id,
        [outcome for _, outcome in outcomes],
        failed,
        clock.seconds,
        files,
        before,
        after,
        len(scrubbed),
    )
    summary = result.summary()
    row = {
        "batch_id": batch_id,
        "started_at": started_at,
        "finished_at": datetime.datetime.now(datetime.UTC),
        **{name: summary[name] for name in ("requests", "done", "not_found", "invalid", "failed")},
        "rows_removed": summary["rows_removed"],
        "files_rewritten": files,
        "seconds": summary["seconds"],
        "seconds_by_phase": clock.seconds,
        "bytes_before_compaction": before,
        "bytes_after_compaction": after,
    }
    # The batch's own row, in the fresh file: counts and timings, nothing about anyone. The
    # requests are done by now: a process that took the file in the meantime costs this row only.
    try:
        with _connect(warehouse, "warehouse") as connection:
            audit.append_batch(connection, row)
    except WarehouseBusyError as exc:
        log.warning(
            "erasure batch %s done, but its row could not be written (%s): %s", batch_id, exc, summary
        )
    log.info("erasure batch %s: %s", batch_id, json.dumps(summary, sort_keys=True))
    return result


def _resolve_all(
    requests: Sequence[audit.ErasureRequest],
    lake: Lake,
    connection: duckdb.DuckDBPyConnection,
    key: bytes,
    phone_region: str,
    clock: _Clock,
) -> tuple[list[tuple[audit.ErasureRequest, Outcome]], dict[str, str], list[_Work]]:
    """Each request read and resolved on its own: an unreadable one is closed as ``invalid``, one
    whose resolution fails stays pending with the reason; neither stops the others."""
    outcomes: list[tuple[audit.ErasureRequest, Outcome]] = []
    failed: dict[str, str] = {}
    work: list[_Work] = []
    readable = []
    for filed in requests:
        try:
            readable.append((filed, normalized_seed(filed.kind, filed.value, phone_region)))
        except ErasureInputError as exc:
            outcome = Outcome(filed.request_id, filed.kind, "invalid", None, [], 0, 0, [], error=str(exc))
            outcomes.append((filed, outcome))
    if not readable:
        return outcomes, failed, work
    contacts = _contact_rows(lake, connection, phone_region)
    clock.lap("read contacts")
    for filed, seed in readable:
        try:
            seed_hash = identifier_hash(filed.kind, seed, key, phone_region)
            person = resolve(filed.kind, seed, contacts, connection)
        except Exception as exc:  # one request must not hold up the batch
            failed[filed.request_id] = _reason(exc, filed, seed)
            continue
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
            outcomes.append((filed, outcome))
            continue
        item = _Work(len(work), filed, seed, seed_hash, person)
        item.entries = suppression_entries(person, key, phone_region)
        if filed.kind != "client_id":
            item.entries = sorted(set(item.entries) | {(filed.kind, seed_hash)})
        work.append(item)
    clock.lap("resolve")
    return outcomes, failed, work


def _reason(exc: Exception, filed: audit.ErasureRequest, seed: str) -> str:
    """Why a request failed, without its identifier (the request row keeps that until processed)."""
    text = f"{type(exc).__name__}: {exc}"
    for value in {seed, str(filed.value or "")} - {""}:
        text = text.replace(value, "<identifier>")
    return text[:500]


def _hashes(item: _Work, key: bytes) -> list[str]:
    client_hashes = {identifier_hash("client_id", client, key) for client in item.person.clients}
    return sorted({digest for _, digest in item.entries} | {h for h in client_hashes if h} | {item.seed_hash})


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


@dataclass(frozen=True)
class _Index:
    """Who in the batch each key, email and phone belongs to, to match many people in one join."""

    keys: pl.DataFrame  # key, ref
    emails: pl.DataFrame  # email, ref (the seeds of email requests)
    phones: pl.DataFrame  # phone, ref (the seeds of phone requests)

    @classmethod
    def of(cls, work: Sequence[_Work]) -> _Index:
        def frame(name: str, pairs: list[tuple[str, str]]) -> pl.DataFrame:
            return pl.DataFrame(pairs, schema={name: pl.String, "ref": pl.String}, orient="row").unique()

        return cls(
            frame("key", [(k, w.ref) for w in work for k in w.person.keys]),
            frame("email", [(w.seed, w.ref) for w in work if w.person.kind == "email"]),
            frame("phone", [(w.seed, w.ref) for w in work if w.person.kind == "phone"]),
        )

    def owners(self, identified: pl.DataFrame) -> pl.DataFrame:
        """``(row, ref)`` for each row of :func:`identify`'s output that is one of the batch's
        people (a row can be two people's: a household's phone asked for by both)."""
        rows = identified.with_row_index("row")
        found = [
            rows.select("row", "person_keys")
            .explode("person_keys")
            .join(self.keys, left_on="person_keys", right_on="key")
            .select("row", "ref"),
            rows.select("row", "email").join(self.emails, on="email").select("row", "ref"),
            rows.select("row", "phone").join(self.phones, on="phone").select("row", "ref"),
        ]
        return pl.concat(found).unique()


def _attribute(owners: pl.DataFrame) -> pl.DataFrame:
    """One request per row (the first), so the audit's counts add up to the rows removed."""
    return owners.group_by("row").agg(pl.col("ref").min())


def _purge_lake(lake: Lake, work: Sequence[_Work], phone_region: str) -> int:
    """Every raw partition and spool page read once, rewritten once without the batch's people."""
    index = _Index.of(work)
    by_ref = {w.ref: w for w in work}
    files = 0
    for stream in person_streams():
        for layer, prefix in (("raw", stream.raw_prefix), ("checkpoint", stream.checkpoint_prefix)):
            for key in list(_parquet_keys(lake, prefix)):
                frame = _read_raw(lake, key)
                if frame.height == 0:
                    continue
                identified = identify(frame, stream, phone_region)
                owners = index.owners(identified)
                if owners.height == 0:
                    continue
                rows = identified.with_row_index("row").with_columns(
                    frame["record_id"].cast(pl.String).alias("record_id")
                )
                for (ref,), mine in owners.join(rows, on="row").group_by("ref"):
                    person = by_ref[str(ref)].person
                    person.tokens |= set(mine["tokens"].explode().drop_nulls().to_list())
                    person.erased_ids.setdefault((stream.source, stream.stream), set()).update(
                        mine["record_id"].to_list()
                    )
                for ref, count in _attribute(owners).group_by("ref").len().iter_rows():
                    by_ref[ref].removals.append((layer, key, count))
                doomed = owners["row"].unique().implode()
                kept = frame.with_row_index("__row").filter(~pl.col("__row").is_in(doomed)).drop("__row")
                write_frame(lake, key, kept)
                _purge_old_versions(lake, key, keep_latest=True)
                files += 1
    return files


def _stream_of(key: str) -> tuple[str, str] | None:
    parts = key.split("/")
    if parts[0] == "dead_letter" and len(parts) >= 4:
        return parts[1], parts[2]
    if parts[:2] == ["_checkpoints", "raw"] and len(parts) >= 5:
        return parts[2], parts[3]
    return None


def _letter_owner(
    letter: dict, work: Sequence[_Work], index: _Index, stream: PersonStream | None, phone_region: str
) -> _Work | None:
    """Whose dead letter this is: its body read as one of the stream's records, else the first
    person of the batch whose identifier it spells."""
    body = letter.get("body")
    if stream is not None and isinstance(body, str) and body.startswith("{"):
        try:
            record = json.loads(body)
        except ValueError:
            record = None
        if isinstance(record, dict):
            identified = identify_record(record, stream, phone_region)
            owners = index.owners(pl.DataFrame([identified], schema=IDENTIFY_SCHEMA))
            if owners.height:
                return work[int(owners["ref"].min())]
    texts = [
        body if isinstance(body, str) else json.dumps(body, default=str),
        json.dumps(letter.get("request"), default=str),
    ]
    for item in work:
        if any(_spelled_in(token, text) for token in item.person.letter_tokens() for text in texts):
            return item
    return None


def _spelled_in(token: str, text: str) -> bool:
    """The token as a JSON string (quoted, so a CRM's id ``151`` does not match ``1515``); an
    email or an E.164 phone also bare, as a malformed body may have lost its quotes."""
    if f'"{token}"' in text or f'\\"{token}\\"' in text:
        return True
    return ("@" in token or (token.startswith("+") and len(token) >= 8)) and token in text


def _purge_dead_letters(lake: Lake, work: Sequence[_Work], phone_region: str) -> int:
    index = _Index.of(work)
    by_name = {(s.source, s.stream): s for s in person_streams()}
    files = 0
    for prefix in DEAD_LETTER_PREFIXES:
        for key in list(lake.list_keys(prefix)):
            if not key.endswith(".jsonl"):
                continue
            stream = by_name.get(_stream_of(key) or ("", ""))
            lines = [line for line in lake.read_bytes(key).decode().splitlines() if line.strip()]
            kept = []
            removed: dict[int, int] = {}
            for line in lines:
                try:
                    letter = json.loads(line)
                except ValueError:
                    letter = {"body": line}
                owner = _letter_owner(letter, work, index, stream, phone_region)
                if owner is None:
                    kept.append(line)
                else:
                    removed[owner.index] = removed.get(owner.index, 0) + 1
            if not removed:
                continue
            if kept:
                lake.write_bytes(key, ("\n".join(kept) + "\n").encode())
                _purge_old_versions(lake, key, keep_latest=True)
            else:
                lake.delete(key)
                _purge_old_versions(lake, key, keep_latest=False)
            for position, count in removed.items():
                work[position].removals.append(("dead_letter", key, count))
            files += 1
    return files


def _purge_cursors(lake: Lake, work: Sequence[_Work]) -> int:
    """A saved cursor (``state.json``) can spell someone: a next link with a record id in it. Its
    partition's whole checkpoint goes then (cursors and spool alike): the next run extracts that
    partition from its start, which a checkpoint only ever saves time on."""
    doomed: dict[str, _Work] = {}
    for key in list(lake.list_keys(CHECKPOINT_PREFIX)):
        partition = "/".join(key.split("/")[:5])
        if not key.endswith("state.json") or partition in doomed:
            continue
        text = lake.read_bytes(key).decode(errors="replace")
        owner = next(
            (item for item in work if any(_spelled_in(token, text) for token in item.person.letter_tokens())),
            None,
        )
        if owner is not None:
            doomed[partition] = owner
    for partition, owner in doomed.items():
        keys = list(lake.list_keys(partition))
        lake.delete_prefix(partition)
        for key in keys:
            _purge_old_versions(lake, key, keep_latest=False)
        owner.removals.append(("checkpoint", partition, len(keys)))
    return len(doomed)


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
        "where table_schema = ? and table_name = ? and table_catalog = current_database() "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_pairs(connection: duckdb.DuckDBPyConnection, table: str, pairs: set[tuple[str, str]]) -> None:
    """A temp table ``(ref, v)`` of the batch's values, joined against instead of one query each."""
    frame = pl.DataFrame(sorted(pairs), schema={"ref": pl.String, "v": pl.String}, orient="row")  # noqa: F841
    connection.execute(f"create or replace temp table {table} as select * from frame")


def _delete_matched(
    connection: duckdb.DuckDBPyConnection, table: str, matches: list[str]
) -> list[tuple[str, int]]:
    """Delete the rows the ``matches`` queries (each ``select ref, rid``) find; returns the rows
    removed per request, each row counted once (for the first request it matched)."""
    if not matches:
        return []
    connection.execute(
        "create or replace temp table _erasure_hit as select min(ref) as ref, rid from ("
        + " union all ".join(matches)
        + ") group by rid"
    )
    connection.execute(f"delete from {table} where rowid in (select rid from _erasure_hit)")
    counts = connection.execute("select ref, count(*) from _erasure_hit group by ref").fetchall()
    connection.execute("drop table _erasure_hit")
    return [(str(ref), int(n)) for ref, n in counts]


def _purge_warehouse(connection: duckdb.DuckDBPyConnection, work: Sequence[_Work], phone_region: str) -> None:
    _load_pairs(connection, "_erasure_keys", {(w.ref, k) for w in work for k in w.person.keys})
    _load_pairs(
        connection,
        "_erasure_emails",
        {(w.ref, e) for w in work if w.person.kind == "email" for e in w.person.cleansed_emails | {w.seed}},
    )
    _load_pairs(connection, "_erasure_phones", {(w.ref, w.seed) for w in work if w.person.kind == "phone"})
    for stream in person_streams():
        _purge_cleansed(connection, work, stream, phone_region)
    values = {(w.ref, v) for w in work for v in w.person.sweep_values()}
    for location, layer, per_ref in _sweep(connection, values):
        for ref, rows in per_ref:
            work[int(ref)].removals.append((layer, location, rows))
    for table in ("_erasure_keys", "_erasure_emails", "_erasure_phones"):
        connection.execute(f"drop table if exists {table}")


def _purge_cleansed(
    connection: duckdb.DuckDBPyConnection, work: Sequence[_Work], stream: PersonStream, phone_region: str
) -> None:
    """The stream's cleansed table and quarantine: by the record ids erased from the lake, by
    owner columns, and (quarantine) by reading each quarantined payload again."""
    schema, table = stream.entity.schema_name, stream.entity.entity
    name = (stream.source, stream.stream)
    _load_pairs(
        connection,
        "_erasure_ids",
        {(w.ref, rid) for w in work for rid in w.person.erased_ids.setdefault(name, set())},
    )
    if _table_exists(connection, schema, table):
        columns = _columns(connection, schema, table)
        select = "select m.ref, t.rowid as rid, t.record_id::varchar as record_id"
        matches = [f"{select} from {stream.table} t join _erasure_ids m on t.record_id::varchar = m.v"]
        for link in stream.owners:
            if link.field in columns:
                for prefix in link.prefixes:
                    matches.append(
                        f"{select} from {stream.table} t join _erasure_keys m "
                        f"on ('{prefix}' || t.{_quote(link.field)}) = m.v"
                    )
        if "email" in columns:
            matches.append(
                f"{select} from {stream.table} t join _erasure_emails m on lower(trim(t.email)) = m.v"
            )
        if "phone" in columns:
            matches.append(f"{select} from {stream.table} t join _erasure_phones m on t.phone = m.v")
        # Their ids name the interactions built from them (interaction_sentiment has nothing else),
        # also when a retried request finds the lake already clean.
        found = connection.execute(
            "select distinct ref, record_id from (" + " union all ".join(matches) + ")"
        ).fetchall()
        for ref, record_id in found:
            work[int(ref)].person.erased_ids[name].add(str(record_id))
        for ref, rows in _delete_matched(
            connection, stream.table, [f"select ref, rid from ({m})" for m in matches]
        ):
            work[int(ref)].removals.append(("cleansed", f"{schema}.{table}", rows))
    rejected = f"{table}_rejected"
    if _table_exists(connection, schema, rejected):
        rows = connection.execute(f"select rowid, record_id, payload from {stream.rejected_table}").pl()
        if rows.height:
            identified = identify(rows.select("record_id", "payload"), stream, phone_region)
            owners = _Index.of(work).owners(identified)
            ids = pl.DataFrame(
                [(rid, w.ref) for w in work for rid in w.person.erased_ids[name]],
                schema={"record_id": pl.String, "ref": pl.String},
                orient="row",
            )
            by_id = (
                rows.with_row_index("row")
                .select("row", pl.col("record_id").cast(pl.String))
                .join(ids, on="record_id")
                .select("row", "ref")
            )
            owners = _attribute(pl.concat([owners, by_id]).unique())
            doomed = rows.with_row_index("row").join(owners, on="row")
            for (ref,), mine in doomed.group_by("ref"):
                person = work[int(ref)].person
                person.erased_ids[name].update(mine["record_id"].drop_nulls().cast(pl.String).to_list())
            if doomed.height:
                connection.execute(
                    f"delete from {stream.rejected_table} where rowid in (select unnest(?::bigint[]))",
                    [doomed["rowid"].to_list()],
                )
                for ref, count in doomed.group_by("ref").len().iter_rows():
                    work[int(ref)].removals.append(("quarantine", f"{schema}.{rejected}", count))
    connection.execute("drop table if exists _erasure_ids")


def _sweep(
    connection: duckdb.DuckDBPyConnection, values: set[tuple[str, str]], layer: str | None = None
) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """Every base table of every schema: delete rows holding one of ``values`` (``(ref, value)``:
    the people's unambiguous identifiers) in a text or text-list column. Returns, per table that
    lost rows, ``(location, layer, [(ref, rows)])``."""
    if not values:
        return []
    _load_pairs(connection, "_erasure_values", values)
    tables = connection.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        "and table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
    ).fetchall()
    found = []
    for schema, table in tables:
        # Cleansed tables were handled per stream, by their own ids; the tables of streams that
        # hold no one's personal data (accounts, companies, brand posts) are not erasure's to touch.
        if schema in PROTECTED_SCHEMAS or schema.startswith("cleansed_"):
            continue
        qualified = f"{_quote(schema)}.{_quote(table)}"
        matches = []
        for name, dtype in _columns(connection, schema, table).items():
            if dtype == "VARCHAR":
                matches.append(
                    f"select e.ref, t.rowid as rid from {qualified} t "
                    f"join _erasure_values e on t.{_quote(name)} = e.v"
                )
            elif dtype == "VARCHAR[]":
                matches.append(
                    f"select e.ref, u.rid from (select rowid as rid, unnest({_quote(name)}) as v "
                    f"from {qualified}) u join _erasure_values e on u.v = e.v"
                )
        removed = _delete_matched(connection, qualified, matches)
        if removed:
            found.append((f"{schema}.{table}", layer or _layer_of(schema, table), removed))
    connection.execute("drop table if exists _erasure_values")
    return found


def _purge_pseudonymized(path: Path, work: Sequence[_Work], key: bytes, phone_region: str) -> tuple[int, int]:
    """The pseudonymized file loses the rows of the people's keyed hashes, then is compacted."""
    values: set[tuple[str, str]] = set()
    for item in work:
        person = item.person
        hashed = [identifier_hash("client_id", c, key) for c in person.clients]
        hashed += [identifier_hash("record_id", k, key) for k in person.keys]
        hashed += [identifier_hash("email", e, key) for e in person.emails]
        hashed += [identifier_hash("phone", p, key, phone_region) for p in person.phones]
        values |= {(item.ref, h) for h in hashed if h}
    # Analysts read this file; erasure must not skip it, so the requests stay pending meanwhile.
    target = _connect(path, "pseudonymized warehouse")
    try:
        target.execute("begin transaction")
        found = _sweep(target, values, layer="pseudonymized")
        target.execute("commit")
        for location, layer, per_ref in found:
            for ref, rows in per_ref:
                work[int(ref)].removals.append((layer, f"{path.name}:{location}", rows))
        return compact(target, path)
    finally:
        target.close()


def _file_of(warehouse: Path | WarehouseTarget) -> Path:
    return Path(warehouse.path) if isinstance(warehouse, WarehouseTarget) else Path(warehouse)


def _connect(path: Path | WarehouseTarget, what: str) -> duckdb.DuckDBPyConnection:
    """The file (read-write, so no other process is in), or the DuckLake."""
    target = path if isinstance(path, WarehouseTarget) else WarehouseTarget(path=str(path))
    try:
        return connect_warehouse(target)
    except duckdb.IOException as exc:
        raise WarehouseBusyError(
            f"the {what} {path} is open in another process ({exc}); the requests stay pending: retry "
            "when it is closed (the daily job does)"
        ) from None


def _normalized_is_mine(token: str, person: Person) -> bool:
    return normalize("email", token) in person.emails


def _record(
    connection: duckdb.DuckDBPyConnection,
    filed: audit.ErasureRequest,
    outcome: Outcome,
    processed_at: datetime.datetime,
    batch_id: str,
) -> None:
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
        batch_id=batch_id,
    )
    audit.close_request(
        connection,
        filed.request_id,
        status=outcome.status,
        identifier_hash=outcome.identifier_hash,
        processed_at=processed_at,
        error=outcome.error,
    )
