"""Facebook comment replies: asked with ``filter=stream``, landed with their parent, cleansed with it.

Graph's comments edge answers top-level comments only by default; replies come only with
``filter=stream`` (issue 17: 4 of 10 comments of a recorded page were replies). The in-process
sandbox answers like Graph, so a stream that does not ask for the whole stream misses them.
"""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox import credentials as sandbox_credentials
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.vendors.graph import comment_replies
from cdp_platform.sources.facebook import STREAMS, FacebookResource
from cdp_platform.sources.facebook.cleansed.post_comments import ENTITY
from cdp_platform.sources.raw_assets import extract_stream
from cdp_platform.sources.stream import Window

TODAY = "2026-11-26"
DAYS = ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]


@pytest.fixture(scope="module")
def resource() -> FacebookResource:
    # A short history so a handful of days holds many comments.
    return FacebookResource(
        access_token=sandbox_credentials.FACEBOOK_ACCESS_TOKEN,
        server=InProcessSandbox(persons=2000, today=TODAY, span_days=20),
    )


def _comments(resource: FacebookResource, tmp_path, day: str):
    stream = next(s for s in STREAMS if s.name == "post_comments")
    start = datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC)
    window = Window(day, start, start + datetime.timedelta(days=1))

    async def run():
        client = resource.client()
        try:
            return await extract_stream(
                stream, client, window, resource.account_options(), LocalLake(tmp_path)
            )
        finally:
            await client.aclose()

    outcome = asyncio.run(run())
    assert outcome.error is None, outcome.error
    return outcome.rows


def test_replies_land_with_the_comment_they_answer(resource, tmp_path):
    data = resource.server.data()
    rows = [row for day in DAYS for row in _comments(resource, tmp_path / day, day).iter_rows(named=True)]
    payloads = [json.loads(row["payload"]) for row in rows]
    posts = {json.loads(row["payload"])["id"]: json.loads(row["context"])["post_id"] for row in rows}
    replies = [p for p in payloads if "parent" in p]
    assert replies, "no replies landed: the comments edge was asked without filter=stream"
    # Each reply names an earlier comment of the same post, the one the sandbox made it answer.
    for reply in replies:
        post_id = posts[reply["id"]]
        answered = comment_replies(data, "facebook/post_comments", post_id)
        children = data.children("facebook/post_comments", post_id)
        by_id = {data.record_id("facebook/post_comments", p): p for p in children}
        parent_position = answered[by_id[reply["id"]]]
        assert reply["parent"] == {"id": data.record_id("facebook/post_comments", parent_position)}
    # Every comment of those days landed, replies included (the ground truth has them all).
    expected = {
        data.record_id("facebook/post_comments", p)
        for day in DAYS
        for p in data.window(
            "facebook/post_comments",
            datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC),
            datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1),
        )
    }
    assert {p["id"] for p in payloads} == expected


def test_the_cleansed_comment_keeps_its_parent_comment_id(resource, tmp_path):
    day = DAYS[1]
    raw = _comments(resource, tmp_path, day)
    result = cleanse(raw, ENTITY, datetime.date.fromisoformat(day))
    clean = result.clean
    replies = clean.filter(clean["parent_comment_id"].is_not_null())
    assert replies.height > 0
    parents = {json.loads(p).get("parent", {}).get("id") for p in raw["payload"]} - {None}
    assert set(replies["parent_comment_id"]) == parents
    assert clean.filter(clean["parent_comment_id"].is_null()).height > 0  # top-level ones stay null
