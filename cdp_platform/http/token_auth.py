"""Two credential schemes many REST APIs share: a key in a named header, and an OAuth 2.0 token
obtained from a token endpoint (client credentials, or a refresh token).

Sources declared by configuration (``CDP_SOURCES_DIR``) pick one by name; the vendors we ship
keep their own exchanges in their folders where the vendor has quirks (a token answer that
also names the API's host, a proof signed with the app secret on every call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from .auth import Auth, RenewLock, bearer_of
from .errors import ErrorInfo

if TYPE_CHECKING:
    from .client import VendorClient


class ApiKeyHeaderAuth(Auth):
    """A static key in a header the vendor names (``X-Api-Key``); nothing to renew."""

    def __init__(self, key: str, header: str) -> None:
        self.key = key
        self.header = header

    def apply(self, request: httpx.Request) -> None:
        request.headers[self.header] = self.key

    def secrets(self) -> list[str]:
        return [self.key] if self.key else []


class OAuth2TokenAuth(Auth):
    """OAuth 2.0 (RFC 6749): a form POST to ``token_url`` whose ``access_token`` is sent as a
    Bearer token.

    The grant follows from what is given: a refresh token (section 6), else client credentials
    (section 4.4). The client authenticates in the form body (``client_id``/``client_secret``),
    which every provider accepts beside HTTP Basic. A 401 fetches one new token and sends the
    failed request again; concurrent requests failing on the same token wait for that one exchange.
    A provider that rotates refresh tokens returns a new one, which later exchanges use.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_token: str | None = None,
        scope: str | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.scope = scope
        self.access_token: str | None = None
        self.token_requests = 0
        self._lock = RenewLock()

    def _form(self) -> dict[str, str]:
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            form.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if self.scope:
            form["scope"] = self.scope
        return form

    async def _fetch_token(self, client: VendorClient) -> None:
        from .client import RequestSpec

        response = await client.send_without_auth(RequestSpec("POST", self.token_url, data=self._form()))
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            # The body may echo what was sent: never put it in the message.
            raise ValueError(
                f"{client.vendor}: the token endpoint answered HTTP {response.status_code} without an "
                "access_token; check the token URL and the client's credentials"
            ) from None
        self.token_requests += 1
        self.access_token = str(token)
        if body.get("refresh_token"):
            self.refresh_token = str(body["refresh_token"])
        self._accepted(body)

    def _accepted(self, body: dict) -> None:
        """What a provider's token answer says beyond the token (a subclass reads it)."""

    async def ensure(self, client: VendorClient) -> None:
        if self.access_token is not None:
            return
        async with self._lock.get():
            if self.access_token is None:
                await self._fetch_token(client)

    def apply(self, request: httpx.Request) -> None:
        if self.access_token:
            request.headers["Authorization"] = f"Bearer {self.access_token}"

    # Error codes that mean "this token is no longer valid" besides HTTP 401 (a subclass names them).
    renew_codes: tuple[str, ...] = ()

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if info.status != 401 and info.code not in self.renew_codes:
            return False
        async with self._lock.get():
            if bearer_of(request) != self.access_token:
                return True  # another request renewed it meanwhile
            await self._fetch_token(client)
            return True

    def secrets(self) -> list[str]:
        return [s for s in (self.client_secret, self.refresh_token, self.access_token) if s]
