"""Raw ingestion throughput over loopback: records/s and peak RSS, beside a bare httpx ceiling, as JSON.

Workload: ``--days`` daily partitions (ending the day before the sandbox's "today") of every stream
of all six sources, from a ``--persons`` sandbox served on a loopback port in a subprocess with rate
limits OFF (this measures the client's own cost, not a vendor's quota; the budget benchmark has
them on). Pacers cannot tell that limits are off: Twitter's spreads its calls over the reported
15-minute window, HubSpot search keeps its documented 4/s. So the sandbox reports windows
``--time-scale`` times shorter and the pacers get the documented ones scaled alike.

A day's six sources run concurrently, each through ``extract_source`` (one client per stream, the
vendor's shared pacer, retry, breaker, per-page checkpoints and spool in a temp lake folder), and
each completed stream's rows are written as the partition's Parquet file, as the raw asset's IO
manager would. Days run one after another. It runs once with faults ``none`` and once
with ``storm`` (every fault the sandbox injects, at its storm rates).

The ceiling (``bare``): a plain ``httpx.AsyncClient`` fetching exactly the same pages, one task per
stream, pages in the same order within a stream, every body JSON-decoded; no pacing, retry,
checkpoint, spool or Parquet. It replays the request sequence each stream's client sent in the
``none`` run, so both fetch identical pages. The sandbox builds records at a few thousand per
second per core, so on a small machine the server, not the client, can be what binds: the ceiling
shows where that is.

Each ingestion runs in a fresh child process, so its peak RSS (``ru_maxrss``) is its own: a
process-wide peak would otherwise carry the previous run's high-water mark.

    .venv/bin/python benchmarks/ingestion_throughput.py --persons 100000 [--days 30] [--faults none,storm]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psutil
from ingestion_sandbox import serve

from cdp_platform.http import Auth, RetryPolicy, VendorClient
from cdp_platform.http.pacing import pacer_for, reset_pacers
from cdp_platform.io.checkpoints import LakeCheckpointStore, checkpoint_prefix
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.in_process import sandbox_options
from cdp_platform.sources import SOURCES
from cdp_platform.sources.facebook import FacebookResource
from cdp_platform.sources.google_analytics import GoogleAnalyticsResource
from cdp_platform.sources.hubspot import HubSpotResource
from cdp_platform.sources.instagram import InstagramResource
from cdp_platform.sources.raw_assets import extract_source
from cdp_platform.sources.registry import declaration
from cdp_platform.sources.salesforce import SalesforceResource
from cdp_platform.sources.stream import Window
from cdp_platform.sources.twitter import TwitterResource
from cdp_platform.sources.vendor import VendorResource

# Where a page's records are, per vendor shape (HubSpot results, Salesforce records, Graph and
# Twitter data, GA4 rows): the bare loop counts them without knowing the stream.
RECORD_LISTS = ("results", "records", "data", "rows")


def resources(root: str) -> dict[str, VendorResource]:
    return {
        "salesforce": SalesforceResource(
            base_url=f"{root}/salesforce",
            client_id=creds.SALESFORCE_CLIENT_ID,
            client_secret=creds.SALESFORCE_CLIENT_SECRET,
            refresh_token=creds.SALESFORCE_REFRESH_TOKEN,
        ),
        "hubspot": HubSpotResource(base_url=f"{root}/hubspot", access_token=creds.HUBSPOT_PRIVATE_APP_TOKEN),
        "google_analytics": GoogleAnalyticsResource(
            base_url=f"{root}/ga4", access_token=creds.GA4_ACCESS_TOKEN
        ),
        "facebook": FacebookResource(
            base_url=f"{root}/facebook",
            access_token=creds.FACEBOOK_ACCESS_TOKEN,
            app_id=creds.FACEBOOK_APP_ID,
            app_secret=creds.FACEBOOK_APP_SECRET,
        ),
        "instagram": InstagramResource(
            base_url=f"{root}/instagram", access_token=creds.FACEBOOK_ACCESS_TOKEN
        ),
        "twitter": TwitterResource(base_url=f"{root}/twitter", bearer_token=creds.TWITTER_BEARER_TOKEN),
    }


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Loopback transport that keeps the requests it sends, in order (in memory only)."""

    def __init__(self, sent: list[tuple[str, str, dict[str, str], bytes]]) -> None:
        super().__init__()
        self.sent = sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.sent.append((request.method, str(request.url), dict(request.headers), request.content))
        return await super().handle_async_request(request)


