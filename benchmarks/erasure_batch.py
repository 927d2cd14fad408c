"""The cost of one erasure batch of 100 requests on a built local default, and of a batch of one.

    python benchmarks/materialize_all.py --root /tmp/cdp_built --days 14     # build once
    python benchmarks/erasure_batch.py --built /tmp/cdp_built --work /tmp/cdp_erasure

``--built`` is a folder ``materialize_all.py`` filled (lake, warehouse, pseudonymized file); it is
never changed: each measured batch runs on a fresh copy of it under ``--work``. The requests name
identified clients of ``client_360`` chosen at random (``--seed``): by email (as typed, upper case),
by phone (E.164) and by client_id in the proportions of ``--mix``. A batch of one request is
measured too, on another copy: processed one at a time, the same requests would cost about
``--requests`` times that, since every request would pay the pass over the lake and the compaction.

Prints one JSON object: the batch's own summary (seconds per phase, rows removed per layer, files
rewritten, file sizes before and after compaction), wall seconds, peak RSS, the lake's file count
and the per-request figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--built", type=Path, required=True, help="a folder materialize_all.py filled")
    parser.add_argument("--work", type=Path, required=True, help="a scratch folder for the copies")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--mix", default="80:10:10", help="email:phone:client_id shares (default 80:10:10)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import duckdb

    from cdp_platform.io.lake import LocalLake
    from cdp_platform.privacy import audit
    from cdp_platform.privacy.erasure import run_batch
    from cdp_platform.privacy.hashing import privacy_key

    with duckdb.connect(str(args.built / "warehouse.duckdb"), read_only=True) as con:
        clients = con.execute(
            "select client_id, email, phone from marts.client_360 where is_identified order by client_id"
        ).fetchall()
    rng = random.Random(args.seed)
    chosen = rng.sample(clients, min(args.requests, len(clients)))
    shares = [int(x) for x in args.mix.split(":")]
    kinds = [k for k, n in zip(("email", "phone", "client_id"), shares, strict=True) for _ in range(n)]
    requests = []
    for number, (client_id, email, phone) in enumerate(chosen):
        kind = kinds[number % len(kinds)]
        value = {"email": email.upper() if email else None, "phone": phone, "client_id": client_id}[kind]
        if value is None:  # a client without that identifier is asked for by client_id
            kind, value = "client_id", client_id
        requests.append((kind, value))

    def measure(label: str, batch: list[tuple[str, str]]) -> dict:
        root = args.work / label
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(args.built, root, ignore=shutil.ignore_patterns("dagster_home*", "home_*"))
        warehouse = root / "warehouse.duckdb"
        lake = LocalLake(root / "lake")
        with duckdb.connect(str(warehouse)) as con:
            filed = [
                audit.file_request(con, kind, value, reference=f"bench-{i}")
                for i, (kind, value) in enumerate(batch)
            ]
        files = sum(1 for p in (root / "lake").rglob("*") if p.is_file())
        started = time.perf_counter()
        outcome = run_batch(
            filed,
            lake=lake,
            warehouse=warehouse,
            key=privacy_key(lake),
            pseudonymized=root / "pseudonymized.duckdb",
        )
        wall = time.perf_counter() - started
        summary = outcome.summary()
        shutil.rmtree(root)
        return {"requests": len(batch), "wall_seconds": round(wall, 2), "lake_files": files, "batch": summary}

    one = measure("batch_of_1", requests[:1])
    many = measure(f"batch_of_{len(requests)}", requests)
    print(
        json.dumps(
            {
                "built": str(args.built),
                "mix": dict(zip(("email", "phone", "client_id"), shares, strict=True)),
                "batch_of_1": one,
                f"batch_of_{len(requests)}": many,
                "seconds_per_request_in_batch": round(many["wall_seconds"] / len(requests), 3),
                "one_at_a_time_estimate_seconds": round(one["wall_seconds"] * len(requests), 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cpu_count": os.cpu_count(),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
