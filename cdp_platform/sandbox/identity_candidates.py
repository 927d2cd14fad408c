"""The identity input frame made from the bundled sandbox, with the true person of every row.

The real pipeline feeds :func:`cdp_platform.identity.resolve` from the dbt model
``int_identity_candidates`` (cleansed tables, the same columns). For tests and benchmarks this module
builds the same frame straight from the sandbox's vendor-shaped records: each vendor module maps its
field names to the identity columns with light parsing only (a lead form's field list flattened, an
analytics ``(not set)`` read as null); normalization is the resolver's job, so the noise the sandbox puts in
(case, spaces, phone formats, ``@handles`` and profile URLs) reaches the resolver as a vendor sends it.

The ``source`` column is ``<system>/<object>`` (the stream): the resolver treats a contact and a
lead of one CRM as different objects. Streams used: the person-like ones each vendor module declares
(``EmulatedVendor.identity_rows``, with the mapping of its records to identity columns): CRM contacts
and leads, lead ads, the author of each comment or mention, and the analytics rows of logged-in
visitors (those that carry the CRM contact id). Company records, deals and brand posts are not about
a person and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp_platform.identity.normalize import INPUT_COLUMNS
from cdp_platform.sandbox.plugins import IdentityRows, emulated_vendors
from cdp_platform.sandbox.population import person_id
from cdp_platform.sandbox.records import SandboxData

IDENTITY_COLUMNS: tuple[str, ...] = INPUT_COLUMNS
IDENTITY_SCHEMA: dict[str, pl.DataType] = {column: pl.String() for column in IDENTITY_COLUMNS}



def _identity_rows() -> dict[str, IdentityRows]:
    """Stream -> its mapping, in vendor order, the streams that only link to others last."""
    declared = [rows for vendor in emulated_vendors() for rows in vendor.identity_rows]
    return {rows.stream: rows for rows in sorted(declared, key=lambda rows: rows.links)}


def __getattr__(name: str) -> tuple[str, ...]:
    # ``PERSON_STREAMS``: the person-like streams, as the vendor modules declare them (read on use).
    if name == "PERSON_STREAMS":
        return tuple(_identity_rows())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


Row = dict[str, str | None]


@dataclass(frozen=True)
class SandboxCandidates:
    """The resolver's input (``records``) and the truth to grade it (``truth``: record_id, person_id,
    source, stream, household_of, namesake)."""

    records: pl.DataFrame
    truth: pl.DataFrame


def sandbox_candidates(data: SandboxData, streams: Iterable[str] | None = None) -> SandboxCandidates:
    """Every record of the person-like ``streams`` (None: all of them) as one identity input frame,
    with its truth."""
    declared = _identity_rows()
    if streams is None:
        streams = tuple(declared)
    unknown = [stream for stream in streams if stream not in declared]
    if unknown:
        raise ValueError(f"not person-like sandbox streams: {unknown}; known: {list(declared)}")
    rows: list[Row] = []
    truth_ids: list[str] = []
    truth_streams: list[str] = []
    truth_persons: list[int] = []
    for stream in streams:
        mapper = declared[stream].row
        persons = data.person_index(stream, range(data.count(stream)))
        for position in data.all_positions(stream):
            row = mapper(data, data.record(stream, position))
            if row is None:
                continue
            row["source"] = stream
            rows.append(row)
            truth_ids.append(row["record_id"] or "")
            truth_streams.append(stream)
            truth_persons.append(int(persons[position]))
    records = pl.DataFrame(rows, schema=IDENTITY_SCHEMA, orient="row") if rows else _empty()
    records = records.select(IDENTITY_COLUMNS)
    truth = _truth(data, truth_ids, truth_streams, truth_persons)
    return SandboxCandidates(records=records, truth=truth)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=IDENTITY_SCHEMA)


def _person_ids(index: np.ndarray) -> pl.Series:
    """``P0000042`` per person index (the truth's person ids), null where the index is -1."""
    return pl.Series("person_id", [person_id(i) if i >= 0 else None for i in index.tolist()], dtype=pl.String)


def _truth(data: SandboxData, ids: list[str], streams: list[str], persons: list[int]) -> pl.DataFrame:
    index = np.asarray(persons, dtype=np.int64)
    kinds = data.population.kinds(np.maximum(index, 0)) if index.size else np.zeros(0, dtype=np.int8)
    return pl.DataFrame(
        [
            pl.Series("record_id", ids, dtype=pl.String),
            _person_ids(index),
            pl.Series("source", [s.split("/", 1)[0] for s in streams], dtype=pl.String),
            pl.Series("stream", streams, dtype=pl.String),
            _person_ids(np.where(kinds == 1, index - 1, -1)).alias("household_of"),
            pl.Series("namesake", kinds == 2, dtype=pl.Boolean),
        ]
    )
