"""Credentials: Salesforce OAuth with instance_url and session refresh, Facebook 190 exchange."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import BearerAuth, CircuitBreaker, ExpiredCredentials, Pacer, VendorClient, VendorError
from cdp_platform.sources.graph_auth import GraphTokenAuth
from cdp_platform.sources.salesforce.auth import SalesforceOAuth

from .conftest import SleepRecorder


def make_client(app, vendor, base, auth):
    return VendorClient(
        vendor,
        base,
        auth=auth,
        pacer=Pacer(vendor),
        transport=httpx.ASGITransport(app=app),
        breaker=CircuitBreaker(vendor),
        sleep=SleepRecorder(),
    )


def salesforce_app():
    state = {"issued": 0, "valid": None, "forms": [], "queries": 0}

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))  # no python-multipart needed
        state["forms"].append(form)
        if form.get("client_secret") != "sf-client-secret":
            return JSONResponse(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status_code=400,
            )
        state["issued"] += 1
        state["valid"] = f"00Dxx!token{state['issued']}"
        return JSONResponse(
            {
                "access_token": state["valid"],
                "instance_url": "http://sf.test/instance",
                "id": "x",
                "token_type": "Bearer",
                "issued_at": "1800000000000",
                "signature": "s",
            }
        )

    async def query(request: Request) -> Response:
        state["queries"] += 1
        if request.headers.get("authorization") != f"Bearer {state['valid']}":
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                status_code=401,
            )
        return JSONResponse(
            {"totalSize": 0, "done": True, "records": []}, headers={"Sforce-Limit-Info": "api-usage=18/5000"}
        )

    routes = [
        Route("/login/services/oauth2/token", token, methods=["POST"]),
        Route("/instance/services/data/v62.0/query", query),
    ]
    return Starlette(routes=routes), state


def test_salesforce_token_sets_the_instance_base_and_refreshes_once_on_invalid_session():
    app, state = salesforce_app()
    auth = SalesforceOAuth(
        "http://sf.test/login", "client-id", "sf-client-secret", refresh_token="sf-refresh-tok"
    )

    async def run():
        async with make_client(app, "salesforce", "http://sf.test/login", auth) as client:
            first = await client.request(
                "GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM Lead"}
            )
            assert client.base_url == "http://sf.test/instance"
            state["valid"] = "rotated-elsewhere"  # the session expires server-side
            second = await client.request(
                "GET", "/services/data/v62.0/query", params={"q": "SELECT Id FROM Lead"}
            )
            return first, second

    first, second = asyncio.run(run())
    assert first.status_code == second.status_code == 200
    assert state["issued"] == 2 and auth.token_requests == 2
    assert state["forms"][0] == {
        "client_id": "client-id",
        "client_secret": "sf-client-secret",
        "grant_type": "refresh_token",
        "refresh_token": "sf-refresh-tok",
    }
    assert state["queries"] == 3  # ok, 401, ok after refresh


def test_salesforce_concurrent_401s_refresh_the_token_once():
    app, state = salesforce_app()
    auth = SalesforceOAuth(
        "http://sf.test/login", "client-id", "sf-client-secret", refresh_token="sf-refresh-tok"
    )

    async def run():
        async with make_client(app, "salesforce", "http://sf.test/login", auth) as client:
            await client.request("GET", "/services/data/v62.0/query")
            state["valid"] = "expired"
            await asyncio.gather(*(client.request("GET", "/services/data/v62.0/query") for _ in range(5)))

    asyncio.run(run())
    assert state["issued"] == 2


def test_salesforce_bad_client_secret_fails_with_the_oauth_message_and_no_secret():
    app, _ = salesforce_app()
    auth = SalesforceOAuth(
        "http://sf.test/login", "client-id", "wrong-secret-value", refresh_token="sf-refresh-tok"
    )

    async def run():
        async with make_client(app, "salesforce", "http://sf.test/login", auth) as client:
            await client.request("GET", "/services/data/v62.0/query")

    with pytest.raises(VendorError) as raised:
        asyncio.run(run())
    text = str(raised.value) + repr(raised.value) + str(raised.value.request)
    assert "invalid client credentials" in text and "invalid_client" in text
    assert "wrong-secret-value" not in text and "sf-refresh-tok" not in text


def graph_app():
    state = {"valid": None, "exchanges": []}  # the configured token has already expired

    async def posts(request: Request) -> Response:
        if request.query_params.get("access_token") != state["valid"]:
            return JSONResponse(
                {
                    "error": {
                        "message": "Error validating access token: Session has expired",
                        "type": "OAuthException",
                        "code": 190,
                        "error_subcode": 463,
                        "fbtrace_id": "AbC",
                    }
                },
                status_code=400,
            )
        return JSONResponse({"data": [{"id": "1"}], "paging": {"cursors": {"before": "a", "after": "b"}}})

    async def exchange(request: Request) -> Response:
        params = dict(request.query_params)
        state["exchanges"].append(params)
        if params.get("client_secret") != "app-secret-value":
            return JSONResponse(
                {
                    "error": {
                        "message": "Invalid client_secret",
                        "type": "OAuthException",
                        "code": 1,
                        "fbtrace_id": "x",
                    }
                },
                status_code=400,
            )
        state["valid"] = "new-token-bbbb"
        return JSONResponse({"access_token": "new-token-bbbb", "token_type": "bearer", "expires_in": 5183944})

    routes = [Route("/v21.0/oauth/access_token", exchange), Route("/v21.0/123/posts", posts)]
    return Starlette(routes=routes), state


def test_facebook_expired_token_is_exchanged_and_the_request_retried_once():
    app, state = graph_app()
    auth = GraphTokenAuth("old-token-aaaa", app_id="app-1", app_secret="app-secret-value")

    async def run():
        async with make_client(app, "facebook", "http://graph.test/v21.0", auth) as client:
            return await client.request("GET", "/123/posts")

    response = asyncio.run(run())
    assert response.status_code == 200 and auth.access_token == "new-token-bbbb" and auth.exchanges == 1
    assert state["exchanges"] == [
        {
            "grant_type": "fb_exchange_token",
            "client_id": "app-1",
            "client_secret": "app-secret-value",
            "fb_exchange_token": "old-token-aaaa",
        }
    ]


# Computed outside Python: printf '%s' TOKEN | openssl dgst -sha256 -hmac app-secret-value
PROOF_OF_OLD_TOKEN = "7208d3d5f41e7762deb4ea0a5f9a9166d2113667f78ff38c8b72ca4a43af2ea4"
PROOF_OF_NEW_TOKEN = "8e102a88bfa84b11d56e10ec2f665dbdc5ac4d144e9ae3644bc56088f60bb198"


def test_facebook_sends_appsecret_proof_of_the_current_token_when_the_secret_is_known():
    """An app with "Require App Secret" refuses calls without proof (issue 17); the proof is the
    token's HMAC-SHA256 keyed with the app secret, and follows the token when it is exchanged."""
    app, state = graph_app()
    seen: list[str | None] = []
    exchange_route = app.routes[0]

    async def posts(request: Request) -> Response:
        seen.append(request.query_params.get("appsecret_proof"))
        if request.query_params.get("appsecret_proof") is None:
            return JSONResponse(
                {
                    "error": {
                        "message": "(#100) API calls from the server require an appsecret_proof argument",
                        "type": "GraphMethodException",
                        "code": 100,
                        "fbtrace_id": "AbC",
                    }
                },
                status_code=400,
            )
        return await original(request)

    original = app.routes[1].endpoint
    app.router.routes = [exchange_route, Route("/v21.0/123/posts", posts)]
    auth = GraphTokenAuth("old-token-aaaa", app_id="app-1", app_secret="app-secret-value")

    async def run():
        async with make_client(app, "facebook", "http://graph.test/v21.0", auth) as client:
            return await client.request("GET", "/123/posts")

    assert asyncio.run(run()).status_code == 200
    assert seen == [PROOF_OF_OLD_TOKEN, PROOF_OF_NEW_TOKEN]
    assert "appsecret_proof" not in state["exchanges"][0]

    without = GraphTokenAuth("new-token-bbbb")
    request = httpx.Request("GET", "http://graph.test/v21.0/123/posts")
    without.apply(request)
    assert "appsecret_proof" not in request.url.params


