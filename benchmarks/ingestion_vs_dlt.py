"""Raw ingestion against dlt and a bare httpx loop: records/s, peak RSS and requests per record, as JSON.

Three streams (HubSpot contacts, Salesforce contacts, Twitter mentions), ``--days`` daily windows
ending the day before the sandbox's "today", from a ``--persons`` sandbox served on a loopback port
in its own process with rate limits OFF and windows ``--time-scale`` times shorter (the platform's
pacers get the documented windows scaled alike, so pacing follows its rules but never binds: this
measures the clients, not a vendor's quota). Page sizes are the project's (HubSpot 200, Salesforce
batches of 2,000, Twitter 100), or ``--page-size`` for all three.

Three arms per stream, each in a fresh child process (so its peak RSS, ``ru_maxrss``, is its own,
imports included), run interleaved: round r runs the arms in a rotated order, ``--rounds`` rounds.

- ``platform``: the raw assets' own extraction, :func:`cdp_platform.sources.raw_assets.extract_days`
  (client, auth, pacer, retry, breaker, per-page spool and checkpoint in a temporary local lake,
  HubSpot's time-split search and its association reads), then each day's rows written as the raw
  IO manager writes a partition (``write_frame``: Parquet, zstd) and the day's checkpoint cleared.
- ``dlt``: a dlt ``rest_api`` source (dlt 1.31's own paginators: ``JSONResponseCursorPaginator``
  with the cursor in the JSON body for HubSpot search and in ``pagination_token`` for Twitter, a
  ``JSONLinkPaginator`` for Salesforce's ``nextRecordsUrl``; ``OAuth2ClientCredentials`` with the
  refresh-token grant for Salesforce), one resource per day into one table, run by a pipeline to the
  ``filesystem`` destination writing Parquet. Defaults otherwise (resources extracted one after
  another). The sandbox serves Salesforce below a path (``/salesforce``) that the real instance URL
  does not have, so the link paginator is told that prefix (``nextRecordsUrl`` is a path below the
  instance URL; a plain ``urljoin`` would drop the prefix).
- ``bare``: a plain ``httpx.AsyncClient``: each day's first request, then the vendor's cursor until
  the end, every body JSON-decoded and its record ids kept; days one after another; no pacing,
  retry, checkpoint, spool or file.

Every arm's record ids (per day) must be the same set; the run fails loudly otherwise. Records/s is
the distinct records landed over the arm's wall time from its first request to its last file
(process start and imports excluded; dlt's extract, normalize and load included). Requests are
counted by the sandbox (``/_sandbox/stats``), so token exchanges, HubSpot's window-total probes and
association reads count wherever an arm makes them. The JSON ends with the median per arm and the
ratios the issue asks about: platform/dlt records/s, platform/bare records/s, platform minus dlt
peak RSS.

    .venv/bin/python benchmarks/ingestion_vs_dlt.py --persons 100000 --days 30 --rounds 3 \
        [--streams hubspot_contacts,salesforce_contacts,twitter_mentions] [--page-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ingestion_sandbox import Served, serve

# stream key -> (source, stream name, sandbox vendor in /_sandbox/stats)
STREAMS: dict[str, tuple[str, str, str]] = {
    "hubspot_contacts": ("hubspot", "contacts", "hubspot"),
    "salesforce_contacts": ("salesforce", "contacts", "salesforce"),
    "twitter_mentions": ("twitter", "mentions", "twitter"),
}
ARMS = ("platform", "dlt", "bare")
# With --baseline-tree DIR, a fourth arm: the platform's extraction from another checkout of the
# code (DIR holding its cdp_platform/), e.g. `git archive <commit> cdp_platform | tar -x -C DIR`,
# interleaved with the others so a before/after comparison shares the machine's load.
BASELINE = "platform_baseline"


def windows(days: int) -> list[tuple[str, datetime.datetime, datetime.datetime]]:
    from cdp_platform.sandbox.config import SandboxConfig

    today = SandboxConfig().today
    out = []
    for n in range(days, 0, -1):
        day = today - datetime.timedelta(days=n)
        start = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
        out.append((day.isoformat(), start, start + datetime.timedelta(days=1)))
    return out


# ---- the platform ------------------------------------------------------------------------------


PLATFORM_WAITS = {"quota_wait_s": 0.0, "backoff_wait_s": 0.0}
# The sandbox's account ids (Twitter's user id), found before any clock starts.
ACCOUNTS: dict[str, dict[str, str]] = {}


def platform_arm(args: argparse.Namespace) -> dict[str, list[str]]:
    import dagster as dg
    from ingestion_throughput import configure_pacers, resources

    from cdp_platform.io.checkpoints import LakeCheckpointStore, checkpoint_prefix
    from cdp_platform.io.lake import LocalLake
    from cdp_platform.io.lake_io_manager import partition_file, write_frame
    from cdp_platform.sources import SOURCES
    from cdp_platform.sources.raw_assets import extract_source
    from cdp_platform.sources.stream import Window

    try:  # a range of days in one run (issue 20's multi-day runs)
        from cdp_platform.sources.raw_assets import extract_days
    except ImportError:  # a --baseline-tree from before them: one run per day, each one extract_source
        extract_days = None

    source, name, _ = STREAMS[args.stream]
    configure_pacers(args.time_scale)
    vendor = resources(args.root)[source].model_copy(
        update={"options": ACCOUNTS[source], "page_size": args.page_size}
    )
    stream = next(s for s in SOURCES[source].STREAMS if s.name == name)
    days = [Window(day, start, end) for day, start, end in windows(args.days)]
    ids: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="cdp-vs-dlt-platform-") as folder:
        lake = LocalLake(Path(folder))
        if extract_days is not None:
            by_day = asyncio.run(extract_days(vendor, [stream], days, lake))
        else:
            by_day = [asyncio.run(extract_source(vendor, [stream], window, lake)) for window in days]
        for window, (outcome,) in zip(days, by_day, strict=True):
            if not outcome.complete or outcome.rows is None:
                raise RuntimeError(f"platform: {args.stream} {window.partition} incomplete: {outcome.error}")
            write_frame(lake, partition_file(dg.AssetKey(stream.asset_path), window.partition), outcome.rows)
            LakeCheckpointStore(lake).clear(checkpoint_prefix(stream.asset_path, window.partition))
            ids[window.partition] = outcome.rows["record_id"].to_list()
            # Pacing should never bind here (limits off, windows scaled): shown to prove it.
            PLATFORM_WAITS["quota_wait_s"] += outcome.stats.get("quota_wait_s") or 0.0
            PLATFORM_WAITS["backoff_wait_s"] += outcome.stats.get("backoff_wait_s") or 0.0
    return ids


# ---- dlt ---------------------------------------------------------------------------------------


def dlt_source(args: argparse.Namespace) -> Any:
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth, OAuth2ClientCredentials
    from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator, JSONResponseCursorPaginator
    from dlt.sources.rest_api import rest_api_source

    from cdp_platform.sandbox import credentials as creds
    from cdp_platform.sources.hubspot import properties
    from cdp_platform.sources.hubspot.search import SearchWindow, search_request, to_ms
    from cdp_platform.sources.salesforce import query_request, window_query
    from cdp_platform.sources.twitter import twitter_time

    source, _, _ = STREAMS[args.stream]
    days = windows(args.days)
    resources: list[dict[str, Any]] = []
    if source == "hubspot":
        base_url = f"{args.root}/hubspot"
        auth: Any = BearerTokenAuth(token=creds.HUBSPOT_PRIVATE_APP_TOKEN)
        for day, start, end in days:
            # The platform's own first request (same filters, sort, properties and limit).
            body = search_request(
                "contacts",
                SearchWindow(to_ms(start), to_ms(end)),
                properties=properties("contacts"),
                limit=args.page_size or 200,
            ).json
            resources.append(
                {
                    "name": f"contacts_{day.replace('-', '_')}",
                    "table_name": "contacts",
                    "endpoint": {
                        "path": "/crm/v3/objects/contacts/search",
                        "method": "POST",
                        "json": body,
                        "data_selector": "results",
                        "paginator": JSONResponseCursorPaginator(
                            cursor_path="paging.next.after", cursor_body_path="after"
                        ),
                    },
                }
            )
    elif source == "salesforce":
        base_url = f"{args.root}/salesforce"
        auth = OAuth2ClientCredentials(
            access_token_url=f"{args.root}/salesforce/services/oauth2/token",
            client_id=creds.SALESFORCE_CLIENT_ID,
            client_secret=creds.SALESFORCE_CLIENT_SECRET,
            access_token_request_data={
                "grant_type": "refresh_token",
                "refresh_token": creds.SALESFORCE_REFRESH_TOKEN,
            },
        )

        class InstanceLinkPaginator(JSONLinkPaginator):
            """``nextRecordsUrl`` is a path below the instance URL, which here has a path prefix."""

            def update_state(self, response: Any, data: Any = None) -> None:
                super().update_state(response, data)
                if self._next_reference:
                    self._next_reference = f"{base_url}{self._next_reference}"

        for day, start, end in days:
            first = query_request(window_query("Contact", start, end), args.page_size or 2000)
            resources.append(
                {
                    "name": f"contacts_{day.replace('-', '_')}",
                    "table_name": "contacts",
                    "endpoint": {
                        "path": first.url,
                        "params": dict(first.params or {}),
                        "headers": dict(first.headers or {}),
                        "data_selector": "records",
                        "paginator": InstanceLinkPaginator(next_url_path="nextRecordsUrl"),
                    },
                }
            )
    else:
        base_url = f"{args.root}/twitter"
        auth = BearerTokenAuth(token=creds.TWITTER_BEARER_TOKEN)
        user_id = ACCOUNTS["twitter"]["user_id"]
        for day, start, end in days:
            resources.append(
                {
                    "name": f"mentions_{day.replace('-', '_')}",
                    "table_name": "mentions",
                    "endpoint": {
                        "path": f"/2/users/{user_id}/mentions",
                        "params": {
                            "start_time": twitter_time(start),
                            "end_time": twitter_time(end),
                            "max_results": args.page_size or 100,
                            "tweet.fields": "created_at,author_id,public_metrics,lang",
                            "expansions": "author_id",
                            "user.fields": "username,name",
                        },
                        "data_selector": "data",
                        "paginator": JSONResponseCursorPaginator(
                            cursor_path="meta.next_token", cursor_param="pagination_token"
                        ),
                    },
                }
            )
    return rest_api_source(
        {"client": {"base_url": base_url, "auth": auth}, "resources": resources}, name=f"{source}_bench"
    )


def dlt_arm(args: argparse.Namespace) -> dict[str, list[str]]:
    import dlt
    import pyarrow.parquet as pq

    _, name, _ = STREAMS[args.stream]
    with tempfile.TemporaryDirectory(prefix="cdp-vs-dlt-dlt-") as folder:
        pipeline = dlt.pipeline(
            pipeline_name=f"vs_{args.stream}",
            pipelines_dir=str(Path(folder) / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=str(Path(folder) / "lake")),
            dataset_name="raw",
        )
        pipeline.run(dlt_source(args), loader_file_format="parquet")
        # Ids per resource are not kept apart in the table, so they are compared as one set below.
        files = sorted((Path(folder) / "lake" / "raw" / name).rglob("*.parquet"))
        found = [str(v) for f in files for v in pq.read_table(f, columns=["id"]).column("id").to_pylist()]
    return {"*": found}


# ---- the bare loop -----------------------------------------------------------------------------


def bare_arm(args: argparse.Namespace) -> dict[str, list[str]]:
    import httpx

    from cdp_platform.sandbox import credentials as creds
    from cdp_platform.sources.hubspot import properties
    from cdp_platform.sources.hubspot.search import SearchWindow, search_request, to_ms
    from cdp_platform.sources.salesforce import query_request, window_query
    from cdp_platform.sources.twitter import twitter_time

    source, _, _ = STREAMS[args.stream]

    async def run() -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        async with httpx.AsyncClient(timeout=60) as http:
            headers: dict[str, str] = {}
            base = f"{args.root}/{source}"
            if source == "salesforce":
                token = await http.post(
                    f"{base}/services/oauth2/token",
                    data={
                        "grant_type": "refresh_token",
                        "client_id": creds.SALESFORCE_CLIENT_ID,
                        "client_secret": creds.SALESFORCE_CLIENT_SECRET,
                        "refresh_token": creds.SALESFORCE_REFRESH_TOKEN,
                    },
                )
                headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            elif source == "hubspot":
                headers["Authorization"] = f"Bearer {creds.HUBSPOT_PRIVATE_APP_TOKEN}"
            else:
                headers["Authorization"] = f"Bearer {creds.TWITTER_BEARER_TOKEN}"
                user_id = ACCOUNTS["twitter"]["user_id"]
            for day, start, end in windows(args.days):
                got: list[str] = []
                if source == "hubspot":
                    body = search_request(
                        "contacts",
                        SearchWindow(to_ms(start), to_ms(end)),
                        properties=properties("contacts"),
                        limit=args.page_size or 200,
                    ).json
                    while True:
                        page = (
                            await http.post(
                                f"{base}/crm/v3/objects/contacts/search", json=body, headers=headers
                            )
                        ).json()
                        got += [str(r["id"]) for r in page.get("results", [])]
                        after = (page.get("paging") or {}).get("next", {}).get("after")
                        if not after:
                            break
                        body = {**body, "after": after}
                elif source == "salesforce":
                    first = query_request(window_query("Contact", start, end), args.page_size or 2000)
                    page = (
                        await http.get(
                            f"{base}{first.url}", params=first.params, headers={**headers, **first.headers}
                        )
                    ).json()
                    while True:
                        got += [str(r["Id"]) for r in page.get("records", [])]
                        if page.get("done") or not page.get("nextRecordsUrl"):
                            break
                        url = f"{base}{page['nextRecordsUrl']}"
                        page = (await http.get(url, headers={**headers, **first.headers})).json()
                else:
                    params: dict[str, Any] = {
                        "start_time": twitter_time(start),
                        "end_time": twitter_time(end),
                        "max_results": args.page_size or 100,
                        "tweet.fields": "created_at,author_id,public_metrics,lang",
                        "expansions": "author_id",
                        "user.fields": "username,name",
                    }
                    while True:
                        page = (
                            await http.get(
                                f"{base}/2/users/{user_id}/mentions", params=params, headers=headers
                            )
                        ).json()
                        got += [str(r["id"]) for r in page.get("data") or []]
                        token_ = (page.get("meta") or {}).get("next_token")
                        if not token_:
                            break
                        params = {**params, "pagination_token": token_}
                ids[day] = got
        return ids

    return asyncio.run(run())


# ---- children and the parent -------------------------------------------------------------------


# What each arm imports, loaded before its clock starts: process start and imports are not the
# arms' speed (they are in their peak RSS).
IMPORTS = {
    "platform": (
        "dagster",
        "ingestion_throughput",
        "cdp_platform.sources.raw_assets",
        "cdp_platform.io.lake_io_manager",
    ),
    "dlt": ("dlt", "dlt.sources.rest_api", "pyarrow.parquet", "ingestion_throughput", "cdp_platform.sources"),
    "bare": ("httpx", "ingestion_throughput", "cdp_platform.sources"),
}


def child(args: argparse.Namespace) -> None:
    import importlib

    arm = {"platform": platform_arm, BASELINE: platform_arm, "dlt": dlt_arm, "bare": bare_arm}[args.arm]
    for module in IMPORTS["platform" if args.arm == BASELINE else args.arm]:
        importlib.import_module(module)
    from ingestion_throughput import account_options

    from cdp_platform.settings import load_settings

    # The sandbox's accounts as the local default configures them (the fields holding handles among
    # them, which the searches ask for): the sandbox served on a port is the same emulator.
    load_settings({})
    ACCOUNTS.update(account_options(args.seed))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_before = time.process_time()
    started = time.perf_counter()
    ids = arm(args)
    seconds = time.perf_counter() - started
    # Every landed row (a record changed on two days lands on both), as one sorted list.
    everything = sorted(i for day in ids.values() for i in day)
    result = {
        "seconds": round(seconds, 3),
        "records": len(everything),
        "records_per_s": round(len(everything) / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_mb_after_imports": round(rss_before, 1),
        "cpu_s": round(time.process_time() - cpu_before, 2),
        "ids_sha256": hashlib.sha256("\n".join(everything).encode()).hexdigest()[:16],
        **({k: round(v, 3) for k, v in PLATFORM_WAITS.items()} if args.arm in ("platform", BASELINE) else {}),
    }
    print(json.dumps(result))


def baseline_script(tree: str) -> str:
    """This script beside the baseline tree's own benchmark helpers (``ingestion_throughput``, which
    imports that version's modules), in a temporary folder: a script's folder comes first on its path."""
    folder = Path(tempfile.gettempdir()) / f"cdp-vs-dlt-baseline-{os.getpid()}"
    if not folder.is_dir():
        folder.mkdir()
        for helper in ("ingestion_throughput.py", "ingestion_sandbox.py"):
            source = Path(tree) / "benchmarks" / helper
            if not source.is_file():
                raise SystemExit(f"--baseline-tree {tree}: no benchmarks/{helper} there")
            shutil.copy(source, folder / helper)
        shutil.copy(Path(__file__).resolve(), folder / Path(__file__).name)
    return str(folder / Path(__file__).name)


def run_child(served: Served, args: argparse.Namespace, arm: str, stream: str) -> dict[str, Any]:
    vendor = STREAMS[stream][2]
    before = served.stats()["requests"].get(vendor, {}).get("total", 0)
    command = [
        sys.executable,
        baseline_script(args.baseline_tree) if arm == BASELINE else str(Path(__file__).resolve()),
        "--child",
        "--arm",
        arm,
        "--stream",
        stream,
        "--root",
        served.root,
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
        "--time-scale",
        str(args.time_scale),
    ]
    if args.page_size:
        command += ["--page-size", str(args.page_size)]
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "WARNING"}
    if arm == BASELINE:
        # Found before the editable install of this checkout (its finder comes after sys.path).
        env["PYTHONPATH"] = str(Path(args.baseline_tree).resolve())
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{arm} {stream} child failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = served.stats()["requests"].get(vendor, {}).get("total", 0) - before
    result["requests_per_record"] = round(result["requests"] / max(1, result["records"]), 4)
    return result


def summarize(runs: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for stream, by_arm in runs.items():
        hashes = {arm: {r["ids_sha256"] for r in rs} for arm, rs in by_arm.items()}
        same = len({h for hs in hashes.values() for h in hs}) == 1
        if not same:
            raise RuntimeError(f"{stream}: the arms fetched different record ids: {hashes}")
        med = {
            arm: {
                "records": rs[0]["records"],
                "records_per_s": statistics.median(r["records_per_s"] for r in rs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                "requests": rs[0]["requests"],
                "requests_per_record": rs[0]["requests_per_record"],
                "cpu_s": statistics.median(r["cpu_s"] for r in rs),
            }
            for arm, rs in by_arm.items()
        }
        entry: dict[str, Any] = {"same_ids": same, "median": med}
        if "platform" in med and "dlt" in med:
            entry["platform_over_dlt"] = round(
                med["platform"]["records_per_s"] / med["dlt"]["records_per_s"], 3
            )
            entry["platform_rss_minus_dlt_mb"] = round(
                med["platform"]["peak_rss_mb"] - med["dlt"]["peak_rss_mb"], 1
            )
        if "platform" in med and "bare" in med:
            entry["platform_over_bare"] = round(
                med["platform"]["records_per_s"] / med["bare"]["records_per_s"], 3
            )
        if BASELINE in med:
            for other in ("dlt", "bare"):
                if other in med:
                    entry[f"baseline_over_{other}"] = round(
                        med[BASELINE]["records_per_s"] / med[other]["records_per_s"], 3
                    )
            if "platform" in med:
                entry["platform_over_baseline"] = round(
                    med["platform"]["records_per_s"] / med[BASELINE]["records_per_s"], 3
                )
        summary[stream] = entry
    return summary


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--persons", type=int, default=100_000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--days", type=int, default=30, help="daily windows, ending yesterday")
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--streams", default=",".join(STREAMS))
    options.add_argument("--arms", default=",".join(ARMS))
    options.add_argument(
        "--baseline-tree",
        help="a folder with another version's cdp_platform/ and benchmarks/: adds the arm " + BASELINE,
    )
    options.add_argument("--page-size", type=int, default=None, help="records per page for every arm")
    options.add_argument(
        "--time-scale", type=float, default=1000.0, help="quota windows this many times shorter"
    )
    options.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--arm", help=argparse.SUPPRESS)
    options.add_argument("--stream", help=argparse.SUPPRESS)
    options.add_argument("--root", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        child(args)
        return
    streams = [s for s in args.streams.split(",") if s]
    arms = [a for a in args.arms.split(",") if a]
    if args.baseline_tree:
        if not (Path(args.baseline_tree) / "cdp_platform" / "__init__.py").is_file():
            raise SystemExit(f"--baseline-tree {args.baseline_tree}: no cdp_platform/__init__.py there")
        args.baseline_tree = str(Path(args.baseline_tree).resolve())
        arms.append(BASELINE)
    unknown = [s for s in streams if s not in STREAMS] + [a for a in arms if a not in (*ARMS, BASELINE)]
    if unknown:
        raise SystemExit(f"unknown stream or arm: {unknown}; streams {list(STREAMS)}, arms {list(ARMS)}")
    runs: dict[str, dict[str, list[dict]]] = {s: {a: [] for a in arms} for s in streams}
    # SIGTERM ends the run through the ``with`` below, so the sandbox server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    with serve(persons=args.persons, seed=args.seed, rate_limits=False, time_scale=args.time_scale) as served:
        ready = time.perf_counter() - started
        # The sandbox builds some indexes on the first request of a kind: whoever ran first would
        # pay for them. One unmeasured bare pass per stream first.
        for stream in streams:
            warm = run_child(served, args, "bare", stream)
            print(f"warm-up {stream}: {json.dumps(warm)}", file=sys.stderr)
        for round_ in range(args.rounds):
            for stream in streams:
                order = arms[round_ % len(arms) :] + arms[: round_ % len(arms)]
                for arm in order:
                    result = run_child(served, args, arm, stream)
                    runs[stream][arm].append(result)
                    print(f"round {round_ + 1} {stream} {arm}: {json.dumps(result)}", file=sys.stderr)
    # The copies baseline_script made, if any.
    shutil.rmtree(Path(tempfile.gettempdir()) / f"cdp-vs-dlt-baseline-{os.getpid()}", ignore_errors=True)
    out = {
        "persons": args.persons,
        "days": args.days,
        "rounds": args.rounds,
        "page_size": args.page_size or "project defaults (HubSpot 200, Salesforce 2000, Twitter 100)",
        "sandbox_ready_s": round(ready, 1),
        "load_average": os.getloadavg(),
        "summary": summarize(runs),
        "runs": runs,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
