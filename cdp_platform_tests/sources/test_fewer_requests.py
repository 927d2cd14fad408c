"""Issue 20: comment streams ask fewer requests, and still land every comment.

A parent whose comments are all landed is not asked again (``sources/parent_state.py``), and a
closed window's parent listing is served from the listing cache (``http/listing_cache.py``). Runs
against the in-process sandbox, one day after the other as the daily schedule does, graded against
the sandbox's ground truth.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil

import pytest

from cdp_platform.http.listing_cache import (
    ListingCache,
    RedisListingCache,
    listing_cache,
    listing_key,
)
from cdp_platform.io.checkpoints import LakeCheckpointStore, checkpoint_prefix
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox import credentials as sandbox_credentials
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sources import facebook, instagram, parent_state
from cdp_platform.sources.graph import list_parents
from cdp_platform.sources.raw_assets import extract_stream
from cdp_platform.sources.stream import StreamContext, Window
from cdp_platform_tests.support.services import require_service

TODAY = "2026-11-26"
# Nine consecutive days: the first ones set the parents' state up, the last ones show the saving.
DAYS = [f"2026-11-{day:02d}" for day in range(10, 19)]
UTC = datetime.UTC


@pytest.fixture(scope="module")
def sandbox() -> InProcessSandbox:
    # 500 persons: a few comments per post, so a post often has a day without any (the sandbox spreads
    # a post's comments evenly over its seven days; real ones cluster after the post, saving more).
    return InProcessSandbox(persons=500, today=TODAY, span_days=30)


def _resource(name: str, sandbox: InProcessSandbox):
    if name == "facebook":
        return facebook.FacebookResource(
            access_token=sandbox_credentials.FACEBOOK_ACCESS_TOKEN, server=sandbox
        )
    return instagram.InstagramResource(access_token=sandbox_credentials.FACEBOOK_ACCESS_TOKEN, server=sandbox)


STREAMS = {
    "facebook": ("post_comments", facebook.STREAMS),
    "instagram": ("media_comments", instagram.STREAMS),
}


def _stream(source: str):
    name, streams = STREAMS[source]
    return next(s for s in streams if s.name == name)


def _window(day: str) -> Window:
    start = datetime.datetime.fromisoformat(day).replace(tzinfo=UTC)
    return Window(day, start, start + datetime.timedelta(days=1))


def _run_day(resource, stream, lake: LocalLake, day: str):
    """One day as the raw asset runs it: extract, land (the state advances), clear the checkpoints."""
    window = _window(day)

    async def run():
        client = resource.client()
        try:
            return await extract_stream(stream, client, window, resource.account_options(), lake)
        finally:
            await client.aclose()

    outcome = asyncio.run(run())
    assert outcome.error is None, outcome.error
    assert all(r.complete for r in outcome.results)
    prefix = checkpoint_prefix(stream.asset_path, day)
    stream.landed(lake, stream.asset_path, prefix, window, outcome.rows)
    LakeCheckpointStore(lake).clear(prefix)
    return outcome


def _truth(sandbox: InProcessSandbox, source: str, day: str) -> set[str]:
    data = sandbox.data()
    key = f"{source}/{STREAMS[source][0]}"
    window = _window(day)
    return {data.record_id(key, p) for p in data.window(key, window.start, window.end)}


@pytest.mark.parametrize("source", ["facebook", "instagram"])
def test_consecutive_days_ask_fewer_requests_and_land_every_comment(source, sandbox, tmp_path):
    resource = _resource(source, sandbox)
    stream = _stream(source)
    kept = LocalLake(tmp_path / "kept")  # one lake across the days: state and cache persist
    with_state, without_state, landed = [], [], 0
    for day in DAYS:
        outcome = _run_day(resource, stream, kept, day)
        # A lake of its own per day: no state, no cache, what the stream asked before issue 20.
        baseline = _run_day(resource, stream, LocalLake(tmp_path / f"fresh-{day}"), day)
        truth = _truth(sandbox, source, day)
        landed += len(truth)
        assert set(outcome.rows["record_id"]) == truth, f"{day}: landed comments differ from the truth"
        assert set(baseline.rows["record_id"]) == truth
        with_state.append(outcome.stats["requests"])
        without_state.append(baseline.stats["requests"])
    assert landed >= len(DAYS), "too few comments in these days: the test would prove little"
    # Once the parents in the look-back window have a state, later days ask less; never more.
    assert all(a <= b for a, b in zip(with_state, without_state, strict=True)), (with_state, without_state)
    assert with_state[-1] < without_state[-1] or with_state[-2] < without_state[-2], (
        with_state,
        without_state,
    )
    assert sum(with_state) < sum(without_state)
    assert parent_state.load_states(kept, stream.asset_path)


def test_a_parent_whose_count_changed_is_read_again(sandbox, tmp_path):
    """A comment made on an old post raises its count: the post is asked again (simulated by
    lowering what the state says was landed, which is what the count exceeding it means)."""
    resource = _resource("facebook", sandbox)
    stream = _stream("facebook")
    lake = LocalLake(tmp_path / "a")
    for day in DAYS[:-1]:
        _run_day(resource, stream, lake, day)
    last = DAYS[-1]
    start = _window(last).start
    states = parent_state.load_states(lake, stream.asset_path)
    # Posts skipped on the last day unless told otherwise: state up to its start, count matches.
    ready = [p for p, s in states.items() if s.reaches(start)]
    assert ready, "no post had a state reaching the last day"
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    changed = LocalLake(tmp_path / "b")
    tampered = dict(states)
    for parent in ready:
        s = tampered[parent]
        tampered[parent] = parent_state.ParentState(s.through, s.landed - 1, s.count, s.activity)
    parent_state.save_states(changed, stream.asset_path, tampered)
    same = _run_day(resource, stream, lake, last)
    reread = _run_day(resource, stream, changed, last)
    fresh = _run_day(resource, stream, LocalLake(tmp_path / "fresh"), last)
    # Every post whose count moved is asked again: as many requests as with no state at all.
    assert same.stats["requests"] < reread.stats["requests"] == fresh.stats["requests"]
    assert set(reread.rows["record_id"]) == set(same.rows["record_id"]) == _truth(sandbox, "facebook", last)


def test_unchanged_needs_the_count_the_activity_and_a_state_reaching_the_window():
    start = datetime.datetime(2026, 11, 20, tzinfo=UTC)
    state = parent_state.ParentState(start.isoformat(), 5, 7, None)
    seen = parent_state.ParentSeen(
        "p", start - datetime.timedelta(days=2), 5, start - datetime.timedelta(hours=1)
    )
    assert parent_state.unchanged(seen, state, start)
    # A new comment: the count is above what was landed.
    assert not parent_state.unchanged(parent_state.ParentSeen("p", None, 6, None), state, start)
    # A deletion and a new comment: count equal, but the last activity is inside the window.
    assert not parent_state.unchanged(parent_state.ParentSeen("p", None, 5, start), state, start)
    # A deleted comment: the count fell below what was landed (read again, never skipped).
    assert not parent_state.unchanged(parent_state.ParentSeen("p", None, 4, None), state, start)
    # A re-run of an earlier day: the state is past its start.
    assert not parent_state.unchanged(seen, state, start - datetime.timedelta(days=1))
    # No state, or no count from the vendor.
    assert not parent_state.unchanged(seen, None, start)
    assert not parent_state.unchanged(parent_state.ParentSeen("p", None, None, None), state, start)


def _listing_twice(resource, lake, day: str) -> tuple[list, list, list[int]]:
    async def run():
        found, requests = [], []
        for _ in range(2):  # two streams (or runs) of the same day listing the same parents
            client = resource.client()
            try:
                ctx = StreamContext(
                    client, _window(day), resource.account_options(), source="facebook", lake=lake
                )
                records, _ = await list_parents(ctx, ctx.options["page_id"], "posts", "id,created_time")
                found.append(records)
                requests.append(client.stats.snapshot()["requests"])
            finally:
                await client.aclose()
        return found, requests

    (first, second), requests = asyncio.run(run())
    return first, second, requests


def test_the_listing_cache_serves_a_second_listing_without_a_request(sandbox, tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_REDIS_URL", raising=False)
    monkeypatch.delenv("CDP_EVENTS_BROKER_URL", raising=False)
    lake = LocalLake(tmp_path)
    first, second, requests = _listing_twice(_resource("facebook", sandbox), lake, DAYS[0])
    assert first and second == first
    assert requests[0] >= 1 and requests[1] == 0
    assert any(k.startswith("_cache/listings/") for k in lake.list_keys("_cache"))


def test_a_listing_of_an_open_window_is_not_cached(sandbox, tmp_path, monkeypatch):
    """Today's window still gains parents: its listing is asked again."""
    monkeypatch.delenv("CDP_REDIS_URL", raising=False)
    monkeypatch.delenv("CDP_EVENTS_BROKER_URL", raising=False)
    today = datetime.datetime.now(UTC).date().isoformat()
    _, _, requests = _listing_twice(_resource("facebook", sandbox), LocalLake(tmp_path), today)
    assert requests[0] >= 1 and requests[1] >= 1


