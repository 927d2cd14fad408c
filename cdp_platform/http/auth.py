"""Credentials: how each vendor's requests are signed and how an expired credential is renewed.

Credentials arrive as plain strings from the caller (who reads them from Dagster ``EnvVar``).
An auth object adds them to each request (``apply``), may need a first exchange before any call
(``ensure``: the Salesforce token request), and gets one chance per request to renew an expired
credential (``refresh``) before the client gives up. ``secrets()`` lists the live values so
redaction can mask them literally wherever they surface.

Renewals are guarded: when many concurrent requests fail on the same expired token, the first one
renews it and the others see that the token they used is no longer current and simply retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import httpx

from .errors import ErrorInfo, ExpiredCredentials, VendorError, parse_error
from .redaction import describe_request

if TYPE_CHECKING:
    from .client import RequestSpec, VendorClient


class Auth:
    """No credentials. Also the interface every auth implements."""

    base_url: str | None = None
    """A base URL learned from the credential exchange (Salesforce ``instance_url``), else None."""

    async def ensure(self, client: VendorClient) -> None:
        """Obtain a credential before the first request, if the scheme needs one."""

    def apply(self, request: httpx.Request) -> None:
        """Add the current credential to ``request``."""

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        """Renew after ``request`` failed with expired credentials; True if it should be sent again."""
        return False

    def secrets(self) -> list[str]:
        return []


def _bearer_of(request: httpx.Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


class _RenewLock:
    """An asyncio.Lock per event loop: an auth object may outlive the loop of one run."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def get(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock


class BearerAuth(Auth):
    """``Authorization: Bearer <token>`` (HubSpot, Twitter, GA4).

    ``renew`` is an optional coroutine returning a fresh token (an OAuth refresh or a service
    account grant the caller implements); without it a 401 fails the request with the vendor's
    message.
    """

    def __init__(self, token: str, *, renew: Callable[[], Awaitable[str]] | None = None) -> None:
        self.token = token
        self._renew = renew
        self._lock = _RenewLock()

    def apply(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.token}"

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if self._renew is None:
            return False
        async with self._lock.get():
            if _bearer_of(request) != self.token:
                return True
            self.token = await self._renew()
            return True

    def secrets(self) -> list[str]:
        return [self.token]