def test_appsecret_proof_is_redacted_like_the_token():
    from cdp_platform.http.redaction import redact_url

    url = f"http://graph.test/v21.0/123/posts?access_token=t0k3n-value&appsecret_proof={PROOF_OF_OLD_TOKEN}"
    assert PROOF_OF_OLD_TOKEN not in redact_url(url) and "t0k3n-value" not in redact_url(url)


def test_facebook_expired_token_without_app_secret_names_the_env_var():
    app, state = graph_app()
    auth = GraphTokenAuth("old-token-aaaa", env_var="CDP_FACEBOOK_TOKEN")

    async def run():
        async with make_client(app, "facebook", "http://graph.test/v21.0", auth) as client:
            await client.request("GET", "/123/posts")

    with pytest.raises(ExpiredCredentials) as raised:
        asyncio.run(run())
    message = str(raised.value)
    assert "CDP_FACEBOOK_TOKEN" in message and "HTTP 400 190" in message
    assert "Session has expired" in message
    assert "old-token-aaaa" not in message + repr(raised.value) + str(raised.value.request)
    assert state["exchanges"] == []


def test_bearer_auth_renews_through_the_callers_coroutine():
    tokens = {"valid": "fresh-token-2"}

    async def protected(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {tokens['valid']}":
            return JSONResponse(
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
                status_code=401,
            )
        return JSONResponse({"rows": []})

    app = Starlette(routes=[Route("/v1beta/properties/1:runReport", protected, methods=["POST"])])
    renewals = []

    async def renew() -> str:
        renewals.append(1)
        return "fresh-token-2"

    auth = BearerAuth("stale-token-1", renew=renew)

    async def run():
        async with make_client(app, "ga4", "http://ga.test", auth) as client:
            return await client.request("POST", "/v1beta/properties/1:runReport", json={})

    assert asyncio.run(run()).status_code == 200 and renewals == [1]


def test_facebook_failed_exchange_asks_for_a_new_token_without_leaking_the_app_secret():
    app, state = graph_app()
    auth = GraphTokenAuth(
        "old-token-aaaa",
        app_id="app-1",
        app_secret="wrong-app-secret",
        env_var="CDP_FACEBOOK_ACCESS_TOKEN",
    )

    async def run():
        async with make_client(app, "facebook", "http://graph.test/v21.0", auth) as client:
            await client.request("GET", "/123/posts")

    with pytest.raises(ExpiredCredentials) as raised:
        asyncio.run(run())
    text = str(raised.value) + repr(raised.value) + str(raised.value.request)
    assert "Invalid client_secret" in text and "FACEBOOK_ACCESS_TOKEN" in text
    assert "wrong-app-secret" not in text and "old-token-aaaa" not in text
    assert len(state["exchanges"]) == 1
