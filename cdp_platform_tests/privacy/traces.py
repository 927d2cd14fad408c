"""Every byte of every file, searched for people's identifiers, raw and decoded.

A value can hide from a plain byte search: Parquet pages are compressed, DuckDB compresses strings
(dictionary, FSST), Dagster's SQLite stores some bodies zlib-compressed, logs may be gzip or zstd.
So each file is searched as raw bytes and, where it is one of those formats, also as its decoded
values: Parquet read back by pyarrow, a DuckDB file's tables as text, a SQLite file's cells (a blob
also inflated), gzip and zstd decompressed. Deleted rows in a DuckDB file's free blocks can only be
found raw, which is why the erasure rewrites the file rather than trusting its deletes.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

PARQUET, DUCKDB, SQLITE = b"PAR1", b"DUCK", b"SQLite format 3\x00"
GZIP, ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Needles:
    """Each person's identifiers, found case-insensitively and not inside a longer word or number."""

    by_person: Mapping[str, frozenset[str]]

    def owners(self) -> dict[bytes, set[str]]:
        owners: dict[bytes, set[str]] = {}
        for person, words in self.by_person.items():
            for word in words:
                owners.setdefault(word.lower().encode(), set()).add(person)
        return owners


@dataclass(frozen=True)
class Trace:
    location: str  # file, and how it was read: "raw", "parquet values", "duckdb tables", ...
    person: str
    found: str  # the identifier, for the failure message (a test's synthetic person)


def decoded(name: str, data: bytes, path: Path | None = None) -> Iterator[tuple[str, bytes]]:
    """The views of one file: its raw bytes, then every decoded form its format has."""
    yield "raw", data
    try:
        if data[:4] == PARQUET and data[-4:] == PARQUET:
            table = pq.read_table(io.BytesIO(data))
            yield "parquet values", _text(table.to_pylist())
        elif data[8:12] == DUCKDB:
            yield "duckdb tables", _duckdb_text(data, path)
        elif data[:16] == SQLITE:
            yield "sqlite cells", _sqlite_text(data, path)
        elif data[:2] == GZIP:
            yield "gzip", gzip.decompress(data)
        elif data[:4] == ZSTD:
            with pa.CompressedInputStream(pa.BufferReader(data), "zstd") as stream:
                yield "zstd", stream.read()
    except Exception as exc:  # an unreadable file is reported, not skipped
        raise AssertionError(f"{name}: cannot decode ({type(exc).__name__}: {exc})") from exc


def _text(value) -> bytes:
    return repr(value).encode("utf-8", "backslashreplace")


def _on_disk(data: bytes, path: Path | None, suffix: str) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    """A private copy to open (DuckDB and SQLite open files; opening the original could write it),
    under the original's name: dbt's views name their DuckDB catalog, which is the file's name."""
    folder = tempfile.TemporaryDirectory()
    copy = Path(folder.name) / (path.name if path is not None else f"copy{suffix}")
    if path is not None:
        shutil.copyfile(path, copy)
    else:
        copy.write_bytes(data)
    return copy, folder


def _duckdb_text(data: bytes, path: Path | None) -> bytes:
    copy, folder = _on_disk(data, path, ".duckdb")
    try:
        with duckdb.connect(str(copy), read_only=True) as con:
            tables = con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
            parts = [
                _text(con.execute(f'select t::varchar from "{schema}"."{table}" t').fetchall())
                for schema, table in tables
            ]
        return b"\n".join(parts)
    finally:
        folder.cleanup()


def _sqlite_text(data: bytes, path: Path | None) -> bytes:
    copy, folder = _on_disk(data, path, ".db")
    try:
        con = sqlite3.connect(copy)
        try:
            parts = []
            names = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
            for table in names:
                for row in con.execute(f'select * from "{table}"'):
                    for cell in row:
                        if isinstance(cell, bytes):
                            parts.append(cell)
                            try:
                                parts.append(zlib.decompress(cell))
                            except zlib.error:
                                pass
                        elif cell is not None:
                            parts.append(str(cell).encode("utf-8", "backslashreplace"))
            return b"\n".join(parts)
        finally:
            con.close()
    finally:
        folder.cleanup()


def local_files(*roots: Path) -> Iterator[tuple[str, bytes, Path]]:
    for root in roots:
        if root.is_file():
            yield str(root), root.read_bytes(), root
            continue
        # dbt/target and dbt/logs are shared with every other dbt run, which under pytest-xdist may
        # be going on in the other worker and removing its own target folder meanwhile: os.walk
        # skips a folder that vanished, and a file that vanished before it was read holds nothing.
        found = (Path(top, name) for top, _, names in os.walk(root) for name in names)
        for path in sorted(p for p in found if p.is_file() and not p.is_symlink()):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            yield str(path), data, path


def s3_versions(client, bucket: str) -> Iterator[tuple[str, bytes, None]]:
    """Every version of every object in the bucket (older ones too)."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in page.get("Versions", []):
            body = client.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
            yield f"s3://{bucket}/{version['Key']}@{version['VersionId']}", body["Body"].read(), None


def search(files: Iterable[tuple[str, bytes, Path | None]], needles: Needles) -> list[Trace]:
    """Every (file view, person, identifier) found. ``bytes.find`` per identifier over the lowered
    content: a regular expression alternating a hundred words is forty times slower here."""
    owners = needles.owners()
    traces = []
    for name, data, path in files:
        for view, content in decoded(name, data, path):
            lowered = content.lower()
            for word, persons in owners.items():
                if _found(lowered, word):
                    for person in sorted(persons):
                        traces.append(Trace(f"{name} [{view}]", person, word.decode(errors="replace")))
    return traces


def _found(content: bytes, word: bytes) -> bool:
    """``word`` in ``content``, not inside a longer word or number (``151`` is not in ``1515``)."""
    start = content.find(word)
    while start != -1:
        end = start + len(word)
        before = content[start - 1 : start] if start else b""
        after = content[end : end + 1]
        if not _ALNUM.match(before) and not _ALNUM.match(after):
            return True
        start = content.find(word, start + 1)
    return False


_ALNUM = re.compile(rb"[0-9a-z]")
