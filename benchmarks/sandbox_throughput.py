"""How fast the sandbox serves pages over loopback: pages/s and records/s per endpoint, as JSON.

Starts ``cdp-sandbox serve`` (uvicorn, one process) on a free port with rate limits and faults off,
then, endpoint by endpoint, lets ``--concurrency`` async clients walk the vendor's own pagination
(restarting at the end) for ``--seconds``. The server is a separate process, so the clients do not
compete with it for the GIL; on a two-core machine both still share the CPU.

    .venv/bin/python benchmarks/sandbox_throughput.py --persons 100000 --seconds 5 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import psutil

from cdp_platform.sandbox import credentials as creds

CONTACT_SOQL = "SELECT+Id,Name,Email,Account.Name,SystemModstamp+FROM+Contact"
Fetch = Callable[[httpx.AsyncClient, object], Awaitable[tuple[int, object]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def endpoints(root: str, ids: dict[str, str], sf_token: str) -> dict[str, Fetch]:
    """Fetches that take the previous page's continuation (None to start); return (records, continuation)."""
    hubspot = {"Authorization": f"Bearer {creds.HUBSPOT_PRIVATE_APP_TOKEN}"}
    graph = {"Authorization": f"Bearer {creds.FACEBOOK_ACCESS_TOKEN}"}
    twitter = {"Authorization": f"Bearer {creds.TWITTER_BEARER_TOKEN}"}
    salesforce = {"Authorization": f"Bearer {sf_token}", "Sforce-Query-Options": "batchSize=2000"}

    async def hubspot_contacts(client, link):
        body = (
            await client.get(
                link or f"{root}/hubspot/crm/v3/objects/contacts?limit=100&associations=companies",
                headers=hubspot,
            )
        ).json()
        return len(body["results"]), body.get("paging", {}).get("next", {}).get("link")

    async def salesforce_contacts(client, next_url):
        url = (
            f"{root}/salesforce{next_url}"
            if next_url
            else f"{root}/salesforce/services/data/v62.0/query?q={CONTACT_SOQL}"
        )
        body = (await client.get(url, headers=salesforce)).json()
        return len(body["records"]), body.get("nextRecordsUrl")

    async def facebook_leads(client, link):
        body = (
            await client.get(
                link
                or f"{root}/facebook/v21.0/{ids['form']}/leads?limit=100"
                "&fields=id,created_time,ad_id,form_id,field_data",
                headers=graph,
            )
        ).json()
        return len(body["data"]), body.get("paging", {}).get("next")

    async def twitter_mentions(client, token):
        params = {
            "max_results": "100",
            "expansions": "author_id",
            "tweet.fields": "created_at,author_id,lang",
            "start_time": "2025-01-01T00:00:00Z",
            **({"pagination_token": token} if token else {}),
        }
        body = (
            await client.get(
                f"{root}/twitter/2/users/{ids['twitter']}/mentions", params=params, headers=twitter
            )
        ).json()
        return body["meta"]["result_count"], body["meta"].get("next_token")

    async def ga4_rows(client, offset):
        offset = offset or 0
        body = (
            await client.post(
                f"{root}/ga4/v1beta/properties/{ids['ga4']}:runReport",
                headers={"Authorization": f"Bearer {creds.GA4_ACCESS_TOKEN}"},
                json={
                    "dimensions": [
                        {"name": "date"},
                        {"name": "customUser:ga_client_id"},
                        {"name": "customUser:crm_contact_id"},
                    ],
                    "metrics": [{"name": "sessions"}, {"name": "purchaseRevenue"}],
                    "dateRanges": [{"startDate": "365daysAgo", "endDate": "today"}],
                    "offset": str(offset),
                    "limit": "10000",
                },
            )
        ).json()
        rows = len(body.get("rows", []))
        return rows, (offset + 10000 if offset + 10000 < body.get("rowCount", 0) else None)

    return {
        "hubspot_contacts_list": hubspot_contacts,
        "salesforce_contact_query": salesforce_contacts,
        "facebook_leads": facebook_leads,
        "twitter_mentions": twitter_mentions,
        "ga4_run_report": ga4_rows,
    }


async def measure(fetch: Fetch, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    records = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal records
        continuation = None
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            count, continuation = await fetch(client, continuation)
            latencies.append(time.perf_counter() - started)
            records += count

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "pages": len(latencies),
        "records": records,
        "pages_per_s": round(len(latencies) / elapsed, 1),
        "records_per_s": round(records / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(statistics.quantiles(latencies, n=20)[-1] * 1000, 1)
        if len(latencies) >= 20
        else None,
    }


async def run(root: str, ids: dict[str, str], seconds: float, concurrency: int) -> dict:
    async with httpx.AsyncClient() as client:
        token = (
            await client.post(
                f"{root}/salesforce/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": creds.SALESFORCE_CLIENT_ID,
                    "client_secret": creds.SALESFORCE_CLIENT_SECRET,
                },
            )
        ).json()["access_token"]
    results = {}
    for name, fetch in endpoints(root, ids, token).items():
        results[name] = await measure(fetch, seconds, concurrency)
    return results


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--persons", type=int, default=100_000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--seconds", type=float, default=5.0)
    options.add_argument("--concurrency", type=int, default=8)
    args = options.parse_args()

    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(SandboxConfig(persons=args.persons, seed=args.seed))
    ids = {
        "form": data.facebook_lead_form_ids[0],
        "twitter": data.twitter_user_id,
        "ga4": data.ga4_property_id,
    }
    del data
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdp_platform.sandbox.cli",
            "serve",
            "--port",
            str(port),
            "--persons",
            str(args.persons),
            "--seed",
            str(args.seed),
            "--no-rate-limits",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        server.stdout.readline()
        root = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                httpx.get(f"{root}/_sandbox/stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        rss_before_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        results = asyncio.run(run(root, ids, args.seconds, args.concurrency))
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        json.dumps(
            {
                "benchmark": "sandbox_throughput",
                "persons": args.persons,
                "seconds_per_endpoint": args.seconds,
                "concurrency": args.concurrency,
                "cpus": os.cpu_count(),
                "server_rss_mb_before": round(rss_before_mb, 1),
                "server_rss_mb_after": round(rss_mb, 1),
                "endpoints": results,
                "total_pages_per_s": round(sum(r["pages_per_s"] for r in results.values()) / len(results), 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
