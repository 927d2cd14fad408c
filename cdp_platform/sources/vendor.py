"""The Dagster resource every vendor's API client is built from.

A vendor resource holds where the vendor is (a base URL, or a server in this process), its account
identifiers and its credentials. Credentials are Dagster ``EnvVar``s in every environment that
talks to a real endpoint, so their values are resolved when a run starts and never shown in the UI;
only an in-process server gets its public, synthetic-data-only constants directly.

Nothing here knows the bundled sandbox: the local default hands the vendors without a base URL an
:class:`InProcessServer` (the sandbox's, from :mod:`cdp_platform.sandbox.wiring`), so a production
code location, where every vendor has a base URL, never imports the emulator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import dagster as dg
import httpx
from pydantic import Field

from cdp_platform.http import Auth, RetryPolicy, VendorClient
from cdp_platform.http.telemetry import request_hooks
from cdp_platform.http.tls import tls_context
from cdp_platform.settings import env_var_name, missing_credential
from cdp_platform.sources.registry import declaration


class InProcessServer(dg.ConfigurableResource):
    """Vendor APIs served inside this process (an ASGI app behind ``httpx.ASGITransport``).

    The base class serves nothing; a subclass (the bundled sandbox's) knows where each source is
    mounted, the account identifiers it defines, and the transport that reaches it. It is a nested
    resource of the vendor resources, so its configuration shows with theirs in the UI.
    """

    def base_url(self, source: str) -> str:
        raise NotImplementedError(f"{type(self).__name__} serves no {source} API")

    def account_options(self, source: str) -> dict[str, str]:
        """Account identifiers (an analytics property, a page...) as the server defines them."""
        return {}

    def credentials(self, source: str) -> dict[str, str]:
        """What the server accepts per credential role: public constants, never a real secret."""
        return {}

    def transport(self) -> httpx.AsyncBaseTransport:
        raise NotImplementedError(f"{type(self).__name__} has no transport")

    def pacer(self, http_vendor: str) -> Any:
        """A pacer for the server's own quota windows; ``None``: the vendor's documented ones."""
        return None


class NoEndpoint(ValueError):
    """A vendor resource with neither a base URL nor an in-process server."""


class MissingCredential(ValueError):
    """A required credential resolved to nothing (unset, or empty in the run's environment)."""


class VendorResource(dg.ConfigurableResource):
    """Base of the six vendor resources; subclasses add their credentials and ``auth()``."""

    source: ClassVar[str]
    http_vendor: ClassVar[str]

    base_url: str | None = Field(
        default=None, description="The vendor's API base URL; unset: the in-process server."
    )
    server: InProcessServer | None = Field(
        default=None,
        description="Serves the vendor in this process when base_url is unset (the local default's sandbox).",
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
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP collector for request spans; unset: none."
    )

    @property
    def served_in_process(self) -> bool:
        """Served by the in-process server (the local default's sandbox), not over the network."""
        return self.base_url is None

    def _server(self) -> InProcessServer:
        if self.server is None:
            raise NoEndpoint(
                f"{env_var_name(self.source, 'base_url')} is not set and no in-process server was given: "
                f"set it to the vendor's API base URL (see README, 'Connecting the vendors')."
            )
        return self.server

    def api_base_url(self) -> str:
        """The base URL requests are made under: the vendor's, or the in-process server's mount."""
        return self.base_url if self.base_url is not None else self._server().base_url(self.source)

    def account_options(self) -> dict[str, str]:
        if self.served_in_process:
            return {**self._server().account_options(self.source), **self.options}
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
        # The vendor's process-wide pacer with its documented windows, unless the in-process
        # server paces at its own time scale.
        pacer = self._server().pacer(self.http_vendor) if self.served_in_process else None
        transport = self._server().transport() if self.served_in_process else None
        base_url = self.api_base_url()
        return VendorClient(
            self.http_vendor,
            base_url,
            auth or self.auth(),
            pacer=pacer,
            transport=transport,
            retry=RetryPolicy(max_attempts=self.max_attempts),
            timeout=self.timeout_seconds,
            verify=tls_context(self.ca_bundle),
            hooks=request_hooks(self.otlp_endpoint),
        )
