"""How much of each vendor's quota the pacers spend, and how often they still get throttled, as JSON.

For each scenario a sandbox with rate limits ON is served on a loopback port in a subprocess, with a
``time_scale`` that shrinks the vendor's quota window to seconds (HubSpot's 10 s to 2 s, Twitter's
15 min to 6 s, a Graph or GA4 hour to 10 s) and, where the documented quota at that scale would ask
more requests per second than one sandbox process serves, a smaller quota (``limits``). Several
concurrent walkers per vendor, each a real client (``VendorResource.client()``: the vendor's shared
pacer, retry and breaker), page through cheap endpoints (small pages) until ``--seconds`` pass, so the
quota, not the server, is what binds. The pacers get the scaled window lengths the vendor does not
report itself (Graph's rolling hour, GA4's hour, HubSpot search's second, Twitter's 15 minutes),
as a deployment gets the real ones; limits, remaining counts, resets and usage they learn.

Per vendor it reports:
- ``share_of_quota``: requests the vendor accepted ÷ requests its quota allowed, in steady state:
  for a fixed window (Twitter, GA4) over the complete windows inside the run; for a rolling one
  (HubSpot, Graph) from one window after the first request to the last (the first window may be
  filled at once). Goal >= 0.95.
- ``throttled_share``: the vendor's throttle answers (429, Graph codes 4/32/80002, Salesforce
  REQUEST_LIMIT_EXCEEDED) ÷ all requests, counted by the sandbox. Goal <= 0.005.
Salesforce's quota is a 24-hour budget that a run must not wait for: its pacer spends it up to the
configured reserve and stops the run (QuotaExhausted). Its row reports the share of the budget spent
when the run stopped, against the share the reserve leaves usable.

    .venv/bin/python benchmarks/ingestion_budget.py [--seconds 60] [--vendors hubspot,twitter]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ingestion_sandbox import serve

from cdp_platform.http import HttpClientError, QuotaExhausted, RequestRecord, VendorClient
from cdp_platform.http.breaker import DEFAULT_BREAKERS
from cdp_platform.http.pacing import pacer_for, reset_pacers
from cdp_platform.sandbox import credentials as creds
from cdp_platform.sources.facebook import FacebookResource
from cdp_platform.sources.google_analytics import GoogleAnalyticsResource
from cdp_platform.sources.hubspot import HubSpotResource
from cdp_platform.sources.instagram import InstagramResource
from cdp_platform.sources.salesforce import SalesforceResource
from cdp_platform.sources.twitter import TwitterResource
from cdp_platform.sources.vendor import VendorResource

PERSONS = 2000

# One step of a walker: (client, account ids, continuation or None) -> next continuation or None.
Step = Callable[[VendorClient, dict[str, str], Any], Awaitable[Any]]


@dataclass(frozen=True)
class Quota:
    """One pacer key's quota as the vendor enforces it, in requests per (scaled) window."""

    requests: int
    window_seconds: float
    rolling: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    resource: Callable[[str], VendorResource]  # root URL -> resource
    steps: dict[str, Step]  # pacer key -> walker step; each key gets ``walkers`` walkers
    quotas: dict[str, Quota]  # pacer key -> its quota
    time_scale: float
    limits: dict[str, int] = field(default_factory=dict)
    pacer_settings: dict[str, Any] = field(default_factory=dict)
    walkers: int = 4
    daily_budget: bool = False  # Salesforce: spend until the pacer stops the run


# ---- walker steps: cheap pages of each vendor's own pagination ---------------------------------


async def hubspot_list(client: VendorClient, ids: dict[str, str], after: Any) -> Any:
    params = {"limit": 10, "archived": "false", **({"after": after} if after else {})}
    body = (await client.request("GET", "/crm/v3/objects/contacts", params=params)).json()
    return ((body.get("paging") or {}).get("next") or {}).get("after")


async def hubspot_search(client: VendorClient, ids: dict[str, str], after: Any) -> Any:
    payload = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": 10,
        **({"after": after} if after else {}),
    }
    body = (await client.request("POST", "/crm/v3/objects/contacts/search", json=payload)).json()
    return ((body.get("paging") or {}).get("next") or {}).get("after")


async def twitter_mentions(client: VendorClient, ids: dict[str, str], token: Any) -> Any:
    params = {
        "max_results": 5,
        "start_time": "2025-01-01T00:00:00Z",
        **({"pagination_token": token} if token else {}),
    }
    body = (await client.request("GET", f"/2/users/{ids['twitter']}/mentions", params=params)).json()
    return body["meta"].get("next_token")


