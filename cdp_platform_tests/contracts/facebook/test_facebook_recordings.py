"""Facebook Graph recorded answers (pyfacebook's testdata) through the platform's own client,
auth (appsecret_proof), paginator and error classification."""

from __future__ import annotations

import datetime
import json

import httpx
import pytest

from cdp_platform.http import VendorError
from cdp_platform.sources.facebook import COMMENT_FIELDS, COMMENT_PARAMS, STREAMS
from cdp_platform.sources.graph import edge_request
from cdp_platform.sources.graph_auth import GraphTokenAuth, appsecret_proof
from cdp_platform_tests.contracts.recordings import HERE, day_window, land_pages, saved, served
from cdp_platform_tests.support.pacers import declared_pacer

RECORDED = HERE / "facebook"
POST = "19292868552_10158407654328553"
COMMENTS = next(s for s in STREAMS if s.name == "post_comments")
START = datetime.datetime(2021, 8, 10, tzinfo=datetime.UTC)
TOKEN = "page-token-of-the-test"
APP_SECRET = "app-secret-of-the-test"


def run_graph(answer):
    """The comments of the recorded post, asked as the stream asks them, signed with the app secret."""
    api = served(
        "facebook",
        "https://graph.facebook.com",
        GraphTokenAuth(TOKEN, app_secret=APP_SECRET),
        declared_pacer("facebook"),
        answer,
    )
    landed = land_pages(api.client, COMMENTS, day_window("2021-08-10"), _first(), POST)
    return landed.result, api.seen, landed.rows, landed.pages


def _first():
    return edge_request(
        POST, "comments", COMMENT_FIELDS, START, START + datetime.timedelta(days=7), 10, COMMENT_PARAMS
    )


def _pages(request: httpx.Request) -> httpx.Response:
    after = request.url.params.get("after")
    return saved(RECORDED / ("comments_comments_p2.json" if after else "comments_comments_p1.json"))


def test_recorded_comment_pages_are_followed_with_replies_asked_for_and_proof_on_every_call():
    result, seen, _, pages = run_graph(_pages)
    first, second = seen
    # Replies are asked for (the recorded page was asked the same way, and 4 of its 10 are replies).
    assert first.url.params["filter"] == "stream" and "parent{id}" in first.url.params["fields"]
    body = json.loads((RECORDED / "comments_comments_p1.json").read_bytes())
    assert sum("reply_comment_id" in c["permalink_url"] for c in body["data"]) == 4
    assert body["summary"]["total_count"] == 18
    # paging.next is followed as given; our token and its proof replace the recorded placeholder.
    assert second.url.path == f"/v11.0/{POST}/comments" and second.url.params["after"] == "after"
    assert second.url.params["filter"] == "stream"
    for request in seen:
        assert request.url.params["access_token"] == TOKEN
        assert request.url.params["appsecret_proof"] == appsecret_proof(TOKEN, APP_SECRET)
    # The last page has paging.previous and no next: the stream ends there, complete.
    assert result.complete and result.pages == 2
    # pyfacebook's files hold no comment ids: every comment is a named dead letter, none dropped silently.
    letters = [letter for page in pages for letter in page.dead_letters]
    assert len(letters) == 15 and {letter.error for letter in letters} == {"record has no id"}
    assert json.loads(letters[0].body)["created_time"] == "2021-08-10T18:45:03+0000"


@pytest.mark.parametrize(
    ("recorded", "words"),
    [
        ("error.json", "requires either app secret proof or an app token"),
        ("base_error_data.json", "requires the 'pages_read_engagement' permission"),
    ],
)
def test_recorded_permission_errors_fail_at_once_with_code_and_message(recorded, words):
    def answer(request: httpx.Request) -> httpx.Response:
        return saved(RECORDED / recorded, status=400)

    with pytest.raises(VendorError) as raised:
        run_graph(answer)
    error = raised.value
    assert error.status == 400 and error.code == "100" and words in error.message
    assert not error.info.retryable and error.attempts == 1
    assert TOKEN not in str(error) and appsecret_proof(TOKEN, APP_SECRET) not in str(error)