def test_a_failing_cache_is_a_miss_not_an_error(tmp_path):
    class Broken(ListingCache):
        kind = "broken"

        def _get(self, key):
            raise ConnectionError("down")

        def _put(self, key, data):
            raise ConnectionError("down")

    cache = Broken()
    cache.put("k", {"records": []})
    assert cache.get("k") is None and cache.failures == 2
    # A Redis nobody listens on: a miss, quickly, not an exception.
    dead = RedisListingCache("redis://127.0.0.1:1/0")
    assert dead.get(listing_key("s", "/e", {})) is None and dead.failures == 1


def test_lake_entries_expire(tmp_path):
    lake = LocalLake(tmp_path)
    cache = listing_cache(lake, {"CDP_LISTING_CACHE_TTL_SECONDS": "60"})
    key = listing_key("s", "/v/node/edge", {"since": 1, "until": 2}, day="2026-11-20")
    cache.put(key, {"records": [{"id": "1"}]})
    assert cache.get(key) == {"records": [{"id": "1"}]}
    path = f"_cache/listings/{key}.json"
    entry = json.loads(lake.read_bytes(path))
    entry["expires_at"] -= 61
    lake.write_bytes(path, json.dumps(entry).encode())
    assert cache.get(key) is None
    # Another day, another key: an entry is never served on another day.
    assert listing_key("s", "/v/node/edge", {"until": 2, "since": 1}, day="2026-11-20") == key
    assert listing_key("s", "/v/node/edge", {"since": 1, "until": 2}, day="2026-11-21") != key
    with pytest.raises(ValueError, match="CDP_LISTING_CACHE_TTL_SECONDS must be positive"):
        listing_cache(lake, {"CDP_LISTING_CACHE_TTL_SECONDS": "0"})


