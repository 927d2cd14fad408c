"""The Dagster resource every vendor's API client is built from.

A vendor resource holds where the vendor is (a base URL, or the in-process sandbox), its account
identifiers and its credentials. Credentials are Dagster ``EnvVar``s in every environment that
talks to a real endpoint, so their values are resolved when a run starts and never shown in the UI;
only the in-process sandbox gets its public, synthetic-data-only constants directly.
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

import dagster as dg
from pydantic import Field

from cdp_platform.http import Auth, RetryPolicy, VendorClient
from cdp_platform.http.telemetry import request_hooks
from cdp_platform.http.tls import tls_context
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.settings import missing_credential
from cdp_platform.sources import sandbox_link
from cdp_platform.sources.registry import declaration


class MissingCredential(ValueError):
    """A required credential resolved to nothing (unset, or empty in the run's environment)."""


class VendorResource(dg.ConfigurableResource):
    """Base of the six vendor resources; subclasses add their credentials and ``auth()``."""

    source: ClassVar[str]
    http_vendor: ClassVar[str]

    base_url: str | None = Field(
        default=None, description="The vendor's API base URL; unset: in-process sandbox."
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="Account identifiers (property, page...)."
    )
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of extra CAs trusted for the vendor's TLS certificate (CDP_CA_BUNDLE); "
        "unset: the default trust store. Verification itself is always on.",
    )
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    page_size: int | None = Field(default=None, description="Records per page, within the vendor's bounds.")
    sandbox_persons: int = 2000
    sandbox_seed: int = 7
    sandbox_faults: str = "none"
    sandbox_today: str | None = None
    sandbox_span_days: int = 730
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector for request spans; unset: none."
    )

    @property
    def uses_sandbox(self) -> bool:
        return self.base_url is None

    def _sandbox_config(self) -> SandboxConfig:
        today = datetime.date.fromisoformat(self.sandbox_today) if self.sandbox_today else None
        return sandbox_link.sandbox_config(
            self.sandbox_persons, self.sandbox_seed, today, self.sandbox_span_days
        )

    def _sandbox(self) -> tuple[Any, Any]:
        return sandbox_link.sandbox_app(self._sandbox_config(), self.sandbox_faults)

    def account_options(self) -> dict[str, str]:
        if self.uses_sandbox:
            return {**sandbox_link.sandbox_options(self.source, self._sandbox()[1]), **self.options}
        return dict(self.options)

    def auth(self) -> Auth:
        raise NotImplementedError

    def require_credentials(self) -> None:
        """Fail with the variable to set when a required credential is unset or empty.

        Credential fields are optional in the resource's schema so that a missing one reaches this
        message rather than a validation traceback of the resource (issue 17); the settings stop the
        load earlier when the variable is unset there, this catches what the run's environment
        resolves (an ``EnvVar`` set to an empty string in the worker).
        """
        for credential in declaration(self.source).credentials:
            value = getattr(self, credential.role, None)
            if not credential.optional and (value is None or not str(value).strip()):
                raise MissingCredential(missing_credential(self.source, credential.role))

    def client(self, auth: Auth | None = None) -> VendorClient:
        """A new client; pacer and circuit breaker are shared per vendor within the process.

        Pass one ``auth`` to several clients so they share a token (one OAuth exchange per run).
        """
        if auth is None:
            self.require_credentials()
        if self.uses_sandbox:
            transport = sandbox_link.sandbox_transport(self._sandbox_config(), self.sandbox_faults)
            base_url = sandbox_link.sandbox_base_url(self.source)
        else:
            transport, base_url = None, self.base_url
        return VendorClient(
            self.http_vendor,
            base_url,
            auth or self.auth(),
            transport=transport,
            retry=RetryPolicy(max_attempts=self.max_attempts),
            timeout=self.timeout_seconds,
            verify=tls_context(self.ca_bundle),
            hooks=request_hooks(self.otlp_endpoint),
        )
