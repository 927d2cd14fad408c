"""Requests per landed comment of the comment streams, before and after issue 20, as JSON.

Workload: ``--days`` consecutive daily partitions (ending the day before the sandbox's "today") of
the Facebook ``post_comments`` and Instagram ``media_comments`` streams, against the in-process
sandbox (rate limits as the sandbox sets them; requests are counted by the client, token exchanges
and retries included). Each day runs as the raw asset runs it: ``extract_stream``, then the
stream's ``landed`` hook (the parents' state advances), then the day's checkpoints are cleared.

- ``before``: every day in a lake of its own: no parent state, no listing cache, which is what the
  streams asked before issue 20 (every parent of the look-back window, every day).
- ``after_cold``: one lake for the days, starting empty (a new deployment: the parents created
  before the first day have no state and are read every day).
- ``after_steady``: one lake, after ``--warmup`` earlier days ran in it (the daily schedule's
  steady state: every parent in the window was first seen on its creation day).
- ``rerun``: each day of ``after_steady`` run a second time the same day (a retry or a
  re-materialization): the parent listing comes from the listing cache.

Every arm's landed comment ids are checked against the sandbox's ground truth; the script fails if
one differs.

    .venv/bin/python benchmarks/comment_requests.py --persons 2000 --days 7
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import tempfile
from pathlib import Path

from cdp_platform.io.checkpoints import LakeCheckpointStore, checkpoint_prefix
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sources import facebook, instagram
from cdp_platform.sources.raw_assets import extract_stream
from cdp_platform.sources.stream import Window

UTC = datetime.UTC


def window(day: datetime.date) -> Window:
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    return Window(day.isoformat(), start, start + datetime.timedelta(days=1))


def run_day(resource, stream, lake: LocalLake, day: datetime.date) -> tuple[int, set[str]]:
    w = window(day)

    async def run():
        client = resource.client()
        try:
            return await extract_stream(stream, client, w, resource.account_options(), lake)
        finally:
            await client.aclose()

    outcome = asyncio.run(run())
    if outcome.error is not None or not all(r.complete for r in outcome.results):
        raise SystemExit(f"{stream.source}/{stream.name} {w.partition} did not complete: {outcome.error}")
    prefix = checkpoint_prefix(stream.asset_path, w.partition)
    if stream.landed is not None:
        stream.landed(lake, stream.asset_path, prefix, w, outcome.rows)
    LakeCheckpointStore(lake).clear(prefix)
    return outcome.stats["requests"], set(outcome.rows["record_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--today", default="2026-11-26")
    args = parser.parse_args()
    today = datetime.date.fromisoformat(args.today)
    sandbox = InProcessSandbox(persons=args.persons, today=args.today, span_days=args.days + args.warmup + 30)
    data = sandbox.data()
    days = [today - datetime.timedelta(days=args.days - i) for i in range(args.days)]
    warmup = [days[0] - datetime.timedelta(days=args.warmup - i) for i in range(args.warmup)]
    resources = {
        "facebook": (
            facebook.FacebookResource(access_token=creds.FACEBOOK_ACCESS_TOKEN, server=sandbox),
            "post_comments",
        ),
        "instagram": (
            instagram.InstagramResource(access_token=creds.FACEBOOK_ACCESS_TOKEN, server=sandbox),
            "media_comments",
        ),
    }
    report: dict = {"persons": args.persons, "days": [d.isoformat() for d in days], "streams": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for source, (resource, name) in resources.items():
            stream = next(s for s in resource_streams(source) if s.name == name)
            key = f"{source}/{name}"
            truth = {
                d: {data.record_id(key, p) for p in data.window(key, window(d).start, window(d).end)}
                for d in days
            }
            records = sum(len(t) for t in truth.values())
            arms: dict[str, int] = {}

            def check(arm: str, day: datetime.date, ids: set[str], truth=truth, key=key) -> None:
                if ids != truth[day]:
                    raise SystemExit(f"{key} {arm} {day}: landed comments differ from the truth")

            total = 0
            for d in days:
                requests, ids = run_day(resource, stream, LocalLake(root / key / "before" / d.isoformat()), d)
                check("before", d, ids)
                total += requests
            arms["before"] = total
            cold = LocalLake(root / key / "cold")
            total = 0
            for d in days:
                requests, ids = run_day(resource, stream, cold, d)
                check("after_cold", d, ids)
                total += requests
            arms["after_cold"] = total
            steady = LocalLake(root / key / "steady")
            for d in warmup:
                run_day(resource, stream, steady, d)
            total = rerun = 0
            for d in days:
                requests, ids = run_day(resource, stream, steady, d)
                check("after_steady", d, ids)
                total += requests
                requests, ids = run_day(resource, stream, steady, d)
                check("rerun", d, ids)
                rerun += requests
            arms["after_steady"] = total
            arms["rerun"] = rerun
            report["streams"][key] = {
                "records": records,
                **{
                    arm: {"requests": n, "requests_per_record": round(n / records, 4) if records else None}
                    for arm, n in arms.items()
                },
            }
    print(json.dumps(report, indent=2))


def resource_streams(source: str):
    return facebook.STREAMS if source == "facebook" else instagram.STREAMS


if __name__ == "__main__":
    main()