@pytest.mark.redis
def test_redis_serves_the_listing_to_a_second_run(sandbox, tmp_path, monkeypatch):
    require_service("Redis", "127.0.0.1", 6379)
    monkeypatch.setenv("CDP_REDIS_URL", "redis://127.0.0.1:6379/15")
    cache = listing_cache(None)
    assert isinstance(cache, RedisListingCache)
    # Database 15 is the tests' own; an entry of an earlier run of this test would serve the first listing.
    for key in cache.client.keys("cdp:listing:*"):
        cache.client.delete(key)
    first, second, requests = _listing_twice(_resource("facebook", sandbox), None, DAYS[1])
    assert first and second == first
    assert requests[0] >= 1 and requests[1] == 0
    ttls = [cache.client.ttl(k) for k in cache.client.keys("cdp:listing:*")]
    assert ttls and all(0 < t <= cache.ttl_seconds for t in ttls)


def test_the_raw_asset_advances_the_state_and_reports_requests_per_record(tmp_path):
    """Through Dagster, one run per day as the schedule does: the state advances after each landed
    day, later days skip parents, and each day's materialization says what it cost."""
    import dagster as dg

    from cdp_platform_tests.sources.support import ingest, landed, sandbox_environ

    environ = sandbox_environ(tmp_path, persons=500, span_days=30, partitions_start="2026-10-01")
    key = dg.AssetKey(["raw", "facebook", "post_comments"])
    sandbox = InProcessSandbox(persons=500, today=TODAY, span_days=30)
    results = ingest(environ, DAYS, selection=[key])
    skipped = 0
    for day, result in zip(DAYS, results, strict=True):
        assert result.success, day
        [materialization] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
        meta = materialization.materialization.metadata
        records, requests = meta["records"].value, meta["requests"].value
        assert records == len(_truth(sandbox, "facebook", day))
        expected = round(requests / records, 4) if records else None
        assert meta["requests_per_record"].value == expected
        assert meta["parents_listed"].value >= 1
        skipped += meta["parents_skipped"].value
        assert set(landed(tmp_path / "lake", "facebook/post_comments", day)["record_id"]) == _truth(
            sandbox, "facebook", day
        )
    assert skipped > 0
    lake = LocalLake(tmp_path / "lake")
    assert parent_state.load_states(lake, key.path)
    # The days' checkpoints (and their decisions) are gone once landed; the state stays.
    assert not [k for k in lake.list_keys("_checkpoints/raw/facebook/post_comments") if "/_parents/" not in k]


