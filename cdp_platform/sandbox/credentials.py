"""The credentials the sandbox accepts, and the stateless tokens it issues.

The platform's local settings point every source at the sandbox with these constants, so a fresh
checkout runs without secrets. They are deliberately public: they unlock only synthetic data.
An app built with other values (``create_app(credentials=...)``) accepts only those, which is how
tests prove a connector really sends what it was given.

Issued tokens (Salesforce sessions, HubSpot OAuth access tokens, exchanged Graph tokens) are signed
strings that carry their own issue time, so validating one needs no server-side table and a
long-running sandbox does not grow memory with every token it hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

SALESFORCE_CLIENT_ID = "sandbox-salesforce-client-id"
SALESFORCE_CLIENT_SECRET = "sandbox-salesforce-client-secret"  # noqa: S105 - public sandbox credential
SALESFORCE_REFRESH_TOKEN = "sandbox-salesforce-refresh-token"  # noqa: S105
SALESFORCE_USERNAME = "integration@sandbox.cdp.example"
SALESFORCE_PASSWORD = "sandbox-salesforce-password"  # noqa: S105
HUBSPOT_PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-4000-8000-5a4db0c5e7e1"  # noqa: S105
HUBSPOT_CLIENT_ID = "sandbox-hubspot-client-id"
HUBSPOT_CLIENT_SECRET = "sandbox-hubspot-client-secret"  # noqa: S105
HUBSPOT_REFRESH_TOKEN = "sandbox-hubspot-refresh-token"  # noqa: S105
GA4_ACCESS_TOKEN = "ya29.sandbox-ga4-access-token"  # noqa: S105
FACEBOOK_APP_ID = "100000000000001"
FACEBOOK_APP_SECRET = "sandbox-facebook-app-secret"  # noqa: S105
FACEBOOK_ACCESS_TOKEN = "EAAsandboxFacebookPageAccessToken"  # noqa: S105 - also valid for Instagram
TWITTER_BEARER_TOKEN = "AAAAAAAAAAAAAAAAAAAAAsandboxTwitterBearerToken"  # noqa: S105
STRIPE_SECRET_KEY = "sk_test_51SandboxCdpStripeSecretKey0000000000"  # noqa: S105 - test mode, synthetic data


# What the in-process sandbox is given per platform source and credential role (the roles of
# cdp_platform.settings.VENDOR_CREDENTIALS): the local default sets a vendor resource's credentials
# from here when the environment sets none (cdp_platform.sandbox.wiring).
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "salesforce": {
        "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": SALESFORCE_CLIENT_SECRET,
        "refresh_token": SALESFORCE_REFRESH_TOKEN,
    },
    "hubspot": {"access_token": HUBSPOT_PRIVATE_APP_TOKEN},
    "google_analytics": {"access_token": GA4_ACCESS_TOKEN},
    "facebook": {
        "access_token": FACEBOOK_ACCESS_TOKEN,
        "app_id": FACEBOOK_APP_ID,
        "app_secret": FACEBOOK_APP_SECRET,
    },
    "instagram": {"access_token": FACEBOOK_ACCESS_TOKEN, "app_secret": FACEBOOK_APP_SECRET},
    "twitter": {"bearer_token": TWITTER_BEARER_TOKEN},
    "stripe": {"api_key": STRIPE_SECRET_KEY},
}


@dataclass(frozen=True)
class SandboxCredentials:
    """What each emulated vendor accepts. Defaults are the documented constants above."""

    salesforce_client_id: str = SALESFORCE_CLIENT_ID
    salesforce_client_secret: str = SALESFORCE_CLIENT_SECRET
    salesforce_refresh_token: str = SALESFORCE_REFRESH_TOKEN
    salesforce_username: str = SALESFORCE_USERNAME
    salesforce_password: str = SALESFORCE_PASSWORD
    # Salesforce's default session timeout is two hours; tests shorten it to watch a client refresh.
    salesforce_session_seconds: float = 7200.0
    hubspot_private_app_token: str = HUBSPOT_PRIVATE_APP_TOKEN
    hubspot_client_id: str = HUBSPOT_CLIENT_ID
    hubspot_client_secret: str = HUBSPOT_CLIENT_SECRET
    hubspot_refresh_token: str = HUBSPOT_REFRESH_TOKEN
    hubspot_access_token_seconds: float = 1800.0
    ga4_access_token: str = GA4_ACCESS_TOKEN
    facebook_app_id: str = FACEBOOK_APP_ID
    facebook_app_secret: str = FACEBOOK_APP_SECRET
    facebook_access_token: str = FACEBOOK_ACCESS_TOKEN
    # Long-lived tokens from fb_exchange_token last about 60 days (Graph reports expires_in 5183944).
    facebook_exchanged_token_seconds: float = 5183944.0
    # The app setting "Require App Secret": calls without appsecret_proof are refused (code 100).
    # Off by default so a token alone works, as on an app without the setting; a proof that is
    # sent is always checked.
    facebook_require_appsecret_proof: bool = False
    # The permissions the Graph token was granted; None: every one the platform needs. A token
    # without one gets Graph's permission error for the edges that need it (codes 10, 100, 200).
    facebook_permissions: frozenset[str] | None = None
    twitter_bearer_token: str = TWITTER_BEARER_TOKEN
    stripe_secret_key: str = STRIPE_SECRET_KEY


class TokenSigner:
    """Issues and checks ``<prefix><issued_ms>.<mac>`` tokens keyed by a per-app secret.

    The key is derived from the seed and the credentials, so two apps with the same inputs issue the
    same token bytes at the same clock reading (reproducible responses), and a token from one
    credential set is rejected by an app built with another.
    """

    def __init__(self, seed: int, credentials: SandboxCredentials) -> None:
        material = f"{seed}|{credentials!r}".encode()
        self._key = hashlib.sha256(b"cdp-sandbox-token-key|" + material).digest()

    def _mac(self, kind: str, issued_ms: int) -> str:
        digest = hmac.new(self._key, f"{kind}|{issued_ms}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")

    def issue(self, kind: str, prefix: str, issued_ms: int) -> str:
        return f"{prefix}{issued_ms}.{self._mac(kind, issued_ms)}"

    def issued_ms(self, kind: str, prefix: str, token: str) -> int | None:
        """The issue time of a token this signer made for ``kind``, or None if it is not one."""
        if not token.startswith(prefix):
            return None
        body = token[len(prefix) :]
        ms_text, _, mac = body.partition(".")
        if not ms_text.isdigit() or len(ms_text) > 16:
            return None
        issued = int(ms_text)
        return issued if hmac.compare_digest(mac, self._mac(kind, issued)) else None

    def signature(self, *parts: str) -> str:
        """A base64 HMAC over parts, like Salesforce's ``signature`` of id + issued_at."""
        digest = hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
