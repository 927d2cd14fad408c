"""The suppression list: keyed hashes of erased people's identifiers, consulted at raw ingestion.

An erasure removes a person from every layer, but the vendors still hold them: tomorrow's partition
would bring them back. So each erasure also appends the keyed hashes (never the values) of the
person's identifiers to the suppression list, and raw ingestion drops every record that carries
one of them before anything lands in the lake (the page spool included). The raw asset reports
how many it dropped as ``suppressed_records``.

What is hashed, per record of a stream that holds personal data (see
:mod:`cdp_platform.privacy.identifiers`): its person keys (``<source>:<kind>:<id>``: a social
author, a CRM's contact...), its email and its phone, each as
``identifier_hash(kind, value)`` with kinds ``person``, ``email`` and ``phone``.

Storage: one Parquet file per erasure request, ``_privacy/suppression/<request id>.parquet`` in the
lake (``kind``, ``hash``, ``request_id``, ``added_at``, ``phone_region``). The lake, not the
warehouse, because raw ingestion runs beside warehouse writers and DuckDB admits no reader while a
writer holds the file; one file per request, because files are written whole and atomically and
two erasures never rewrite each other's entries. An entry is never removed: a person who wants
to come back is a new consent, handled by deleting that request's file on purpose.
"""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from cdp_platform.io.lake import Lake
from cdp_platform.privacy.hashing import PrivacyKeyError, key_fingerprint, keyed_hash, privacy_key
from cdp_platform.privacy.identifiers import IDENTIFY_SCHEMA, identify, identify_record, person_stream

SUPPRESSION_PREFIX = "_privacy/suppression"
SUPPRESSION_SCHEMA = {
    "kind": pl.String,
    "hash": pl.String,
    "request_id": pl.String,
    "added_at": pl.Datetime("us", "UTC"),
    "phone_region": pl.String,
    "key_fingerprint": pl.String,
}


def suppression_key(request_id: str) -> str:
    return f"{SUPPRESSION_PREFIX}/{request_id}.parquet"


def write_suppression(
    lake: Lake, request_id: str, entries: Iterable[tuple[str, str]], phone_region: str, key: bytes
) -> int:
    """Record ``(kind, hash)`` entries for a request (replacing that request's file, so a retried
    erasure does not double them). Returns how many distinct entries were written."""
    unique = sorted(set(entries))
    frame = pl.DataFrame(
        {
            "kind": [kind for kind, _ in unique],
            "hash": [digest for _, digest in unique],
            "request_id": [request_id] * len(unique),
            "added_at": [datetime.datetime.now(datetime.UTC)] * len(unique),
            "phone_region": [phone_region] * len(unique),
            "key_fingerprint": [key_fingerprint(key)] * len(unique),
        },
        schema=SUPPRESSION_SCHEMA,
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    lake.write_bytes(suppression_key(request_id), buffer.getvalue())
    return len(unique)


def read_suppression(lake: Lake) -> pl.DataFrame:
    frames = [
        pl.read_parquet(io.BytesIO(lake.read_bytes(key)))
        for key in lake.list_keys(SUPPRESSION_PREFIX)
        if key.endswith(".parquet")
    ]
    if not frames:
        return pl.DataFrame(schema=SUPPRESSION_SCHEMA)
    return pl.concat(frames, how="diagonal_relaxed").cast(SUPPRESSION_SCHEMA)  # type: ignore[arg-type]


@dataclass
class Suppressor:
    """Drops the records of suppressed people from raw pages, with counts per stream."""

    hashes: frozenset[str]
    key: bytes
    phone_region: str = "US"
    dropped: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, lake: Lake) -> Suppressor | None:
        """The lake's suppression list, or ``None`` while it is empty (then ingestion does no
        hashing at all, and needs no key)."""
        entries = read_suppression(lake)
        if entries.is_empty():
            return None
        latest = entries.sort("added_at")["phone_region"].drop_nulls()
        region = latest[-1] if latest.len() else "US"
        key = privacy_key(lake, create=False)
        # Hashes made under another key match nothing: ingesting on would let erased people back.
        others = set(entries["key_fingerprint"].drop_nulls().to_list()) - {key_fingerprint(key)}
        if others:
            raise PrivacyKeyError(
                f"the suppression list in {lake.uri(SUPPRESSION_PREFIX)} was written with another key "
                f"(fingerprint {', '.join(sorted(others))}, now {key_fingerprint(key)}): set "
                "CDP_PRIVACY_HMAC_KEY back to the key that wrote it; ingestion stops until then."
            )
        return cls(frozenset(entries["hash"].to_list()), key, region)

    def _hashes(self, kind: str, values: pl.Series) -> pl.Series:
        """Whether each value's keyed hash is suppressed (hashing each distinct value once)."""
        unique = values.drop_nulls().unique().to_list()
        hit = {v: keyed_hash(f"{kind}:{v}", self.key) in self.hashes for v in unique}
        return values.replace_strict(hit, default=False, return_dtype=pl.Boolean)

    def suppressed(self, identified: pl.DataFrame) -> pl.Series:
        """Per row of :func:`~cdp_platform.privacy.identifiers.identify`'s output: suppressed?"""
        if identified.height == 0:
            return pl.Series([], dtype=pl.Boolean)
        keys = identified.select(pl.int_range(pl.len()).alias("row"), "person_keys").explode("person_keys")
        by_key = keys.with_columns(self._hashes("person", keys["person_keys"]).alias("hit"))
        person_hit = by_key.group_by("row").agg(pl.col("hit").any()).sort("row")["hit"]
        return (
            person_hit.fill_null(False)
            | self._hashes("email", identified["email"])
            | self._hashes("phone", identified["phone"])
        )

    def filter_rows(self, source: str, stream: str, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (raw rows) without the suppressed people's records."""
        person = person_stream(source, stream)
        if person is None or frame.height == 0:
            return frame
        mask = self.suppressed(identify(frame, person, self.phone_region))
        dropped = int(mask.sum())
        if not dropped:
            return frame
        self.dropped[f"{source}/{stream}"] = self.dropped.get(f"{source}/{stream}", 0) + dropped
        return frame.filter(~mask)

    def filter_letters(self, source: str, stream: str, letters: list[dict]) -> list[dict]:
        """Dead letters without those whose body is a suppressed person's record."""
        person = person_stream(source, stream)
        if person is None or not letters:
            return letters
        kept = []
        for letter in letters:
            record = _record_of(letter)
            if record is not None:
                identified = pl.DataFrame(
                    [identify_record(record, person, self.phone_region)], schema=IDENTIFY_SCHEMA
                )
                if bool(self.suppressed(identified)[0]):
                    self.dropped[f"{source}/{stream}"] = self.dropped.get(f"{source}/{stream}", 0) + 1
                    continue
            kept.append(letter)
        return kept

    def count(self, source: str, stream: str) -> int:
        return self.dropped.get(f"{source}/{stream}", 0)


def _record_of(letter: dict) -> dict | None:
    """The record a dead letter holds, when its body is one JSON object (a record without an id)."""
    body = letter.get("body")
    if not isinstance(body, str) or not body.startswith("{"):
        return None
    try:
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
