"""No secret leaves the client: not in exceptions, their chains, log lines or dead letters."""

from __future__ import annotations

import asyncio
import logging
import traceback

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdp_platform.http import (
    BearerAuth,
    CircuitBreaker,
    HttpClientError,
    Pacer,
    RetryPolicy,
    VendorClient,
    describe_request,
)
from cdp_platform.http.dead_letters import make_dead_letter
from cdp_platform.http.redaction import redact_headers, redact_text, redact_url
from cdp_platform.sources.graph_auth import GraphTokenAuth

from .conftest import SleepRecorder

SECRET = "EAAB-super-secret-token-9f8e7d"


def chain_text(exc: BaseException) -> str:
    """Everything an exception exposes: str, repr, the formatted traceback with its whole chain."""
    parts = []
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(getattr(current, "request", ""))]
        current = current.__cause__ or current.__context__
    parts.append("".join(traceback.format_exception(exc)))
    return "\n".join(parts)


def test_redact_url_headers_and_text():
    url = f"https://graph.facebook.com/v21.0/me?fields=id&access_token={SECRET}&client_secret=abcdefgh"
    assert SECRET not in redact_url(url) and "abcdefgh" not in redact_url(url)
    assert "fields=id" in redact_url(url)
    assert redact_url("https://user:pa55word@host/x") == "https://user:REDACTED@host/x"
    headers = redact_headers({"Authorization": f"Bearer {SECRET}", "Accept": "application/json"})
    assert headers == {"Authorization": "REDACTED", "Accept": "application/json"}
    text = (
        f"grant_type=refresh_token&refresh_token=5Aep861abc&password=hunter22 "
        f'{{"access_token": "{SECRET}"}} Authorization: Bearer {SECRET}'
    )
    cleaned = redact_text(text)
    for secret in ("5Aep861abc", "hunter22", SECRET):
        assert secret not in cleaned
    assert redact_text("an opaque s3cr3tvalue echoed", secrets=["s3cr3tvalue"]) == "an opaque REDACTED echoed"
    # A known secret is also caught in its URL-encoded form.
    assert redact_text("next=a%2Fb%7Cc%2Bd", secrets=["a/b|c+d"]) == "next=REDACTED"


def test_describe_request_redacts_url_headers_and_form_body():
    request = httpx.Request(
        "POST",
        f"https://login.test/services/oauth2/token?access_token={SECRET}",
        headers={"Authorization": f"Bearer {SECRET}"},
        data={
            "grant_type": "password",
            "username": "u@x.com",
            "password": "pw-123456",
            "client_secret": "cs-98765",
        },
    )
    described = describe_request(request)
    flat = str(described)
    assert described["method"] == "POST"
    for secret in (SECRET, "pw-123456", "cs-98765"):
        assert secret not in flat
    assert "username=u%40x.com" in described["body"]


def test_failed_request_exception_with_secrets_in_url_and_header_does_not_contain_them(caplog):
    def refuse(request: httpx.Request) -> httpx.Response:
        # Transport errors commonly quote the URL they failed on.
        raise httpx.ConnectError(
            f"could not reach {request.url} ({request.headers['authorization']})", request=request
        )

    async def run():
        client = VendorClient(
            "facebook",
            "http://graph.test/v21.0",
            auth=GraphTokenAuth(SECRET),
            pacer=Pacer("facebook"),
            transport=httpx.MockTransport(refuse),
            retry=RetryPolicy(max_attempts=2),
            breaker=CircuitBreaker("facebook"),
            sleep=SleepRecorder(),
            headers={"Authorization": f"Bearer {SECRET}"},
        )
        async with client:
            await client.request("GET", f"/me?access_token={SECRET}")

    with caplog.at_level(logging.DEBUG), pytest.raises(HttpClientError) as raised:
        asyncio.run(run())
    text = chain_text(raised.value)
    assert "connect_error" in text and "REDACTED" in text
    assert SECRET not in text
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert SECRET not in caplog.text


def test_vendor_error_echoing_the_token_is_redacted(caplog):
    async def echo(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "error",
                "message": f"token {request.headers['authorization']} is not allowed",
                "category": "FORBIDDEN",
            },
            status_code=403,
        )

    app = Starlette(routes=[Route("/crm/v3/objects/contacts", echo)])

    async def run():
        async with VendorClient(
            "hubspot",
            "http://h.test",
            auth=BearerAuth(SECRET),
            pacer=Pacer("hubspot"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("hubspot"),
        ) as client:
            await client.request("GET", "/crm/v3/objects/contacts")

    with caplog.at_level(logging.DEBUG), pytest.raises(HttpClientError) as raised:
        asyncio.run(run())
    text = chain_text(raised.value)
    assert "is not allowed" in text and SECRET not in text
    assert SECRET not in caplog.text


def test_request_hook_records_carry_redacted_urls():
    records = []

    async def ok(request: Request) -> Response:
        return JSONResponse({"data": []})

    app = Starlette(routes=[Route("/v21.0/1/posts", ok)])

    async def run():
        async with VendorClient(
            "facebook",
            "http://graph.test/v21.0",
            auth=GraphTokenAuth(SECRET),
            pacer=Pacer("facebook"),
            transport=httpx.ASGITransport(app=app),
            breaker=CircuitBreaker("facebook"),
            hooks=[records.append],
        ) as client:
            await client.request("GET", "/1/posts")

    asyncio.run(run())
    (record,) = records
    assert record.status == 200 and record.attempt == 1 and record.pacer_key == "default"
    assert SECRET not in record.url and "access_token=REDACTED" in record.url


def test_dead_letters_are_redacted():
    letter = make_dead_letter(
        stream="leads",
        partition="2026-11-25",
        error=f"bad body for access_token={SECRET}",
        body=f'{{"access_token": "{SECRET}", "id": null}}',
        request={"url": "x", "headers": {"Authorization": f"Bearer {SECRET}"}},
        secrets=[SECRET],
    )
    assert SECRET not in str(letter.to_dict())
