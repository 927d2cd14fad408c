"""The sandbox may not drift from what it emulates: every key a recorded vendor answer holds must
be in the sandbox's answer to the same request, with the same JSON type (the sandbox may add keys).

Each recording is walked into ``path → JSON types`` (list items under ``[]``) and compared with the
in-process sandbox's answer to the recorded request (the recorded account id swapped for the
sandbox's own).
"""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from cdp_platform.sandbox import credentials as sandbox_credentials
from cdp_platform.sources import sandbox_link
from cdp_platform_tests.contracts.recordings import HERE, cassette

CONFIG = sandbox_link.sandbox_config(400, 7, datetime.date(2026, 11, 26), 60)


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array", type(None): "null"}[type(value)]


def shape(value: Any, path: str = "$", into: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Every path in ``value`` with the JSON types seen there."""
    into = {} if into is None else into
    into.setdefault(path, set()).add(json_type(value))
    if isinstance(value, dict):
        for key, item in value.items():
            shape(item, f"{path}.{key}", into)
    elif isinstance(value, list):
        for item in value:
            shape(item, f"{path}[]", into)
    return into


def drift(recorded: Any, emulated: Any) -> list[str]:
    """What the sandbox lacks or types differently; a vendor's null is matched by any type."""
    ours = shape(emulated)
    problems = []
    for path, types in sorted(shape(recorded).items()):
        if path not in ours:
            problems.append(f"{path} missing")
        elif types - {"null"} and not (types - {"null"}) & ours[path]:
            problems.append(f"{path} is {sorted(types)} at the vendor, {sorted(ours[path])} in the sandbox")
    return problems


def sandbox_answer(source: str, path: str, params: dict[str, str], headers: dict[str, str]) -> Any:
    app, _ = sandbox_link.sandbox_app(CONFIG, "none")

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=sandbox_link.SANDBOX_ROOT
        ) as client:
            return await client.get(
                f"/{sandbox_link.SANDBOX_PREFIX[source]}{path}", params=params, headers=headers
            )

    response = asyncio.run(get())
    assert response.status_code == 200, response.text
    return response.json()


def _sandbox_data():
    return sandbox_link.sandbox_app(CONFIG, "none")[1]


TWITTER = {"Authorization": f"Bearer {sandbox_credentials.TWITTER_BEARER_TOKEN}"}


def test_twitter_mentions_shape_matches_the_recording():
    recording = cassette(HERE / "twitter" / "test_client_get_users_mentions.yaml")[0]
    recorded = json.loads(recording.body)
    query = dict(httpx.URL(recording.url).params)
    path = urlsplit(recording.url).path.replace("783214", str(_sandbox_data().twitter_user_id))
    emulated = sandbox_answer("twitter", path, {**query, "max_results": "10"}, TWITTER)
    assert drift(recorded, emulated) == []


def test_twitter_users_shape_matches_the_recorded_user_objects():
    """The recorded retweeters are user objects as ``includes.users`` carries them."""
    users = [
        u
        for r in cassette(HERE / "twitter" / "test_asyncclient_get_retweeters.yaml")
        for u in json.loads(r.body).get("data", [])
    ]
    path = f"/2/users/{_sandbox_data().twitter_user_id}/mentions"
    emulated = sandbox_answer("twitter", path, {"expansions": "author_id", "max_results": "10"}, TWITTER)
    assert drift({"users": users}, {"users": emulated["includes"]["users"]}) == []


@pytest.mark.parametrize(
    ("recorded", "emulated", "problem"),
    [
        ({"meta": {"next_token": "a"}}, {"meta": {}}, "$.meta.next_token missing"),
        (
            {"data": [{"id": "1"}]},
            {"data": [{"id": 1}]},
            "$.data[].id is ['string'] at the vendor, ['number'] in the sandbox",
        ),
    ],
)
def test_the_shape_check_fails_on_a_missing_key_or_another_type(recorded, emulated, problem):
    assert drift(recorded, emulated) == [problem]
    assert drift(recorded, {**emulated, **recorded, "extra": True}) == []
