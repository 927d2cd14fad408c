"""TLS for vendor calls: certificate verification is always on; extra CAs can be trusted.

Every vendor client verifies the server's certificate chain and host name. The trust store is
the Mozilla bundle shipped as ``certifi`` (httpx's own default), plus, when ``CDP_CA_BUNDLE`` names
a PEM file, the CAs in that file: the way to reach a vendor through a TLS-inspecting proxy or a
private endpoint signed by an in-house CA without ever switching verification off.

The context is built once per CA bundle and shared by every client of the process: loading a trust
store costs tens of milliseconds and a run opens a client per stream.

A certificate that does not verify is not a passing network fault: retrying cannot fix it, so the
client fails at once with :class:`TlsVerificationError`, which names the vendor, the host, what the
TLS library objected to and the setting to configure.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import certifi

from .errors import VendorTransportError

CA_BUNDLE_VAR = "CDP_CA_BUNDLE"


class CaBundleError(ValueError):
    """The configured CA bundle cannot be used; the message names the variable and the fix."""


def check_ca_bundle(path: str | Path) -> None:
    """Raise :class:`CaBundleError` unless ``path`` is a readable PEM file with at least one CA."""
    file = Path(path)
    if not file.is_file():
        raise CaBundleError(
            f"{CA_BUNDLE_VAR}={str(path)!r}: no such file; set it to a PEM file holding the CA "
            "certificate(s) to trust for vendor endpoints, or unset it to use the default trust store."
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=str(file))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise CaBundleError(
            f"{CA_BUNDLE_VAR}={str(path)!r} is not a readable PEM file of CA certificates "
            f"({getattr(exc, 'strerror', None) or exc}); export the CA as PEM (-----BEGIN CERTIFICATE-----)."
        ) from None
    if not context.get_ca_certs():
        raise CaBundleError(
            f"{CA_BUNDLE_VAR}={str(path)!r} holds no CA certificate; export the CA as PEM "
            "(-----BEGIN CERTIFICATE-----)."
        )


@functools.lru_cache(maxsize=8)
def _context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_bundle:
        check_ca_bundle(ca_bundle)
        context.load_verify_locations(cafile=ca_bundle)
    return context


def tls_context(ca_bundle: str | Path | None = None) -> ssl.SSLContext:
    """The verifying SSL context for vendor clients: the default trust store plus ``ca_bundle``."""
    return _context(str(Path(ca_bundle).resolve()) if ca_bundle else None)


def require_verification(context: ssl.SSLContext) -> ssl.SSLContext:
    """Refuse a context that would not check the certificate or the host name."""
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise ValueError(
            "vendor clients always verify TLS certificates and host names; to trust a private CA, "
            f"set {CA_BUNDLE_VAR} to its PEM file instead of turning verification off"
        )
    return context


def certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure behind an httpx error, if that is what it is.

    httpx and httpcore re-raise the ``ssl`` exception as their own ``ConnectError``; the original
    is kept as the cause (or context) of each wrapper.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reason(error: ssl.SSLCertVerificationError) -> str:
    reason = getattr(error, "verify_message", None) or error.reason or str(error)
    return str(reason)


class TlsVerificationError(VendorTransportError):
    """The vendor's TLS certificate did not verify against the trusted CAs. Not retried."""

    kind_name = "tls_verification_failed"

    def __init__(self, vendor: str, origin: str, reason: str, request: dict, attempts: int = 1) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(vendor, self.kind_name, reason, request, attempts)
        # Replace the generic transport message with one that says what to do.
        self.args = (
            f"{vendor}: TLS certificate verification failed for {origin} ({reason}). The request was "
            f"not sent. If this endpoint (or a proxy in between) uses a private or self-signed CA, set "
            f"{CA_BUNDLE_VAR} to a PEM file holding that CA; verification is never turned off.",
        )

    def __str__(self) -> str:
        return str(self.args[0])


def tls_verification_error(
    vendor: str, exc: BaseException, url: str, request: dict, attempts: int
) -> TlsVerificationError | None:
    """A :class:`TlsVerificationError` for ``exc`` if it is a certificate failure, else None.

    ``url`` must already be redacted; only its scheme, host and port are shown.
    """
    error = certificate_error(exc)
    if error is None:
        return None
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return TlsVerificationError(vendor, origin, _reason(error), request, attempts)
