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
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from cdp_platform.sandbox import credentials as sandbox_credentials
from cdp_platform.sandbox import in_process
from cdp_platform_tests.contracts.recordings import HERE, cassette

CONFIG = in_process.sandbox_config(2000, 7, datetime.date(2026, 11, 26), 60)


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


def drift(recorded: Any, emulated: Any, keep: Callable[[str], bool] = lambda path: True) -> list[str]:
    """What the sandbox lacks or types differently; a vendor's null is matched by any type.

    ``keep`` limits the comparison to the vendor's own keys where a recording's records carry
    field names of the recording account's schema (Salesforce custom objects)."""
    ours = shape(emulated)
    problems = []
    for path, types in sorted(shape(recorded).items()):
        if not keep(path):
            continue
        if path not in ours:
            problems.append(f"{path} missing")
        elif types - {"null"} and not (types - {"null"}) & ours[path]:
            problems.append(f"{path} is {sorted(types)} at the vendor, {sorted(ours[path])} in the sandbox")
    return problems


def sandbox_answer(
    source: str,
    path: str,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    data: dict[str, str] | None = None,
    body: Any = None,
    status: int = 200,
) -> Any:
    app, _ = in_process.sandbox_app(CONFIG, "none")

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=in_process.SANDBOX_ROOT
        ) as client:
            return await client.request(
                method,
                f"/{in_process.SANDBOX_PREFIX[source]}{path}",
                params=params,
                headers=headers,
                data=data,
                json=body,
            )

    response = asyncio.run(send())
    assert response.status_code == status, response.text
    return response.json()


def _sandbox_data():
    return in_process.sandbox_app(CONFIG, "none")[1]


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


# ---- Salesforce ------------------------------------------------------------------------------------

SALESFORCE = HERE / "salesforce"
# Keys Salesforce itself defines; the rest of a saved record is the account's own schema.
SALESFORCE_KEYS = {"totalSize", "done", "nextRecordsUrl", "records", "attributes", "type", "url", "Account"}


def salesforce_keys(path: str) -> bool:
    return all(step.removesuffix("[]") in SALESFORCE_KEYS for step in path.split(".")[1:])


def _salesforce_saved(name: str) -> Any:
    # The saved answer's parent lookup stands for the sandbox's Contact → Account lookup.
    return json.loads((SALESFORCE / name).read_text().replace("ParentWhizbang__r", "Account"))


def _salesforce_token() -> dict:
    return sandbox_answer(
        "salesforce",
        "/services/oauth2/token",
        method="POST",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox_credentials.SALESFORCE_CLIENT_ID,
            "client_secret": sandbox_credentials.SALESFORCE_CLIENT_SECRET,
            "refresh_token": sandbox_credentials.SALESFORCE_REFRESH_TOKEN,
        },
    )


def _salesforce_query(soql: str, status: int = 200) -> Any:
    token = _salesforce_token()["access_token"]
    return sandbox_answer(
        "salesforce",
        "/services/data/v62.0/query",
        {"q": soql},
        {"Authorization": f"Bearer {token}", "Sforce-Query-Options": "batchSize=200"},
        status=status,
    )


def test_salesforce_token_answer_shape_matches():
    assert (
        drift(json.loads((SALESFORCE / "auth_success_response.json").read_bytes()), _salesforce_token()) == []
    )


def test_salesforce_token_error_shape_matches():
    saved = json.loads((SALESFORCE / "refresh_error_response.json").read_bytes())
    emulated = sandbox_answer(
        "salesforce",
        "/services/oauth2/token",
        method="POST",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox_credentials.SALESFORCE_CLIENT_ID,
            "client_secret": sandbox_credentials.SALESFORCE_CLIENT_SECRET,
            "refresh_token": "a-refresh-token-salesforce-never-issued",
        },
        status=400,
    )
    assert drift(saved, emulated) == [] and emulated["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "saved",
    [
        "query_paginated_first_page_response.json",
        "query_paginated_last_page_response.json",
        "query_success_response.json",
    ],
)
def test_salesforce_query_envelope_records_and_parent_lookup_shape_match(saved):
    emulated = _salesforce_query(
        "SELECT Id, Name, Account.Name FROM Contact WHERE SystemModstamp >= 2020-01-01T00:00:00Z"
    )
    if saved == "query_paginated_last_page_response.json":  # the sandbox's last page, followed to it
        token = _salesforce_token()["access_token"]
        while not emulated["done"]:
            emulated = sandbox_answer(
                "salesforce",
                emulated["nextRecordsUrl"].removeprefix("/salesforce"),
                headers={"Authorization": f"Bearer {token}"},
            )
    assert drift(_salesforce_saved(saved), emulated, salesforce_keys) == []


def test_salesforce_parent_lookup_puts_attributes_after_its_fields_like_the_saved_answer():
    saved = json.loads((SALESFORCE / "query_success_response.json").read_bytes())
    assert list(saved["records"][0]["ParentWhizbang__r"])[-1] == "attributes"
    emulated = _salesforce_query(
        "SELECT Id, Account.Name FROM Contact WHERE SystemModstamp >= 2020-01-01T00:00:00Z"
    )
    lookups = [r["Account"] for r in emulated["records"] if r["Account"] is not None]
    assert lookups and all(list(lookup) == ["Name", "attributes"] for lookup in lookups)


def test_salesforce_error_array_shape_matches():
    saved = json.loads((SALESFORCE / "query_error_response.json").read_bytes())
    assert drift(saved, _salesforce_query("SELECT Id, NoSuchField__c FROM Contact", status=400)) == []


