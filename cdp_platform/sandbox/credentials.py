"""The credentials the sandbox accepts, and the stateless tokens it issues.

The platform's local settings point every source at the sandbox with these constants, so a fresh
checkout runs without secrets. They are deliberately public: they unlock only synthetic data.
An app built with other values (``create_app(credentials=...)``) accepts only those, which is how
tests prove a connector really sends what it was given.

Issued tokens (login sessions, OAuth access tokens, exchanged long-lived tokens) are signed
strings that carry their own issue time, so validating one needs no server-side table and a
long-running sandbox does not grow memory with every token it hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import field, make_dataclass
from typing import TYPE_CHECKING, Any

from cdp_platform.sandbox.plugins import emulated_vendors, source_mounts

if TYPE_CHECKING:
    SandboxCredentials = Any

# The per-vendor values are declared by the vendor modules (``EmulatedVendor.accepts``, ``.public``,
# each mount's ``credentials``); the names below are built from them on first use, not on import
# (see cdp_platform.sandbox.plugins): ``SandboxCredentials``, ``SANDBOX_CREDENTIALS``, and each
# vendor's public constants (``credentials.<NAME>``).


def _credentials_class() -> type:
    """What each emulated vendor accepts, one field per declared setting, defaults the documented
    public constants. A frozen dataclass, so its repr (part of the token key) is stable."""
    fields = [
        (name, Any, field(default=default))
        for vendor in emulated_vendors()
        for name, default in vendor.accepts.items()
    ]
    cls = make_dataclass("SandboxCredentials", fields, frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = "What each emulated vendor accepts. Defaults are the vendors' public sandbox constants."
    return cls


def _sandbox_credentials() -> dict[str, dict[str, str]]:
    """What the in-process sandbox is given per platform source and credential role (the roles of
    cdp_platform.settings.VENDOR_CREDENTIALS): the local default sets a vendor resource's credentials
    from here when the environment sets none (cdp_platform.sandbox.wiring)."""
    return {source: dict(mount.credentials) for source, mount in source_mounts().items() if mount.credentials}


_LAZY: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # the import system probes modules for __path__ and the like
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _LAZY:
        if name == "SandboxCredentials":
            _LAZY[name] = _credentials_class()
        elif name == "SANDBOX_CREDENTIALS":
            _LAZY[name] = _sandbox_credentials()
        else:
            public = {key: value for vendor in emulated_vendors() for key, value in vendor.public.items()}
            if name not in public:
                raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
            _LAZY[name] = public[name]
    return _LAZY[name]


class TokenSigner:
    """Issues and checks ``<prefix><issued_ms>.<mac>`` tokens keyed by a per-app secret.

    The key is derived from the seed and the credentials, so two apps with the same inputs issue the
    same token bytes at the same clock reading (reproducible responses), and a token from one
    credential set is rejected by an app built with another.
    """

    def __init__(self, seed: int, credentials: Any) -> None:
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
        """A base64 HMAC over parts, like a login answer's ``signature`` of id + issued_at."""
        digest = hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