async def twitter_search(client: VendorClient, ids: dict[str, str], token: Any) -> Any:
    params = {"query": "brand", "max_results": 10, **({"next_token": token} if token else {})}
    body = (await client.request("GET", "/2/tweets/search/recent", params=params)).json()
    return body["meta"].get("next_token")


async def ga4_report(client: VendorClient, ids: dict[str, str], offset: Any) -> Any:
    offset = offset or 0
    # One day at visitor level is served straight from stored rows (a cheap page); other
    # dimension sets make the sandbox aggregate the range on every call.
    payload = {
        "dimensions": [{"name": "date"}, {"name": "customUser:ga_client_id"}],
        "metrics": [{"name": "sessions"}],
        "dateRanges": [{"startDate": "yesterday", "endDate": "yesterday"}],
        "offset": str(offset),
        "limit": "10",
        "returnPropertyQuota": True,
    }
    body = (await client.request("POST", f"/v1beta/properties/{ids['ga4']}:runReport", json=payload)).json()
    return offset + 10 if offset + 10 < body.get("rowCount", 0) else None


def graph_edge(node: str, edge: str, fields: str) -> Step:
    async def step(client: VendorClient, ids: dict[str, str], link: Any) -> Any:
        if link:
            response = await client.request("GET", link)
        else:
            response = await client.request(
                "GET", f"/v21.0/{ids[node]}/{edge}", params={"limit": 5, "fields": fields}
            )
        return (response.json().get("paging") or {}).get("next")

    return step


async def salesforce_query(client: VendorClient, ids: dict[str, str], next_url: Any) -> Any:
    # A small LIMIT keeps each call cheap for the sandbox: the daily count is what is measured.
    params = {"q": "SELECT Id, SystemModstamp FROM Contact LIMIT 10"}
    await client.request("GET", "/services/data/v62.0/query", params=params)
    return None


# ---- scenarios ------------------------------------------------------------------------------------