class SalesforceOAuth(Auth):
    """Salesforce OAuth 2.0: a form POST to ``{login_url}/services/oauth2/token``.

    The grant follows from what is given: a refresh token, else username and password (the
    password with the security token appended, as Salesforce expects), else client credentials.
    The token response's ``instance_url`` becomes the client's base URL. A 401
    ``INVALID_SESSION_ID`` triggers one new token request, then the failed request is sent again.
    """

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.username = username
        self.password = password
        self.access_token: str | None = None
        self.base_url: str | None = None
        self.token_requests = 0
        self._lock = _RenewLock()

    def _form(self) -> dict[str, str]:
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            return {**form, "grant_type": "refresh_token", "refresh_token": self.refresh_token}
        if self.username and self.password:
            return {**form, "grant_type": "password", "username": self.username, "password": self.password}
        return {**form, "grant_type": "client_credentials"}

    async def _fetch_token(self, client: VendorClient) -> None:
        from .client import RequestSpec

        spec = RequestSpec("POST", f"{self.login_url}/services/oauth2/token", data=self._form())
        response = await client.send_without_auth(spec)
        body = response.json()
        self.token_requests += 1
        self.access_token = str(body["access_token"])
        self.base_url = str(body.get("instance_url") or self.base_url or "") or None

    async def ensure(self, client: VendorClient) -> None:
        if self.access_token is not None:
            return
        async with self._lock.get():
            if self.access_token is None:
                await self._fetch_token(client)

    def apply(self, request: httpx.Request) -> None:
        if self.access_token:
            request.headers["Authorization"] = f"Bearer {self.access_token}"

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if info.code != "INVALID_SESSION_ID" and info.status != 401:
            return False
        async with self._lock.get():
            if _bearer_of(request) != self.access_token:
                return True
            await self._fetch_token(client)
            return True

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.refresh_token, self.password, self.access_token) if s]


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Graph's ``appsecret_proof``: hex HMAC-SHA256 of the access token keyed with the app secret
    (https://developers.facebook.com/docs/graph-api/securing-requests/)."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


_GRAPH_VERSION_SUFFIX = re.compile(r"/v\d+\.\d+/?$")


class FacebookTokenAuth(Auth):
    """Graph API token, sent as the ``access_token`` parameter (default) or a Bearer header.

    On error code 190 (expired token): with ``app_id`` and ``app_secret`` the token is exchanged
    for a new long-lived one at ``GET {root}/{graph_version}/oauth/access_token`` with
    ``grant_type=fb_exchange_token`` and the request is sent again once; without them the request
    fails with ``ExpiredCredentials`` naming ``env_var``, the variable to renew.
    """

    def __init__(
        self,
        access_token: str,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        in_header: bool = False,
        graph_version: str = "v21.0",
        env_var: str = "FACEBOOK_ACCESS_TOKEN",
    ) -> None:
        self.access_token = access_token
        self.app_id = app_id
        self.app_secret = app_secret
        self.in_header = in_header
        self.graph_version = graph_version
        self.env_var = env_var
        self.exchanges = 0
        self._lock = _RenewLock()

    def apply(self, request: httpx.Request) -> None:
        if self.in_header:
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        else:
            request.url = request.url.copy_set_param("access_token", self.access_token)
        if self.app_secret:
            # An app that requires proof (Meta's recommended setting) refuses every call without
            # it: "(#100) ... requires either app secret proof or an app token". The proof binds
            # the token to the app, so it is sent whenever the secret is known.
            request.url = request.url.copy_set_param(
                "appsecret_proof", appsecret_proof(self.access_token, self.app_secret)
            )

    def _token_of(self, request: httpx.Request) -> str | None:
        return _bearer_of(request) if self.in_header else request.url.params.get("access_token")

    def exchange_url(self, client_base_url: str) -> str:
        root = _GRAPH_VERSION_SUFFIX.sub("", client_base_url.rstrip("/"))
        return f"{root}/{self.graph_version}/oauth/access_token"

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if info.code != "190":
            return False
        async with self._lock.get():
            if self._token_of(request) != self.access_token:
                return True
            if not (self.app_id and self.app_secret):
                raise ExpiredCredentials(
                    client.vendor,
                    info,
                    describe_request(request, self.secrets()),
                    hint=(
                        f"The Facebook access token expired: create a new long-lived token and set "
                        f"{self.env_var}, or configure the app id and secret so it is exchanged "
                        f"automatically"
                    ),
                )
            await self._exchange(client)
            return True

    async def _exchange(self, client: VendorClient) -> None:
        from .client import RequestSpec

        spec: RequestSpec = RequestSpec(
            "GET",
            self.exchange_url(client.base_url),
            params={
                "grant_type": "fb_exchange_token",
                "client_id": self.app_id,
                "client_secret": self.app_secret,
                "fb_exchange_token": self.access_token,
            },
        )
        try:
            response = await client.send_without_auth(spec)
        except VendorError as exc:
            raise ExpiredCredentials(
                client.vendor,
                exc.info,
                exc.request,
                hint=f"Exchanging the expired Facebook token failed: create a new one and set {self.env_var}",
            ) from None
        token = response.json().get("access_token")
        if not token:
            raise ExpiredCredentials(
                client.vendor,
                parse_error(response.status_code, "token exchange returned no access_token"),
                describe_request(response.request, self.secrets()),
                hint=f"Create a new Facebook token and set {self.env_var}",
            )
        self.access_token = str(token)
        self.exchanges += 1

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.app_secret) if s]
