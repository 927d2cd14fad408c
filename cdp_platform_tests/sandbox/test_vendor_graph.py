"""Facebook and Instagram Graph emulation against API_FACTS: edges, filters, paging, usage, errors, tokens."""

from __future__ import annotations

import datetime
import json
import re

import pytest

from cdp_platform.sandbox import credentials as creds
from cdp_platform.sandbox.credentials import SandboxCredentials
from cdp_platform.sandbox.ratelimit import RateLimitSettings
from cdp_platform_tests.sandbox.conftest import GRAPH

pytestmark = pytest.mark.anyio
UTC = datetime.UTC
GRAPH_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$")


async def collect(client, url, params, headers=GRAPH):
    """Follow ``paging.next`` as given until it is absent; return (records, pages)."""
    records, pages = [], []
    response = await client.get(url, params=params, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        records += body["data"]
        nxt = body.get("paging", {}).get("next")
        if nxt is None:
            return records, pages
        response = await client.get(nxt, headers=headers)


def unix(moment: datetime.datetime) -> int:
    return int(moment.timestamp())


async def test_leads_with_time_filtering_newest_first(client, data):
    start, end = datetime.datetime(2026, 8, 1, tzinfo=UTC), datetime.datetime(2026, 11, 1, tzinfo=UTC)
    filtering = json.dumps(
        [
            {"field": "time_created", "operator": "GREATER_THAN", "value": unix(start) - 1},
            {"field": "time_created", "operator": "LESS_THAN", "value": unix(end)},
        ]
    )
    form = data.facebook_lead_form_ids[0]
    records, pages = await collect(
        client,
        f"/facebook/v21.0/{form}/leads",
        {"fields": "id,created_time,ad_id,form_id,field_data", "filtering": filtering, "limit": "25"},
    )
    expected = data.window("facebook/leads", start, end)
    assert [r["id"] for r in records] == [data.record_id("facebook/leads", p) for p in reversed(expected)]
    assert len(pages) == -(-len(expected) // 25)
    assert "next" not in pages[-1]["paging"] and set(pages[-1]["paging"]["cursors"]) == {"before", "after"}
    lead = records[0]
    assert list(lead) == ["id", "created_time", "ad_id", "form_id", "field_data"]
    assert GRAPH_TIME.match(lead["created_time"]) and lead["form_id"] == form
    assert {f["name"] for f in lead["field_data"]} >= {"email", "full_name"}
    assert all(isinstance(f["values"], list) for f in lead["field_data"])


async def test_since_until_on_posts_and_default_fields(client, data):
    start, end = datetime.datetime(2026, 10, 1, tzinfo=UTC), datetime.datetime(2026, 11, 1, tzinfo=UTC)
    records, _ = await collect(
        client,
        f"/facebook/v21.0/{data.facebook_page_id}/posts",
        {"since": str(unix(start)), "until": str(unix(end))},
    )
    expected = data.window("facebook/page_posts", start, end)
    assert [r["id"] for r in records] == [
        data.record_id("facebook/page_posts", p) for p in reversed(expected)
    ]
    assert set(records[0]) == {"created_time", "message", "id"}


async def test_post_comments_with_fields_and_since(client, data):
    positions = data.all_positions("facebook/post_comments")
    comment = data.record("facebook/post_comments", positions[len(positions) // 2])
    post_id = comment["post_id"]
    everything, _ = await collect(
        client,
        f"/facebook/v21.0/{post_id}/comments",
        {"fields": "id,message,created_time,from", "access_token": creds.FACEBOOK_ACCESS_TOKEN},
        headers={},
    )
    assert comment["id"] in {c["id"] for c in everything}
    assert all(set(c) == {"id", "message", "created_time", "from"} for c in everything)
    times = [c["created_time"] for c in everything]
    assert times == sorted(times)
    since = datetime.datetime.strptime(comment["created_time"], "%Y-%m-%dT%H:%M:%S%z")
    later, _ = await collect(client, f"/facebook/v21.0/{post_id}/comments", {"since": str(unix(since))})
    assert [c["id"] for c in later] == [
        c["id"] for c in everything if c["created_time"] >= comment["created_time"]
    ]


async def test_replies_come_only_with_filter_stream_and_name_their_parent(client, data):
    """Graph's comments edge: top-level comments by default, replies too with ``filter=stream``."""
    positions = data.all_positions("facebook/post_comments")
    posts = {data.record("facebook/post_comments", p)["post_id"] for p in positions[::7]}
    post_id = max(posts, key=lambda post: len(data.children("facebook/post_comments", post)))
    url = f"/facebook/v21.0/{post_id}/comments"
    top_level, _ = await collect(client, url, {"fields": "id,message,created_time,from,parent"})
    stream, _ = await collect(
        client, url, {"fields": "id,message,created_time,from,parent", "filter": "stream"}
    )
    replies = [c for c in stream if "parent" in c]
    assert replies and not any("parent" in c for c in top_level)
    assert {c["id"] for c in stream} == {c["id"] for c in top_level} | {c["id"] for c in replies}
    by_id = {c["id"]: c for c in stream}
    for reply in replies:
        parent = by_id[reply["parent"]["id"]]
        # One level deep, the parent's default fields, and earlier than the reply.
        assert "parent" not in parent and set(reply["parent"]) == {"created_time", "from", "message", "id"}
        assert parent["created_time"] <= reply["created_time"]
    only_ids, _ = await collect(client, url, {"fields": "id,parent{id}", "filter": "stream"})
    assert [c["parent"] for c in only_ids if "parent" in c] == [{"id": r["parent"]["id"]} for r in replies]
    response = await client.get(url, params={"filter": "everything"}, headers=GRAPH)
    assert response.status_code == 400 and response.json()["error"]["code"] == 100


async def test_instagram_media_and_comments(client, data):
    media, _ = await collect(
        client,
        f"/instagram/v21.0/{data.instagram_user_id}/media",
        {"fields": "id,caption,media_type,permalink,timestamp,like_count,comments_count", "limit": "100"},
    )
    assert len(media) == len(data.all_positions("instagram/media"))
    assert isinstance(media[0]["like_count"], int) and GRAPH_TIME.match(media[0]["timestamp"])
    with_comments = next(m for m in media if m["comments_count"] > 0)
    comments, _ = await collect(
        client,
        f"/instagram/v21.0/{with_comments['id']}/comments",
        {"fields": "id,text,timestamp,username,like_count"},
    )
    assert comments and all("media_id" not in c for c in comments)
    assert set(comments[0]) == {"id", "text", "timestamp", "username", "like_count"}


async def test_empty_edge_has_no_paging(client, data):
    body = (
        await client.get(
            f"/facebook/v21.0/{data.facebook_page_id}/posts",
            params={"since": "1000", "until": "2000"},
            headers=GRAPH,
        )
    ).json()
    assert body == {"data": []}


async def test_graph_errors(client, data):
    missing = await client.get(f"/facebook/v21.0/{data.facebook_page_id}/posts")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 104
    wrong = await client.get(
        f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"access_token": "EAAwrong"}
    )
    error = wrong.json()["error"]
    assert wrong.status_code == 400 and error["code"] == 190 and error["type"] == "OAuthException"
    assert set(error) >= {"message", "type", "code", "fbtrace_id"} and "EAAwrong" not in wrong.text
    bad_field = await client.get(
        f"/facebook/v21.0/{data.facebook_page_id}/posts", params={"fields": "id,shoe"}, headers=GRAPH
    )
    assert bad_field.status_code == 400 and bad_field.json()["error"]["code"] == 100
    unknown = await client.get("/facebook/v21.0/424242/leads", headers=GRAPH)
    assert unknown.status_code == 400 and unknown.json()["error"]["error_subcode"] == 33


async def test_token_exchange_recovers_from_an_expired_token(make_client, clock, data):
    async with make_client(credentials=SandboxCredentials(facebook_exchanged_token_seconds=100)) as client:
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": creds.FACEBOOK_APP_ID,
            "client_secret": creds.FACEBOOK_APP_SECRET,
            "fb_exchange_token": creds.FACEBOOK_ACCESS_TOKEN,
        }
        first = (await client.get("/facebook/v21.0/oauth/access_token", params=params)).json()
        assert first["token_type"] == "bearer" and first["expires_in"] == 100
        url = f"/facebook/v21.0/{data.facebook_page_id}/posts"
        assert (await client.get(url, params={"access_token": first["access_token"]})).status_code == 200
        clock.advance(101)
        expired = await client.get(url, params={"access_token": first["access_token"]})
        assert expired.status_code == 400 and expired.json()["error"]["code"] == 190
        assert expired.json()["error"]["error_subcode"] == 463
        renewed = (
            await client.get(
                "/facebook/v21.0/oauth/access_token",
                params={**params, "fb_exchange_token": first["access_token"]},
            )
        ).json()
        assert (await client.get(url, params={"access_token": renewed["access_token"]})).status_code == 200
        bad_secret = await client.get(
            "/facebook/v21.0/oauth/access_token", params={**params, "client_secret": "x"}
        )
        assert bad_secret.status_code == 400 and bad_secret.json()["error"]["type"] == "OAuthException"


async def test_usage_headers_rise_and_throttle_at_100_percent(make_client, clock, data):
    settings = RateLimitSettings(facebook_app_calls_per_hour=1000, facebook_object_calls_per_hour=10)
    async with make_client(rate_limits=settings) as client:
        url = f"/facebook/v21.0/{data.facebook_page_id}/posts"
        page_usage = []
        for _ in range(10):
            response = await client.get(url, headers=GRAPH)
            assert response.status_code == 200
            app_usage = json.loads(response.headers["X-App-Usage"])
            assert set(app_usage) == {"call_count", "total_cputime", "total_time"}
            buc = json.loads(response.headers["X-Business-Use-Case-Usage"])[data.facebook_page_id][0]
            assert buc["type"] == "pages" and "estimated_time_to_regain_access" in buc
            page_usage.append(buc["call_count"])
        assert page_usage == [10 * i for i in range(1, 11)]
        throttled = await client.get(url, headers=GRAPH)
        error = throttled.json()["error"]
        assert error["code"] == 32 and error["is_transient"] is True
        buc = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[data.facebook_page_id][0]
        assert buc["call_count"] == 100 and buc["estimated_time_to_regain_access"] == 60
        ig = await client.get(f"/instagram/v21.0/{data.instagram_user_id}/media", headers=GRAPH)
        assert ig.status_code == 200  # a different business object has its own budget
        clock.advance(3600)
        assert (await client.get(url, headers=GRAPH)).status_code == 200


async def test_app_usage_throttles_with_code_4(make_client, data):
    async with make_client(rate_limits=RateLimitSettings(facebook_app_calls_per_hour=3)) as client:
        url = f"/facebook/v21.0/{data.facebook_page_id}/posts"
        statuses = [(await client.get(url, headers=GRAPH)).status_code for _ in range(3)]
        throttled = await client.get(url, headers=GRAPH)
        assert statuses == [200, 200, 200]
        assert throttled.json()["error"]["code"] == 4
        assert json.loads(throttled.headers["X-App-Usage"])["call_count"] == 100


async def test_instagram_media_since_until(client, data):
    start, end = datetime.datetime(2026, 5, 1, tzinfo=UTC), datetime.datetime(2026, 9, 1, tzinfo=UTC)
    media, _ = await collect(
        client,
        f"/instagram/v21.0/{data.instagram_user_id}/media",
        {"since": "2026-05-01T00:00:00+0000", "until": str(unix(end)), "fields": "id,timestamp"},
    )
    expected = data.window("instagram/media", start, end)
    assert [m["id"] for m in media] == [data.record_id("instagram/media", p) for p in reversed(expected)]


async def test_appsecret_proof_is_checked_and_can_be_required(make_client, data):
    """Graph's "Require App Secret": no proof → code 100; a wrong proof → code 100; the right one
    (HMAC-SHA256 of the token keyed with the app secret) → 200."""
    from cdp_platform.sources.graph_auth import appsecret_proof

    url = f"/facebook/v21.0/{data.facebook_page_id}/posts"
    token = creds.FACEBOOK_ACCESS_TOKEN
    good = appsecret_proof(token, creds.FACEBOOK_APP_SECRET)
    async with make_client(credentials=SandboxCredentials(facebook_require_appsecret_proof=True)) as client:
        refused = await client.get(url, params={"access_token": token})
        wrong = await client.get(url, params={"access_token": token, "appsecret_proof": "0" * 64})
        right = await client.get(url, params={"access_token": token, "appsecret_proof": good})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 100
    assert "appsecret_proof" in refused.json()["error"]["message"]
    assert wrong.status_code == 400 and wrong.json()["error"]["message"].startswith("Invalid appsecret_proof")
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("missing", "path", "code"),
    [
        ("pages_read_engagement", "/facebook/v21.0/{page}/posts", 100),
        ("leads_retrieval", "/facebook/v21.0/{form}/leads", 200),
        ("instagram_basic", "/instagram/v21.0/{ig}/media", 10),
    ],
)
async def test_a_token_without_a_permission_gets_graphs_permission_error(
    make_client, data, missing, path, code
):
    everything = {"pages_read_engagement", "leads_retrieval", "instagram_basic", "instagram_manage_comments"}
    url = path.format(
        page=data.facebook_page_id, form=data.facebook_lead_form_ids[0], ig=data.instagram_user_id
    )
    credentials = SandboxCredentials(facebook_permissions=frozenset(everything - {missing}))
    async with make_client(credentials=credentials) as client:
        refused = await client.get(url, params={"access_token": creds.FACEBOOK_ACCESS_TOKEN})
    async with make_client(
        credentials=SandboxCredentials(facebook_permissions=frozenset(everything))
    ) as client:
        allowed = await client.get(url, params={"access_token": creds.FACEBOOK_ACCESS_TOKEN})
    error = refused.json()["error"]
    assert refused.status_code in (400, 403) and error["code"] == code and error["type"] == "OAuthException"
    assert error["message"].startswith(f"(#{code})") and error["fbtrace_id"]
    assert allowed.status_code == 200


def test_a_field_without_a_value_is_left_out_as_graph_does():
    from cdp_platform.sandbox.vendors.graph import _project

    medium = {"id": "1", "caption": "", "media_type": "IMAGE", "like_count": 0}
    assert _project(medium, ["id", "caption", "media_type", "like_count"]) == {
        "id": "1",
        "media_type": "IMAGE",
        "like_count": 0,
    }