def scenarios() -> list[Scenario]:
    """Quotas at a scale one sandbox process can serve with room to spare (at most ~60 requests/s)."""
    return [
        Scenario(
            name="hubspot",
            resource=lambda root: HubSpotResource(
                base_url=f"{root}/hubspot", access_token=creds.HUBSPOT_PRIVATE_APP_TOKEN
            ),
            steps={"default": hubspot_list},
            # 100 per rolling 10 s, scaled to 2 s: 50 requests/s.
            quotas={"default": Quota(100, 10 / 5, rolling=True)},
            time_scale=5,
            walkers=6,
        ),
        Scenario(
            name="hubspot_search",
            resource=lambda root: HubSpotResource(
                base_url=f"{root}/hubspot", access_token=creds.HUBSPOT_PRIVATE_APP_TOKEN
            ),
            steps={"search": hubspot_search},
            # 4 per rolling second, scaled to 0.5 s: 8 requests/s.
            quotas={"search": Quota(4, 1 / 2, rolling=True)},
            time_scale=2,
            pacer_settings={"search_window_seconds": 1 / 2},
            walkers=4,
        ),
        Scenario(
            name="twitter",
            resource=lambda root: TwitterResource(
                base_url=f"{root}/twitter", bearer_token=creds.TWITTER_BEARER_TOKEN
            ),
            steps={"/2/users/:id/mentions": twitter_mentions, "/2/tweets/search/recent": twitter_search},
            # 180 per fixed 15 min per endpoint (a smaller plan than the pacer's default of 450,
            # so it must learn the limit from the headers), scaled to 6 s: 30 requests/s each.
            quotas={
                "/2/users/:id/mentions": Quota(180, 900 / 150, rolling=False),
                "/2/tweets/search/recent": Quota(180, 900 / 150, rolling=False),
            },
            time_scale=150,
            limits={"twitter_mentions_per_15_minutes": 180, "twitter_search_recent_per_15_minutes": 180},
            # The documented window, scaled; the pacer still assumes the documented 450 calls.
            pacer_settings={
                "limits": {
                    key: (450, 900 / 150) for key in ("/2/users/:id/mentions", "/2/tweets/search/recent")
                },
                "reset_margin": 0.25 / 150,
            },
            walkers=3,
        ),
        Scenario(
            name="google_analytics",
            resource=lambda root: GoogleAnalyticsResource(
                base_url=f"{root}/ga4", access_token=creds.GA4_ACCESS_TOKEN
            ),
            steps={"default": ga4_report},
            # 4,000 tokens per fixed hour at 10 tokens a report, scaled to 10 s: 40 requests/s.
            quotas={"default": Quota(4000 // 10, 3600 / 360, rolling=False)},
            time_scale=360,
            limits={"ga4_tokens_per_hour": 4000, "ga4_tokens_per_day": 10**9},
            pacer_settings={"hour_seconds": 3600 / 360, "hour_margin": 5 / 360},
            walkers=6,
        ),
        Scenario(
            name="facebook",
            resource=lambda root: FacebookResource(
                base_url=f"{root}/facebook",
                access_token=creds.FACEBOOK_ACCESS_TOKEN,
                app_id=creds.FACEBOOK_APP_ID,
                app_secret=creds.FACEBOOK_APP_SECRET,
            ),
            steps={"default": graph_edge("page", "posts", "id,created_time")},
            # 500 calls per rolling hour (app and page), scaled to 10 s: 50 requests/s.
            quotas={"default": Quota(500, 3600 / 360, rolling=True)},
            time_scale=360,
            limits={"facebook_app_calls_per_hour": 500, "facebook_object_calls_per_hour": 500},
            pacer_settings={"window_seconds": 3600 / 360},
            walkers=6,
        ),
        Scenario(
            name="instagram",
            resource=lambda root: InstagramResource(
                base_url=f"{root}/instagram", access_token=creds.FACEBOOK_ACCESS_TOKEN
            ),
            steps={"default": graph_edge("instagram", "media", "id,timestamp")},
            quotas={"default": Quota(500, 3600 / 360, rolling=True)},
            time_scale=360,
            limits={"facebook_app_calls_per_hour": 500, "facebook_object_calls_per_hour": 500},
            pacer_settings={"window_seconds": 3600 / 360},
            walkers=6,
        ),
        Scenario(
            name="salesforce",
            resource=lambda root: SalesforceResource(
                base_url=f"{root}/salesforce",
                client_id=creds.SALESFORCE_CLIENT_ID,
                client_secret=creds.SALESFORCE_CLIENT_SECRET,
                refresh_token=creds.SALESFORCE_REFRESH_TOKEN,
            ),
            steps={"default": salesforce_query},
            # A 24 h budget of 1,500 calls, unscaled: the run spends it up to the reserve and stops.
            quotas={"default": Quota(1500, 86400, rolling=False)},
            time_scale=1,
            limits={"salesforce_requests_per_day": 1500},
            walkers=6,
            daily_budget=True,
        ),
    ]


# ---- measuring ------------------------------------------------------------------------------------


def is_throttle(vendor: str, status: int | None) -> bool:
    """Throttle answers as each vendor sends them (the workload makes no other 4xx)."""
    if status == 429:
        return True
    if vendor in {"facebook", "instagram"}:
        return status in {400, 403}
    return vendor == "salesforce" and status == 403


def steady_share(times: list[float], quota: Quota, first: float, last: float) -> dict:
    """Accepted requests ÷ requests the quota allowed, over the part of the run in steady state."""
    if quota.rolling:
        start, end = first + quota.window_seconds, last
        allowed = quota.requests * max(0.0, end - start) / quota.window_seconds
    else:
        first_window = math.ceil(first / quota.window_seconds)
        last_window = math.floor(last / quota.window_seconds)
        start, end = first_window * quota.window_seconds, last_window * quota.window_seconds
        allowed = quota.requests * max(0, last_window - first_window)
    accepted = sum(1 for t in times if start <= t < end)
    return {
        "measured_seconds": round(max(0.0, end - start), 2),
        "accepted": accepted,
        "allowed": round(allowed, 1),
        "share_of_quota": round(accepted / allowed, 4) if allowed else None,
    }


async def drive(
    scenario: Scenario, root: str, ids: dict[str, str], seconds: float
) -> tuple[list[RequestRecord], dict]:
    """Run the scenario's walkers for ``seconds`` (or until the pacer stops the run)."""
    # Fresh process-wide pacer and breaker: a scenario must not inherit another's signals.
    reset_pacers()
    DEFAULT_BREAKERS.reset()
    resource = scenario.resource(root)
    pacer_for(resource.http_vendor, **scenario.pacer_settings)
    records: list[RequestRecord] = []
    outcome = {"quota_exhausted": None, "errors": 0}
    auth = resource.auth()
    clients = []
    deadline = time.monotonic() + seconds

    async def walker(step: Step) -> None:
        client = resource.client(auth=auth)
        client.add_hook(records.append)
        clients.append(client)
        continuation = None
        while time.monotonic() < deadline:
            try:
                continuation = await step(client, ids, continuation)
            except QuotaExhausted as exc:
                outcome["quota_exhausted"] = exc.detail
                return
            except HttpClientError:
                outcome["errors"] += 1
                continuation = None

    tasks = [
        asyncio.create_task(walker(step)) for step in scenario.steps.values() for _ in range(scenario.walkers)
    ]
    # A pacer may sleep past the deadline (a pause to a window's end): the run ends on time anyway.
    _done, pending = await asyncio.wait(tasks, timeout=seconds + 2)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for client in clients:
        await client.aclose()
    return records, outcome


def measure(scenario: Scenario, seconds: float, ids: dict[str, str]) -> dict:
    with serve(persons=PERSONS, time_scale=scenario.time_scale, limits=scenario.limits) as served:
        started = time.monotonic()
        records, outcome = asyncio.run(drive(scenario, served.root, ids, seconds))
        elapsed = time.monotonic() - started
        stats = served.stats()
    vendor = scenario.resource("http://x").http_vendor
    data = [r for r in records if r.pacer_key in scenario.quotas]
    server_vendor = "graph" if vendor in {"facebook", "instagram"} else vendor
    throttled_server = sum((stats.get("throttled", {}).get(server_vendor) or {}).values())
    throttled_client = sum(1 for r in data if is_throttle(vendor, r.status))
    per_key = {}
    for key, quota in scenario.quotas.items():
        mine = [r for r in data if r.pacer_key == key]
        if not mine:
            per_key[key] = {"requests": 0}
            continue
        first, last = min(r.started_at for r in mine), max(r.started_at for r in mine)
        accepted = [r.started_at for r in mine if r.status is not None and not is_throttle(vendor, r.status)]
        row = {
            "quota": f"{quota.requests} per {quota.window_seconds:g} s {'rolling' if quota.rolling else 'fixed'}",
            "requests": len(mine),
            "throttled": sum(1 for r in mine if is_throttle(vendor, r.status)),
        }
        if scenario.daily_budget:
            row["share_of_budget_spent"] = round(len(accepted) / quota.requests, 4)
        else:
            row.update(steady_share(accepted, quota, first, last))
        per_key[key] = row
    requests = len(data)
    result = {
        "vendor": vendor,
        "time_scale": scenario.time_scale,
        "walkers_per_key": scenario.walkers,
        "elapsed_seconds": round(elapsed, 1),
        "requests": requests,
        "throttled": throttled_server,
        "throttled_client_seen": throttled_client,
        "throttled_share": round(throttled_server / requests, 5) if requests else None,
        "client_errors": outcome["errors"],
        "pacer_settings": scenario.pacer_settings,
        "sandbox_limits": scenario.limits,
        "keys": per_key,
    }
    if scenario.daily_budget:
        pacer = pacer_for(vendor)
        reserve = getattr(pacer, "reserve_fraction", 0.0)
        result["stopped_by_pacer"] = outcome["quota_exhausted"]
        result["usable_share"] = round(1 - reserve, 4)
        result["share_of_quota"] = per_key["default"].get("share_of_budget_spent")
    else:
        shares = [k for k in per_key.values() if k.get("allowed")]
        accepted = sum(k["accepted"] for k in shares)
        allowed = sum(k["allowed"] for k in shares)
        result["share_of_quota"] = round(accepted / allowed, 4) if allowed else None
    result["meets_goals"] = bool(
        result["share_of_quota"] is not None
        and result["share_of_quota"]
        >= (result.get("usable_share", 1.0) - 0.05 if scenario.daily_budget else 0.95)
        and (result["throttled_share"] or 0.0) <= 0.005
    )
    return result


def sandbox_ids() -> dict[str, str]:
    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(SandboxConfig(persons=PERSONS))
    return {
        "page": str(data.facebook_page_id),
        "instagram": str(data.instagram_user_id),
        "twitter": str(data.twitter_user_id),
        "ga4": str(data.ga4_property_id),
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--seconds", type=float, default=60.0, help="run time per scenario")
    options.add_argument("--vendors", default="", help="comma-separated scenario names (default: all)")
    args = options.parse_args()
    chosen = {name for name in args.vendors.split(",") if name}
    ids = sandbox_ids()
    results = {}
    for scenario in scenarios():
        if chosen and scenario.name not in chosen:
            continue
        results[scenario.name] = measure(scenario, args.seconds, ids)
    print(
        json.dumps(
            {
                "benchmark": "ingestion_budget",
                "seconds_per_scenario": args.seconds,
                "rate_limits": True,
                "sandbox_persons": PERSONS,
                "cpus": os.cpu_count(),
                "goals": {"share_of_quota": ">= 0.95", "throttled_share": "<= 0.005"},
                "scenarios": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
