"""The ground truth of a sandbox, written next to it so the platform's answers can be graded.

Files written to ``out_dir``:
- ``records.parquet``: every record every API serves: source, stream, record_id, person_id (null for
  company records and brand posts), modified_at (UTC). Identity resolution is graded against it.
- ``sentiment.parquet``: the true label of every post, comment and tweet.
- ``persons.parquet``: the hard cases per person (household_of, namesake) so errors can be explained.
- ``purchases.parquet`` and ``customers.parquet``: every simulated purchase with the deal record (or
  the web shop's charge) that carries it, and each customer's latent BG/NBD and Gamma-Gamma traits.

What each emulated vendor adds (its streams, its text streams, records it serves beyond the streams,
the records its purchases show as) its module declares (:mod:`cdp_platform.sandbox.plugins`).
- ``purchase_parameters.json``: the parameters the purchases were drawn from.
- ``manifest.json``: the config, the record count per stream, the files.

Everything is streamed in chunks through Parquet writers, so a million persons need no more memory
than the sandbox index itself. The output is byte-for-byte reproducible for a given config.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.plugins import PurchaseRecords, builders, emulated_vendors, streams
from cdp_platform.sandbox.records import SandboxData

# Rows per Parquet row group: small enough that a chunk of ids costs tens of MB at most.
CHUNK_ROWS = 50_000
TRUTH_FILES = (
    "records.parquet",
    "sentiment.parquet",
    "persons.parquet",
    "purchases.parquet",
    "customers.parquet",
    "purchase_parameters.json",
    "manifest.json",
)


def text_streams() -> tuple[str, ...]:
    """The streams whose texts carry a true sentiment, in vendor order."""
    return tuple(builder.stream for builder in builders() if builder.texts is not None)


def __getattr__(name: str) -> tuple[str, ...]:
    # ``TEXT_STREAMS``, read on use from the vendor modules (they import modules this one imports).
    if name == "TEXT_STREAMS":
        return text_streams()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _purchase_records() -> dict[int, PurchaseRecords]:
    return {records.system: records for vendor in emulated_vendors() for records in vendor.purchases}


def write_truth(config: SandboxConfig, out_dir: str | Path, chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Write the ground truth of the sandbox ``config`` describes; return the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = SandboxData(config)
    _write_chunks(out / "records.parquet", _record_chunks(data, chunk_rows))
    _write_chunks(out / "sentiment.parquet", _sentiment_chunks(data, chunk_rows))
    _write_chunks(out / "persons.parquet", _person_chunks(data, chunk_rows))
    _write_chunks(out / "purchases.parquet", _purchase_chunks(data, chunk_rows))
    _write_chunks(out / "customers.parquet", _customer_chunks(data, chunk_rows))
    parameters = data.purchase_parameters.to_dict()
    (out / "purchase_parameters.json").write_text(json.dumps(parameters, indent=2, sort_keys=True) + "\n")
    manifest = {
        "config": {
            "persons": config.persons,
            "seed": config.seed,
            "today": config.today.isoformat(),
            "span_days": config.span_days,
        },
        "history": {"start": config.history_start.isoformat(), "end": config.history_end.isoformat()},
        "streams": {stream: data.count(stream) for stream in streams()},
        "purchase_parameters": parameters,
        "files": sorted(TRUTH_FILES),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _write_chunks(path: Path, chunks: Iterator[pl.DataFrame]) -> None:
    """Append frames to one Parquet file; the first frame fixes the schema (later ones are cast to it)."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        for frame in chunks:
            table = frame.to_arrow()
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            writer.write_table(table.cast(schema))
    finally:
        if writer is not None:
            writer.close()


def _person_ids(indexes: np.ndarray) -> pl.Series:
    """``P0000042`` per index, null where the index is -1 (not about a person)."""
    series = pl.Series("index", indexes, dtype=pl.Int64)
    return (
        pl.select(
            pl.when(series >= 0)
            .then(pl.format("P{}", series.cast(pl.String).str.zfill(7)))
            .alias("person_id")
        )
        .to_series()
        .cast(pl.String)
    )


def _timestamps(ms: np.ndarray, name: str) -> pl.Series:
    return pl.Series(name, ms, dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))


def _chunks_of(size: int, chunk_rows: int) -> Iterator[np.ndarray]:
    # An empty collection still yields one empty chunk, so every file exists with its schema.
    for start in range(0, max(size, 1), chunk_rows):
        yield np.arange(start, min(size, start + chunk_rows), dtype=np.int64)


