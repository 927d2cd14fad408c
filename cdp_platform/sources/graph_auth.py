"""The ``graph_token`` auth kind: ``appsecret_proof`` on every call and the exchange of an expired token.

A mechanism of the Graph API protocol, shared by every source speaking it (each passes its own
``graph_version`` and the variable holding its token), so no source's folder owns it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

import httpx

from cdp_platform.http.auth import Auth, RenewLock, bearer_of
from cdp_platform.http.errors import ErrorInfo, ExpiredCredentials, VendorError, parse_error
from cdp_platform.http.redaction import describe_request
from cdp_platform.sources.graph_signals import EXPIRED_TOKEN_CODE

if TYPE_CHECKING:
    from cdp_platform.http.client import RequestSpec, VendorClient


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Graph's ``appsecret_proof``: hex HMAC-SHA256 of the access token keyed with the app secret
    (the Graph API documentation's "Securing requests")."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


_GRAPH_VERSION_SUFFIX = re.compile(r"/v\d+\.\d+/?$")


class GraphTokenAuth(Auth):
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
        env_var: str = "the source's access token variable (CDP_<SOURCE>_ACCESS_TOKEN)",
    ) -> None:
        self.access_token = access_token
        self.app_id = app_id
        self.app_secret = app_secret
        self.in_header = in_header
        self.graph_version = graph_version
        self.env_var = env_var
        self.exchanges = 0
        self._lock = RenewLock()

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
        return bearer_of(request) if self.in_header else request.url.params.get("access_token")

    def exchange_url(self, client_base_url: str) -> str:
        root = _GRAPH_VERSION_SUFFIX.sub("", client_base_url.rstrip("/"))
        return f"{root}/{self.graph_version}/oauth/access_token"

    async def refresh(self, client: VendorClient, info: ErrorInfo, request: httpx.Request) -> bool:
        if info.code != str(EXPIRED_TOKEN_CODE):
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
                        f"The Graph access token expired: create a new long-lived token and set "
                        f"{self.env_var}, or configure the app id and secret so it is exchanged "
                        f"automatically"
                    ),
                )
            await self._exchange(client)
            return True

    async def _exchange(self, client: VendorClient) -> None:
        from cdp_platform.http.client import RequestSpec

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
                hint=f"Exchanging the expired Graph token failed: create a new one and set {self.env_var}",
            ) from None
        token = response.json().get("access_token")
        if not token:
            raise ExpiredCredentials(
                client.vendor,
                parse_error(response.status_code, "token exchange returned no access_token"),
                describe_request(response.request, self.secrets()),
                hint=f"Create a new Graph token and set {self.env_var}",
            )
        self.access_token = str(token)
        self.exchanges += 1

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.app_secret) if s]