def test_an_unreadable_count_or_activity_means_the_parent_is_read():
    from cdp_platform.sources.facebook import POST_ACTIVITY
    from cdp_platform.sources.graph import _seen

    good = {
        "id": "1_2",
        "created_time": "2026-11-18T10:00:00+0000",
        "updated_time": "2026-11-19T10:00:00+0000",
        "comments": {"data": [], "summary": {"total_count": 3}},
    }
    seen = _seen(good, POST_ACTIVITY)
    assert seen.count == 3 and seen.activity == datetime.datetime(2026, 11, 19, 10, tzinfo=UTC)
    assert seen.created == datetime.datetime(2026, 11, 18, 10, tzinfo=UTC)
    assert _seen({**good, "updated_time": "19/11/2026"}, POST_ACTIVITY).count is None
    assert _seen({**good, "comments": {"data": []}}, POST_ACTIVITY).count is None
    # A count served as a string (type drift) is still the count.
    drifted = _seen({**good, "comments": {"summary": {"total_count": "3"}}}, POST_ACTIVITY)
    assert drifted.count == 3


def test_an_unreadable_state_reads_every_parent(tmp_path):
    lake = LocalLake(tmp_path)
    path = ("raw", "s", "comments")
    lake.write_bytes(parent_state.state_key(path), b"{not json")
    assert parent_state.load_states(lake, path) == {}


def test_a_range_run_advances_the_state_day_by_day(tmp_path):
    """A backfill fetches its days concurrently (no day can skip on another's unlanded state), then
    commits them in time order: the state reaches the range's end and the next day skips."""
    import dagster as dg

    from cdp_platform.definitions import build_definitions
    from cdp_platform.settings import load_settings
    from cdp_platform_tests.sources.support import sandbox_environ

    defs = build_definitions(
        load_settings(sandbox_environ(tmp_path, persons=500, span_days=30, partitions_start="2026-10-01"))
    )
    raw = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.is_executable and a.node_def.name.startswith("raw_")
    ]
    key = dg.AssetKey(["raw", "facebook", "post_comments"])
    first, last = DAYS[0], DAYS[-2]
    result = dg.materialize(
        raw,
        resources=defs.resources,
        selection=[key],
        raise_on_error=False,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success
    states = parent_state.load_states(LocalLake(tmp_path / "lake"), key.path)
    assert states and {s.through for s in states.values()} == {_window(last).end.isoformat()}
    after = dg.materialize(raw, resources=defs.resources, selection=[key], partition_key=DAYS[-1])
    [event] = after.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["parents_skipped"].value > 0
    assert meta["requests"].value == 1 + meta["parents_listed"].value - meta["parents_skipped"].value


def test_the_sandbox_posts_carry_updated_time_and_the_comments_summary(sandbox):
    """What the skip relies on, as the sandbox serves it: ``updated_time`` is the last comment (or
    the creation), ``total_count`` counts the replies with ``filter(stream)`` and not without."""
    from cdp_platform.sandbox.vendors.graph import comment_replies

    resource = _resource("facebook", sandbox)
    data = sandbox.data()

    async def run(fields: str):
        client = resource.client()
        try:
            ctx = StreamContext(client, _window(DAYS[-1]), resource.account_options())
            records, _ = await list_parents(ctx, ctx.options["page_id"], "posts", fields)
            return records
        finally:
            await client.aclose()

    stream_posts = asyncio.run(run(facebook.POST_ACTIVITY.fields))
    top_posts = asyncio.run(run("id,comments.limit(0).summary(true)"))
    assert stream_posts and len(stream_posts) == len(top_posts)
    top = {p["id"]: p["comments"]["summary"]["total_count"] for p in top_posts}
    for post in stream_posts:
        children = data.children("facebook/post_comments", post["id"])
        assert post["comments"]["summary"]["total_count"] == len(children)
        replies = comment_replies(data, "facebook/post_comments", post["id"])
        assert top[post["id"]] == len(children) - len(replies)
        last = data.modified_at("facebook/post_comments", children[-1]) if children else None
        expected = last.strftime("%Y-%m-%dT%H:%M:%S+0000") if last else post["created_time"]
        assert post["updated_time"] == expected >= post["created_time"]
    assert any(top[p["id"]] < p["comments"]["summary"]["total_count"] for p in stream_posts), (
        "no reply to tell apart"
    )