def _record_chunks(data: SandboxData, chunk_rows: int) -> Iterator[pl.DataFrame]:
    for stream in streams():
        source = stream.split("/", 1)[0]
        for positions in _chunks_of(data.count(stream), chunk_rows):
            yield pl.DataFrame(
                [
                    pl.Series("source", [source] * positions.size, dtype=pl.String),
                    pl.Series("stream", [stream] * positions.size, dtype=pl.String),
                    pl.Series("record_id", data.record_ids(stream, positions), dtype=pl.String),
                    _person_ids(data.person_index(stream, positions)),
                    _timestamps(data.modified_ms(stream, positions), "modified_at"),
                ]
            )
    # Records a vendor serves beyond the streams (a shop's customers, charges, refunds), with persons.
    extra = [part for vendor in emulated_vendors() if vendor.truth_records for part in vendor.truth_records(data)]
    for stream, ids, persons, modified_ms in extra:
        source = stream.split("/", 1)[0]
        for rows in _chunks_of(len(ids), chunk_rows):
            yield pl.DataFrame(
                [
                    pl.Series("source", [source] * rows.size, dtype=pl.String),
                    pl.Series("stream", [stream] * rows.size, dtype=pl.String),
                    pl.Series("record_id", [ids[i] for i in rows.tolist()], dtype=pl.String),
                    _person_ids(persons[rows]),
                    _timestamps(modified_ms[rows], "modified_at"),
                ]
            )


def _sentiment_chunks(data: SandboxData, chunk_rows: int) -> Iterator[pl.DataFrame]:
    for stream in text_streams():
        source = stream.split("/", 1)[0]
        for positions in _chunks_of(data.count(stream), chunk_rows):
            yield pl.DataFrame(
                [
                    pl.Series("source", [source] * positions.size, dtype=pl.String),
                    pl.Series("stream", [stream] * positions.size, dtype=pl.String),
                    pl.Series("record_id", data.record_ids(stream, positions), dtype=pl.String),
                    _person_ids(data.person_index(stream, positions)),
                    pl.Series("sentiment", data.sentiment(stream, positions), dtype=pl.String),
                ]
            )


def _person_chunks(data: SandboxData, chunk_rows: int) -> Iterator[pl.DataFrame]:
    population = data.population
    for index in _chunks_of(population.size, chunk_rows):
        kinds = population.kinds(index)
        yield pl.DataFrame(
            [
                _person_ids(index),
                _person_ids(np.where(kinds == 1, index - 1, -1)).alias("household_of"),
                pl.Series("namesake", kinds == 2, dtype=pl.Boolean),
                _timestamps(population.acquired_ms(index), "first_seen_at"),
            ]
        )


def _purchase_chunks(data: SandboxData, chunk_rows: int) -> Iterator[pl.DataFrame]:
    purchases = data.purchases
    carriers = _purchase_records()
    # Each purchase is one record (a won deal, a charge) in one system: record number = rank among
    # that system's purchases.
    deal_number = np.zeros(purchases.person.size, dtype=np.int64)
    for system in carriers:
        mask = purchases.system == system
        deal_number[mask] = np.arange(int(mask.sum()))
    for rows in _chunks_of(purchases.person.size, chunk_rows):
        systems = purchases.system[rows]
        ids: list[str] = []
        for system, number in zip(systems.tolist(), deal_number[rows].tolist(), strict=True):
            ids.append(carriers[system].record_id(data, number))
        carried = [carriers[s].stream for s in systems.tolist()]
        yield pl.DataFrame(
            [
                _person_ids(purchases.person[rows].astype(np.int64)),
                pl.Series("source", [s.split("/", 1)[0] for s in carried], dtype=pl.String),
                pl.Series("stream", carried, dtype=pl.String),
                pl.Series("record_id", ids, dtype=pl.String),
                _timestamps(purchases.time_ms[rows], "purchased_at"),
                pl.Series("amount", purchases.amount_cents[rows] / 100, dtype=pl.Float64),
                pl.Series("repeat", purchases.repeat[rows], dtype=pl.Boolean),
            ]
        )


def _customer_chunks(data: SandboxData, chunk_rows: int) -> Iterator[pl.DataFrame]:
    purchases = data.purchases
    for rows in _chunks_of(purchases.customer_person.size, chunk_rows):
        yield pl.DataFrame(
            [
                _person_ids(purchases.customer_person[rows].astype(np.int64)),
                pl.Series("purchase_rate_per_day", purchases.customer_lambda[rows], dtype=pl.Float64),
                pl.Series("dropout_probability", purchases.customer_p[rows], dtype=pl.Float64),
                pl.Series("spend_rate", purchases.customer_nu[rows], dtype=pl.Float64),
                _timestamps(purchases.customer_first_ms[rows], "first_purchase_at"),
                pl.Series("repeat_purchases", purchases.customer_repeats[rows], dtype=pl.Int32),
            ]
        )
