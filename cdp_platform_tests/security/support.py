"""Security test support: a sandbox served over HTTPS by a throw-away CA, and a search for secrets.

The HTTPS server is the real sandbox app under uvicorn on a free loopback port, with a server
certificate for 127.0.0.1 issued by a ``trustme`` CA. No client trusts that CA unless told to, so
the same server shows both a refused connection and, with ``CDP_CA_BUNDLE`` set, a working one.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import trustme
import uvicorn

from cdp_platform_tests.support.services import free_port


@dataclass(frozen=True)
class TlsFiles:
    """A CA (its PEM is what CDP_CA_BUNDLE would name) and a server certificate for 127.0.0.1."""

    ca_pem: Path
    server_cert: Path
    server_key: Path


def make_tls_files(folder: Path) -> TlsFiles:
    ca = trustme.CA(organization_name="cdp test CA")
    server = ca.issue_cert("127.0.0.1", "localhost")
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_pem))
    server.private_key_pem.write_to_path(str(files.server_key))
    # The leaf first, then the chain: what a client needs to build the path up to the CA.
    with files.server_cert.open("wb") as handle:
        for blob in server.cert_chain_pems:
            handle.write(blob.bytes())
    return files


@contextlib.contextmanager
def serve_https(app, tls: TlsFiles, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` over HTTPS on a free loopback port until the block ends; yield its base URL.

    Access logs stay off: a server log is not the platform's, and query strings there would hold
    tokens the platform sends (that is the vendor's side of the wire).
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_level="critical",
            lifespan="off",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the uvicorn HTTPS test server did not start")
        time.sleep(0.01)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- Expiring Salesforce sessions on cue -------------------------------------------------------

_SALESFORCE_SKEW = contextvars.ContextVar("salesforce_clock_skew", default=0.0)


class SalesforceSessionExpiry:
    """Make the first Salesforce session of every run expire, through the sandbox's own check.

    The sandbox judges a session by its clock. This wrapper shifts that clock, for Salesforce
    requests only (a context variable, so Twitter's reset headers and Graph token expiry keep
    real time), by one session length plus a second after every odd token: the first token of a
    run is stale when it is first used (401 ``INVALID_SESSION_ID``), the one the client fetches
    in response is fresh, and the next run starts the cycle again.
    """

    def __init__(self, app, session_seconds: float) -> None:
        self.app = app
        self.step = session_seconds + 1.0
        self.tokens = 0
        self._lock = threading.Lock()

    def clock(self) -> float:
        return time.time() + _SALESFORCE_SKEW.get()

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/salesforce/"):
            await self.app(scope, receive, send)
            return
        with self._lock:
            if path.endswith("/services/oauth2/token"):
                self.tokens += 1
                skew = self.step * (self.tokens // 2)
            else:
                skew = self.step * ((self.tokens + 1) // 2)
        marker = _SALESFORCE_SKEW.set(skew)
        try:
            await self.app(scope, receive, send)
        finally:
            _SALESFORCE_SKEW.reset(marker)


# --- Searching for secrets ---------------------------------------------------------------------


def secret_forms(secret: str) -> set[bytes]:
    """The ways a secret can be written down: as is, URL-encoded, JSON-escaped and in base64."""
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        secret.replace("/", "\\/"),
        # Without the last characters, which depend on what follows the secret in the encoded text.
        base64.b64encode(raw).decode().rstrip("=")[:-2],
        base64.urlsafe_b64encode(raw).decode().rstrip("=")[:-2],
    }
    return {form.encode() for form in forms if len(form) >= 8}


def basic_auth_forms(user: str, password: str) -> set[bytes]:
    """``Authorization: Basic`` and URL userinfo forms of a user and secret pair."""
    pair = f"{user}:{password}".encode()
    return {
        base64.b64encode(pair),
        base64.urlsafe_b64encode(pair),
        f"{quote(user, safe='')}:{quote(password, safe='')}@".encode(),
    }


@dataclass
class Needles:
    """What must not be found (each with a name for the report) and the canary that must be."""

    secrets: dict[str, set[bytes]] = field(default_factory=dict)
    patterns: dict[str, re.Pattern[bytes]] = field(default_factory=dict)
    canary: bytes = b""

    def add(self, name: str, forms: Iterable[bytes]) -> None:
        self.secrets.setdefault(name, set()).update(forms)


@dataclass
class SearchReport:
    """Where the search looked and what it found, per channel (``lake/raw``, ``event_log``...)."""

    looked: dict[str, int] = field(default_factory=dict)
    bytes_searched: dict[str, int] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)
    canary_found: set[str] = field(default_factory=set)

    def search(self, channel: str, where: str, data: bytes, needles: Needles) -> None:
        self.looked[channel] = self.looked.get(channel, 0) + 1
        self.bytes_searched[channel] = self.bytes_searched.get(channel, 0) + len(data)
        for name, forms in needles.secrets.items():
            for form in forms:
                if form in data:
                    self.leaks.append(
                        f"{name} ({form[:12]!r}...) in {channel}: {where}: {_around(data, form)}"
                    )
        for name, pattern in needles.patterns.items():
            match = pattern.search(data)
            if match:
                self.leaks.append(f"{name} in {channel}: {where}: {_around(data, match.group(0))}")
        if needles.canary and needles.canary in data:
            self.canary_found.add(channel)


def _around(data: bytes, needle: bytes, width: int = 60) -> str:
    at = data.find(needle)
    return repr(data[max(0, at - width) : at + len(needle) + width])


def process_state_reset() -> None:
    """Breakers and pacers are process-wide by design; a test must not inherit another's."""
    from cdp_platform.http.breaker import DEFAULT_BREAKERS
    from cdp_platform.http.pacing import reset_pacers

    DEFAULT_BREAKERS.reset()
    reset_pacers()


def sandbox_environ(root: str, data, credentials: dict[str, dict[str, str]]) -> tuple[dict, dict]:
    """(settings environ, credential variables) pointing every vendor at a sandbox served at ``root``.

    ``credentials`` maps source -> role -> value. The credential variables go into the process
    environment (Dagster resolves them as ``EnvVar`` at run time), never into the settings mapping.
    """
    from cdp_platform.sandbox.in_process import SANDBOX_PREFIX, sandbox_options
    from cdp_platform.settings import env_var_name

    environ: dict[str, str] = {}
    secret_env: dict[str, str] = {}
    for source, prefix in SANDBOX_PREFIX.items():
        environ[env_var_name(source, "base_url")] = f"{root}/{prefix}"
        for role, value in sandbox_options(source, data).items():
            environ[env_var_name(source, role)] = value
        for role, value in credentials[source].items():
            secret_env[env_var_name(source, role)] = value
    # Settings only needs to know which credentials are present, not their values.
    return {**environ, **dict.fromkeys(secret_env, "set")}, secret_env


def sandbox_stats(root: str, tls: TlsFiles) -> dict:
    """The sandbox's own counters (requests and injected faults per vendor), read over verified TLS."""
    context = ssl.create_default_context(cafile=str(tls.ca_pem))
    with urllib.request.urlopen(f"{root}/_sandbox/stats", timeout=10, context=context) as response:
        return json.loads(response.read())
