"""Salesforce's OAuth 2.0 token exchange (the login host answers with the instance to call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from cdp_platform.http.auth import Auth, RenewLock, bearer_of
from cdp_platform.http.errors import ErrorInfo

if TYPE_CHECKING:
    from cdp_platform.http.client import VendorClient


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
        self._lock = RenewLock()

    def _form(self) -> dict[str, str]:
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            return {**form, "grant_type": "refresh_token", "refresh_token": self.refresh_token}
        if self.username and self.password:
            return {**form, "grant_type": "password", "username": self.username, "password": self.password}
        return {**form, "grant_type": "client_credentials"}

    async def _fetch_token(self, client: VendorClient) -> None:
        from cdp_platform.http.client import RequestSpec

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
            if bearer_of(request) != self.access_token:
                return True
            await self._fetch_token(client)
            return True

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.refresh_token, self.password, self.access_token) if s]
