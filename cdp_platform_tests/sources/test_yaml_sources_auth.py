"""The auth kinds a YAML source may name, through the resource class made from its file."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from cdp_platform.http import VendorClient
from cdp_platform.http.errors import declare_error_rules
from cdp_platform.http.pacing import Pacer
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform.sources.registry import configure
from cdp_platform.sources.stream import StreamContext, Window
from cdp_platform.sources.yaml_source import load_source_file
from cdp_platform.sources.yaml_source_runtime import first_request, parts

BASE = "https://api.test"


def _source(tmp_path: Path, auth: str, window: str = "{start_param: since, format: unix_millis}"):
    path = tmp_path / "acme.yaml"
    path.write_text(
        f"""source: acme
base_url: {BASE}
auth: {auth}
page_size: {{param: per_page, default: 50, max: 200}}
streams:
  - name: people
    endpoint: {{method: POST, path: /search}}
    body: {{object: people}}
    params: {{v: "2"}}
    record_path: results
    primary_key: id
    change_time_field: changed
    pagination: {{kind: single_page}}
    window: {window}
"""
    )
    return load_source_file(path)


def _client(resource, handler) -> VendorClient:
    # The client reads errors with the rules its source declares, as the raw assets' clients do.
    declare_error_rules("acme", resource.configured.declaration.errors)
    return VendorClient("acme", BASE, resource.auth(), Pacer("acme"), transport=httpx.MockTransport(handler))


def test_api_key_header_sends_the_key_in_the_named_header(tmp_path: Path) -> None:
    source = _source(tmp_path, "{kind: api_key_header, header: X-Acme-Key}")
    resource = parts(source).resource(base_url=BASE, api_key="key-4f1c")
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-acme-key"))
        return httpx.Response(200, json={"results": []})

    async def go() -> None:
        async with _client(resource, handler) as client:
            await client.request("GET", "/ping")

    asyncio.run(go())
    assert seen == ["key-4f1c"]
    assert resource.auth().secrets() == ["key-4f1c"]


def test_oauth2_refresh_token_renews_on_401_and_keeps_a_rotated_refresh_token(tmp_path: Path) -> None:
    source = _source(tmp_path, "{kind: oauth2_refresh_token, token_url: /oauth/token, scope: read}")
    resource = parts(source).resource(
        base_url=BASE, client_id="cid", client_secret="csecret", refresh_token="r1"
    )
    forms, calls = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            forms.append(form)
            n = len(forms)
            return httpx.Response(200, json={"access_token": f"t{n}", "refresh_token": f"r{n + 1}"})
        calls.append(request.headers["authorization"])
        # The first token expires after one call: RFC 6750's answer (the body as many APIs send it).
        if request.headers["authorization"] == "Bearer t1" and len(calls) > 1:
            return httpx.Response(
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                json={"error": "invalid_token", "error_description": "The access token expired"},
            )
        return httpx.Response(200, json={"ok": True})

    async def go() -> None:
        async with _client(resource, handler) as client:
            await client.request("GET", "/a")
            await client.request("GET", "/b")

    asyncio.run(go())
    assert [f["grant_type"] for f in forms] == ["refresh_token", "refresh_token"]
    assert [f["refresh_token"] for f in forms] == ["r1", "r2"]  # the rotated one is used next
    assert (
        forms[0]["client_id"] == "cid"
        and forms[0]["client_secret"] == "csecret"
        and forms[0]["scope"] == "read"
    )
    assert calls == ["Bearer t1", "Bearer t1", "Bearer t2"]


def test_the_first_request_puts_window_page_size_and_fixed_values_where_the_file_says(tmp_path: Path) -> None:
    source = _source(
        tmp_path, "{kind: bearer}", "{start_param: since, end_param: until, format: date, location: body}"
    )
    start = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
    window = Window("2026-11-20", start, start + datetime.timedelta(days=1))
    ctx = StreamContext(client=None, window=window, options={}, page_size=500)  # type: ignore[arg-type]
    spec = first_request(source.streams[0], source.page_size)(ctx)
    assert (spec.method, spec.url, dict(spec.params)) == ("POST", "/search", {"v": "2"})
    # A date window names its last day (inclusive); the page size is held to the file's max.
    assert spec.json == {"object": "people", "since": "2026-11-20", "until": "2026-11-20", "per_page": 200}

    millis = _source(tmp_path, "{kind: bearer}")
    spec = first_request(millis.streams[0], millis.page_size)(StreamContext(None, window, {}))  # type: ignore[arg-type]
    assert dict(spec.params) == {"v": "2", "since": 1795132800000, "per_page": 50}


def test_a_missing_credential_names_its_variable_and_the_yaml_section(tmp_path: Path) -> None:
    _source(tmp_path, "{kind: oauth2_client_credentials, token_url: 'https://auth.test/token'}")
    try:
        with pytest.raises(SettingsError) as caught:
            load_settings({"CDP_SOURCES_DIR": str(tmp_path), "CDP_ACME_CLIENT_ID": "cid"})
    finally:
        configure(None)
    assert str(caught.value) == (
        "CDP_ACME_CLIENT_SECRET is not set: set it to the OAuth client's secret "
        "(see README, 'Declaring a source in YAML')."
    )