# ---- Graph (Facebook, Instagram) ---------------------------------------------------------------------

GRAPH_ENVELOPE = {"data", "paging", "cursors", "before", "after", "next", "previous"}


def graph_keys(fields: str):
    """The envelope and the fields the platform asks for: a recording made with other fields (or
    ``summary=1``) is compared only where the platform's own request reaches."""
    wanted = GRAPH_ENVELOPE | set(fields.replace("{", ",").replace("}", "").split(","))
    return lambda path: all(step.removesuffix("[]") in wanted for step in path.split(".")[1:])


def _graph_answer(source: str, node: str, edge: str, fields: str, **params: str) -> Any:
    token = {"access_token": sandbox_credentials.FACEBOOK_ACCESS_TOKEN}
    return sandbox_answer(
        source, f"/v21.0/{node}/{edge}", {"fields": fields, "limit": "2", **params, **token}
    )


def _busiest(stream: str) -> str:
    """The parent with the most comments, so the sandbox's answer has a next page."""
    data = _sandbox_data()
    parents = {
        data.record(stream, p)["post_id" if stream.startswith("facebook") else "media_id"]
        for p in data.all_positions(stream)
    }
    return max(parents, key=lambda parent: len(data.children(stream, parent)))


@pytest.mark.parametrize("page", ["comments_comments_p1.json", "comments_comments_p2.json"])
def test_facebook_comments_shape_matches_the_recording(page):
    from cdp_platform.sources.facebook import COMMENT_FIELDS

    recorded = json.loads((HERE / "facebook" / page).read_bytes())
    post = _busiest("facebook/post_comments")
    emulated = _graph_answer("facebook", post, "comments", COMMENT_FIELDS, filter="stream")
    assert "next" in emulated["paging"]
    if page.endswith("p2.json"):
        emulated = _second_page("facebook", emulated)
    assert drift(recorded, emulated, graph_keys(COMMENT_FIELDS)) == []


def _second_page(source: str, first: Any) -> Any:
    """The sandbox's answer to its own ``paging.next``, as the recorded page 2 answered page 1's."""
    url = httpx.URL(first["paging"]["next"])
    return sandbox_answer(source, url.path.removeprefix(f"/{source}"), dict(url.params))


@pytest.mark.parametrize("page", ["users_medias_p1.json", "users_medias_p2.json"])
def test_instagram_media_shape_matches_the_recording(page):
    from cdp_platform.sources.instagram import MEDIA_FIELDS

    recorded = json.loads((HERE / "instagram" / page).read_bytes())
    emulated = _graph_answer("instagram", str(_sandbox_data().instagram_user_id), "media", MEDIA_FIELDS)
    if page.endswith("p2.json"):
        emulated = _second_page("instagram", emulated)
    assert drift(recorded, emulated, graph_keys(MEDIA_FIELDS)) == []


@pytest.mark.parametrize("page", ["medias_comments_p1.json", "medias_comments_p2.json"])
def test_instagram_comments_shape_matches_the_recording(page):
    from cdp_platform.sources.instagram import COMMENT_FIELDS

    recorded = json.loads((HERE / "instagram" / page).read_bytes())
    emulated = _graph_answer("instagram", _busiest("instagram/media_comments"), "comments", COMMENT_FIELDS)
    if page.endswith("p2.json"):
        emulated = _second_page("instagram", emulated)
    assert drift(recorded, emulated, graph_keys(COMMENT_FIELDS)) == []


@pytest.mark.parametrize("recorded", ["error.json", "base_error_data.json"])
def test_graph_error_shape_matches_the_recording(recorded):
    saved_error = json.loads((HERE / "facebook" / recorded).read_bytes())
    emulated = sandbox_answer(
        "facebook",
        "/v21.0/no-such-node/comments",
        {"access_token": sandbox_credentials.FACEBOOK_ACCESS_TOKEN},
        status=400,
    )
    assert drift(saved_error, emulated) == []


# ---- HubSpot and GA4: documented example bodies (no recordings) -------------------------------------


def test_hubspot_search_shape_matches_the_documented_example():
    documented = json.loads((HERE / "hubspot" / "search_contacts_example.json").read_bytes())
    properties = list(documented["results"][0]["properties"])
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": 1,
    }
    answer = sandbox_answer(
        "hubspot",
        "/crm/v3/objects/contacts/search",
        headers={"Authorization": f"Bearer {sandbox_credentials.HUBSPOT_PRIVATE_APP_TOKEN}"},
        method="POST",
        body=body,
    )
    assert drift(documented, answer) == []


def test_ga4_run_report_shape_matches_the_documented_body():
    documented = json.loads((HERE / "google_analytics" / "run_report_example.json").read_bytes())
    data = _sandbox_data()
    body = {
        "dimensions": [{"name": "date"}, {"name": "sessionSourceMedium"}],
        "metrics": [{"name": "sessions"}],
        "dateRanges": [{"startDate": "2026-11-20", "endDate": "2026-11-20"}],
        "limit": "5",
        "returnPropertyQuota": True,
    }

    answer = sandbox_answer(
        "google_analytics",
        f"/v1beta/properties/{data.ga4_property_id}:runReport",
        headers={"Authorization": f"Bearer {sandbox_credentials.GA4_ACCESS_TOKEN}"},
        method="POST",
        body=body,
    )
    assert drift(documented, answer) == []
