"""How fast one raw partition of HubSpot contacts is cleansed, with and without Pandera, as JSON.

Raw payloads are made from a few thousand real sandbox records (the exact JSON the raw layer
stores) repeated with fresh ids, so the work is the real one: JSONPath extraction, every field's
normalization and row rule, quarantine, latest version per id. One record in a thousand is
damaged with the sandbox's own corruptions (an email without ``@``, an id served as a number), so
the quarantine path and the JSON type rule's parse of suspect rows are measured too.

Timings are the best of ``--repeats`` runs (the first also warms the phone-number cache, which is
per process and repeats in production too). ``with_pandera`` adds the two schema checks the asset
runs (identifiers, values).

    .venv/bin/python benchmarks/cleanse_throughput.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date

import dagster as dg
import polars as pl

from cdp_platform.cleansed import entity
from cdp_platform.cleansed.checks import schema_check
from cdp_platform.cleansed.entity import cleanse
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.hubspot import _corrupt

PARTITION = date(2026, 11, 20)
PLACEHOLDER = "__RECORD_ID__"


def templates(persons: int, damaged_every: int) -> list[str]:
    """Sandbox contact payloads with the id (and ``hs_object_id``) replaced by a placeholder."""
    data = SandboxData(SandboxConfig(persons=persons, seed=7))
    out = []
    for position in range(data.count("hubspot/contacts")):
        record = data.record("hubspot/contacts", position)
        if damaged_every and position % damaged_every == damaged_every - 1:
            record = _corrupt(record, ("bad_email", "wrong_type")[position // damaged_every % 2]) or record
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        out.append(
            text.replace(f'"{record["id"]}"', f'"{PLACEHOLDER}"').replace(str(record["id"]), PLACEHOLDER)
        )
    return out


def raw_frame(rows: int, texts: list[str]) -> pl.DataFrame:
    """``rows`` raw rows: templates cycled, each with its own id and a spread of updated times."""
    base = pl.DataFrame({"template": texts})
    frame = (
        base.select(pl.col("template").gather(pl.int_range(rows) % len(texts)))
        .with_row_index("n")
        .with_columns((pl.col("n") + 10_000_000_000).cast(pl.String).alias("record_id"))
    )
    return frame.select(
        "record_id",
        (
            pl.lit(PARTITION).cast(pl.Datetime("us", "UTC"))
            + pl.duration(milliseconds=pl.col("n") % 86_400_000)
        ).alias("updated_at"),
        pl.col("template").str.replace_all(PLACEHOLDER, pl.col("record_id"), literal=True).alias("payload"),
        pl.lit(None, pl.String).alias("context"),
        pl.lit(PARTITION).alias("partition_date"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=5_000, help="sandbox size the templates come from")
    parser.add_argument("--damaged-every", type=int, default=1000, help="one damaged record per N (0: none)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    spec = entity("hubspot", "contacts")
    started = time.perf_counter()
    texts = templates(args.persons, args.damaged_every)
    raw = raw_frame(args.rows, texts)
    generated = time.perf_counter() - started

    best_cleanse, best_total, result, failures = float("inf"), float("inf"), None, {}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = cleanse(raw, spec, PARTITION, "US")
        t1 = time.perf_counter()
        checks = [
            schema_check(
                result.clean,
                spec.schema,
                columns,
                check_name=name,
                asset_key=dg.AssetKey(spec.asset_path),
                severity=dg.AssetCheckSeverity.WARN,
                partition_column="partition_date",
            )
            for name, columns in (
                ("identifiers_schema", spec.key_columns),
                ("values_schema", [c for c in spec.schema.columns if c not in spec.key_columns]),
            )
        ]
        t2 = time.perf_counter()
        best_cleanse, best_total = min(best_cleanse, t1 - t0), min(best_total, t2 - t0)
        failures = {c.check_name: c.passed for c in checks}
    assert result is not None
    print(
        json.dumps(
            {
                "benchmark": "cleanse_throughput",
                "entity": "hubspot/contacts",
                "rows": raw.height,
                "distinct_templates": len(texts),
                "raw_payload_mb": round(raw["payload"].str.len_bytes().sum() / 1e6, 1),
                "generate_seconds": round(generated, 2),
                "cleanse_seconds": round(best_cleanse, 3),
                "cleanse_rows_per_second": round(raw.height / best_cleanse),
                "cleanse_with_pandera_seconds": round(best_total, 3),
                "cleanse_with_pandera_rows_per_second": round(raw.height / best_total),
                "clean_rows": result.clean.height,
                "rejected_rows": result.rejected.height,
                "rejected_by_rule": dict(result.rejected.group_by("rule").len().iter_rows()),
                "schema_checks_passed": failures,
                "cpus": os.cpu_count(),
                "polars": pl.__version__,
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