class RecordingVendor:
    """A vendor resource as ``extract_source`` uses it, whose clients log their requests per client.

    Everything but ``client()`` and ``account_options()`` is the resource's own. The clients are
    built as ``VendorResource.client()`` builds them (the vendor's shared pacer and breaker, its
    retry policy and timeout); only the transport differs, to keep the log.
    """

    def __init__(self, resource: VendorResource, options: dict[str, str]) -> None:
        self.resource = resource
        self.options = options
        self.logs: list[list[tuple[str, str, dict[str, str], bytes]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resource, name)

    def account_options(self) -> dict[str, str]:
        return dict(self.options)

    def client(self, auth: Auth | None = None) -> VendorClient:
        log: list[tuple[str, str, dict[str, str], bytes]] = []
        self.logs.append(log)
        return VendorClient(
            self.resource.http_vendor,
            self.resource.base_url or "",
            auth or self.resource.auth(),
            transport=RecordingTransport(log),
            retry=RetryPolicy(max_attempts=self.resource.max_attempts),
            timeout=self.resource.timeout_seconds,
        )


def configure_pacers(time_scale: float) -> None:
    """The pacers as a deployment configures them, with every documented window ``time_scale``
    times shorter, as the sandbox's reported ones are: pacing follows its rules but never binds
    here, because rate limits are off and the windows are short."""
    reset_pacers()
    pacer_for("hubspot", search_window_seconds=1.0 / time_scale)
    pacer_for(
        "twitter",
        limits={
            key: (calls, seconds / time_scale)
            for key, (calls, seconds) in declaration("twitter").quota.settings["limits"].items()
        },
        reset_margin=0.25 / time_scale,
    )
    pacer_for("facebook", window_seconds=3600.0 / time_scale)
    pacer_for("ga4", hour_seconds=3600.0 / time_scale, hour_margin=5.0 / time_scale)


def partitions(today: datetime.date, days: int) -> list[str]:
    return [(today - datetime.timedelta(days=n)).isoformat() for n in range(days, 0, -1)]


def account_options(seed: int) -> dict[str, dict[str, str]]:
    """Account ids depend on the seed only, so a one-person sandbox gives the same ones cheaply."""
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(SandboxConfig(persons=1, seed=seed))
    return {source: sandbox_options(source, data) for source in SOURCES}


def empty_totals() -> dict[str, Any]:
    return {
        "records": 0,
        "requests": 0,
        "retries": 0,
        "responses_429": 0,
        "dead_letters": 0,
        "quota_wait_s": 0.0,
        "backoff_wait_s": 0.0,
        "incomplete": [],
    }


async def ingest_day(
    vendors: dict[str, RecordingVendor], modules: dict[str, ModuleType], partition: str, lake: LocalLake
) -> dict[str, Any]:
    start = datetime.datetime.fromisoformat(partition).replace(tzinfo=datetime.UTC)
    window = Window(partition, start, start + datetime.timedelta(days=1))
    per_source = await asyncio.gather(
        *(extract_source(vendors[name], modules[name].STREAMS, window, lake) for name in vendors)  # type: ignore[arg-type]
    )
    totals = empty_totals()
    for outcomes in per_source:
        for outcome in outcomes:
            stream = outcome.stream
            totals["requests"] += outcome.stats.get("requests", 0)
            totals["retries"] += outcome.stats.get("retries", 0)
            totals["responses_429"] += outcome.stats.get("responses_429", 0)
            totals["dead_letters"] += len(outcome.dead_letters)
            # Summed over streams that wait side by side: it can exceed the wall time.
            totals["quota_wait_s"] += outcome.stats.get("quota_wait_s") or 0.0
            totals["backoff_wait_s"] += outcome.stats.get("backoff_wait_s") or 0.0
            if not outcome.complete or outcome.rows is None:
                totals["incomplete"].append(f"{stream.source}/{stream.name} {partition}: {outcome.error}")
                continue
            totals["records"] += outcome.rows.height
            target = lake.root / "raw" / stream.source / stream.name / f"{partition}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(outcome.rows.write_parquet, target)
            LakeCheckpointStore(lake).clear(checkpoint_prefix(stream.asset_path, partition))
    return totals


async def pipeline(
    root: str, seed: int, days: list[str], lake: LocalLake, time_scale: float
) -> tuple[dict, list]:
    configure_pacers(time_scale)
    options = account_options(seed)
    vendors = {name: RecordingVendor(res, options[name]) for name, res in resources(root).items()}
    started = time.perf_counter()
    totals = empty_totals()
    # Per stream client, per day: the request sequences the bare loop replays.
    sequences: list[list] = []
    for partition in days:
        first = {name: len(vendor.logs) for name, vendor in vendors.items()}
        day = await ingest_day(vendors, SOURCES, partition, lake)
        for key, value in day.items():
            totals[key] += value
        sequences.append([log for name, vendor in vendors.items() for log in vendor.logs[first[name] :]])
    elapsed = time.perf_counter() - started
    totals["seconds"] = round(elapsed, 2)
    totals["records_per_s"] = round(totals["records"] / elapsed, 1)
    totals["requests_per_s"] = round(totals["requests"] / elapsed, 1)
    totals["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    totals["incomplete"] = totals["incomplete"][:20]
    totals["quota_wait_s"] = round(totals["quota_wait_s"], 2)
    totals["backoff_wait_s"] = round(totals["backoff_wait_s"], 2)
    return totals, sequences


async def bare(sequences: list[list], landed: int) -> dict:
    """Fetch the recorded pages with a plain client: per day, every stream concurrently.

    The pages are the pipeline's, so they hold the records it landed (``landed``); the records in
    the bodies count more (parent lists a fan-out stream reads, association pages, a record on two
    pages), so records/s is the landed records over this loop's time, comparable with the pipeline's.
    """
    pages = records = 0

    async def walk(http: httpx.AsyncClient, sent: list) -> None:
        nonlocal pages, records
        for method, url, headers, content in sent:
            response = await http.request(method, url, headers=headers, content=content or None)
            pages += 1
            if response.headers.get("content-type", "").startswith("application/json"):
                body = response.json()
                if isinstance(body, dict):
                    records += next((len(body[k]) for k in RECORD_LISTS if isinstance(body.get(k), list)), 0)

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        started = time.perf_counter()
        for day in sequences:
            await asyncio.gather(*(walk(http, sent) for sent in day))
        elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "pages": pages,
        "records_in_pages": records,
        "records_per_s": round(landed / elapsed, 1),
        "pages_per_s": round(pages / elapsed, 1),
    }


def child(args: argparse.Namespace) -> None:
    days = partitions(SandboxConfig().today, args.days)
    rss_before_mb = round(psutil.Process().memory_info().rss / 2**20, 1)  # the imports alone
    with tempfile.TemporaryDirectory(prefix="cdp-ingest-bench-") as folder:
        lake = LocalLake(Path(folder))
        result, sequences = asyncio.run(pipeline(args.root, args.seed, days, lake, args.time_scale))
        result["lake_mb"] = round(
            sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20, 1
        )
    result["rss_mb_before_ingesting"] = rss_before_mb
    out: dict[str, Any] = {"pipeline": result}
    if args.bare:
        out["bare"] = asyncio.run(bare(sequences, result["records"]))
    print(json.dumps(out))


def run_child(root: str, args: argparse.Namespace, with_bare: bool) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--root",
        root,
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
        "--time-scale",
        str(args.time_scale),
    ]
    if with_bare:
        command.append("--bare")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ingestion child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--persons", type=int, default=100_000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--days", type=int, default=30, help="daily partitions, ending yesterday")
    options.add_argument(
        "--time-scale",
        type=float,
        default=1000.0,
        help="quota windows this many times shorter (pacing never binds)",
    )
    options.add_argument("--faults", default="none,storm", help="comma-separated fault profiles to run")
    options.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--root", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        child(args)
        return

    runs: dict[str, dict] = {}
    for faults in [f for f in args.faults.split(",") if f]:
        with serve(
            persons=args.persons, seed=args.seed, rate_limits=False, faults=faults, time_scale=args.time_scale
        ) as served:
            server = psutil.Process(served.pid)
            result = run_child(served.root, args, with_bare=faults == "none")
            result["server_rss_mb_after"] = round(server.memory_info().rss / 2**20, 1)
            stats = served.stats()
            result["sandbox_faults_injected"] = {
                v: sum(k.values()) for v, k in stats.get("faults", {}).items()
            }
        runs[faults] = result
    # The same pages in both: the ceiling's share is the ratio of the times.
    ceiling = runs.get("none", {}).get("bare", {}).get("seconds")
    for result in runs.values():
        seconds = result["pipeline"]["seconds"]
        result["pipeline"]["share_of_ceiling"] = round(ceiling / seconds, 3) if ceiling else None
    print(
        json.dumps(
            {
                "benchmark": "ingestion_throughput",
                "persons": args.persons,
                "seed": args.seed,
                "workload": {
                    "partitions": partitions(SandboxConfig().today, args.days),
                    "streams": "every stream of all six sources (14), a day's sources concurrently",
                    "rate_limits": False,
                    "time_scale": args.time_scale,
                    "pacing": "the vendors' pacers, configured with the documented windows scaled like the "
                    "sandbox's, so they pace by the rules but never bind",
                    "transport": "loopback HTTP, sandbox in a subprocess (uvicorn, one process)",
                    "lake": "temp folder: per-page spool + checkpoints, final Parquet per stream and day",
                },
                "cpus": os.cpu_count(),
                "runs": runs,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
