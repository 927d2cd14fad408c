"""Salesforce's OAuth 2.0 token exchange (the login host answers with the instance to call)."""

from __future__ import annotations

from cdp_platform.http.token_auth import OAuth2TokenAuth


class SalesforceOAuth(OAuth2TokenAuth):
    """Salesforce OAuth 2.0: the generic token exchange, posted to ``{login_url}/services/oauth2/token``.

    What Salesforce adds: the grant may also be username and password (the password with the
    security token appended, as Salesforce expects) when no refresh token is given; the token
    response's ``instance_url`` becomes the client's base URL; an ``INVALID_SESSION_ID`` error
    renews the token like a 401.
    """

    renew_codes = ("INVALID_SESSION_ID",)

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
        super().__init__(
            f"{self.login_url}/services/oauth2/token", client_id, client_secret, refresh_token=refresh_token
        )
        self.username = username
        self.password = password
        self.base_url: str | None = None

    def _form(self) -> dict[str, str]:
        if not self.refresh_token and self.username and self.password:
            return {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "grant_type": "password",
                "username": self.username,
                "password": self.password,
            }
        return super()._form()

    def _accepted(self, body: dict) -> None:
        self.base_url = str(body.get("instance_url") or self.base_url or "") or None

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self.password] if self.password else [])]
