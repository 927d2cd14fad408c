"""Keyed hashes of personal identifiers: HMAC-SHA256 of a normalized value.

Why keyed: an unkeyed SHA-256 of an email or a phone number is reversible by enumeration (there are
only ~10^10 phone numbers per country); an HMAC with a secret key is not, without the key. Why
normalized: the same person writes ``Ann.Lee@Gmail.com `` and ``annlee@gmail.com``, or ``(415) 555-0123``
and ``+14155550123``; the erasure request, the suppression list and every later ingestion must
derive the same hash from any of those spellings.

Every hash is of ``"<kind>:<normalized value>"`` so that an email and a social network's user id
that happen to be the same text never collide. Kinds are the identifier kinds of :func:`kinds`.

The key: ``CDP_PRIVACY_HMAC_KEY`` (read at run time through Dagster ``EnvVar``; at least 32
characters), required in production. Locally, when unset, a random key is created once per
installation in the lake (``<lake root>/_privacy/hmac.key``, mode 0600 on a folder) and reused from
then on. Changing the key makes every stored hash unmatchable: the suppression list
would stop suppressing. Rotate by re-hashing, never by swapping the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from functools import cache
from pathlib import Path

from cdp_platform.cleansed.normalize import phone_to_e164
from cdp_platform.io.lake import Lake, LocalLake

# The local key file, relative to the lake root (see :func:`privacy_key`).
KEY_FILE = "_privacy/hmac.key"
MIN_KEY_LENGTH = 32

# Identifier kinds a hash can be of. ``email`` and ``phone`` are normalized below; the others are
# vendor or platform ids compared as trimmed text (``handle`` also lowercased without ``@``). Each
# declared social network's user id is a kind of its own (:func:`kinds`); every network's handle
# is a ``handle``.
_KINDS_BEFORE: tuple[str, ...] = ("email", "phone", "client_id", "record_id", "crm_id")
_KINDS_AFTER: tuple[str, ...] = (
    "handle",
    "ga_client_id",
    "name",
    "person",  # a person key as identity resolution names it: ``<source>:<kind>:<id>``
)


@cache
def kinds() -> tuple[str, ...]:
    """Every identifier kind a hash can be of."""
    from cdp_platform.sources.profiles import profile_identifiers  # imports the sources' folders

    user_ids = tuple(p.hash_kind for p in profile_identifiers() if p.kind == "user_id")
    return (*_KINDS_BEFORE, *user_ids, *_KINDS_AFTER)


def __getattr__(name: str) -> object:
    # ``KINDS`` is derived from the declared sources on first use, not at import: the raw layer
    # imports this module while the registry may still be importing the sources' folders.
    if name == "KINDS":
        return kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PrivacyKeyError(RuntimeError):
    """The HMAC key is missing or unusable; the message names the variable and the fix."""


def normalize_email(value: str | None) -> str | None:
    """Trimmed, lowercased, inner whitespace removed; for Gmail (and googlemail.com) dots and
    ``+tags`` in the local part dropped, since Gmail delivers all of those to one mailbox. The same
    rules as identity matching, so an erasure by one spelling finds the others."""
    if value is None:
        return None
    text = re.sub(r"\s+", "", str(value)).lower()
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if not local or "." not in domain:
        return None
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain == "gmail.com":
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}" if local else None


def normalize_phone(value: str | None, default_region: str = "US") -> str | None:
    """E.164 (``+14155550123``) via ``phonenumbers``, or ``None`` when it is not a valid number."""
    if value is None:
        return None
    return phone_to_e164(str(value), default_region)


def normalize_handle(value: str | None) -> str | None:
    if value is None:
        return None
    from cdp_platform.sources.profiles import profile_hosts_pattern  # imports the sources' folders

    text = str(value).strip().lower()
    hosts = profile_hosts_pattern()
    if hosts is not None:  # a handle typed as its profile URL (``https://<host>/<handle>``)
        text = re.sub(rf"^(https?://)?(www\.|mobile\.)?({hosts})/", "", text)
    text = re.sub(r"[/?#].*$", "", text).lstrip("@").strip()
    return text or None


def normalize_name(value: str | None) -> str | None:
    """Lowercased words separated by one space (only used to hash the audit of a name match)."""
    if value is None:
        return None
    text = re.sub(r"\s+", " ", str(value)).strip().lower()
    return text or None


def normalize(kind: str, value: object, default_region: str = "US") -> str | None:
    """The canonical text of an identifier of ``kind``, or ``None`` when it is empty or unreadable."""
    if kind not in kinds():
        raise ValueError(f"unknown identifier kind {kind!r}: use one of {', '.join(kinds())}")
    if value is None:
        return None
    if kind == "email":
        return normalize_email(str(value))
    if kind == "phone":
        return normalize_phone(str(value), default_region)
    if kind == "handle":
        return normalize_handle(str(value))
    if kind == "name":
        return normalize_name(str(value))
    text = str(value).strip()
    return text or None


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of ``value`` (UTF-8) under ``key``, as 64 lowercase hex characters."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def identifier_hash(kind: str, value: object, key: bytes, default_region: str = "US") -> str | None:
    """The keyed hash of a normalized identifier (``"<kind>:<normalized>"``), or ``None`` when the
    value normalizes to nothing. Use this, not :func:`keyed_hash`, for anything that must match
    the suppression list or the audit log."""
    normalized = normalize(kind, value, default_region)
    return None if normalized is None else keyed_hash(f"{kind}:{normalized}", key)


def key_from_text(text: str, variable: str = "CDP_PRIVACY_HMAC_KEY") -> bytes:
    """A configured key, checked for length (the value itself is never echoed)."""
    text = text.strip()
    if len(text) < MIN_KEY_LENGTH:
        raise PrivacyKeyError(
            f"{variable} is too short ({len(text)} characters): use at least {MIN_KEY_LENGTH}, "
            "e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    return text.encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """A short public id of a key (12 hex characters of a keyed hash of a constant), stored beside
    hashes so that a key that changed is detected instead of silently matching nothing."""
    return keyed_hash("cdp:privacy-key-fingerprint", key)[:12]


def privacy_key(lake: Lake, *, production: bool = False, create: bool = True) -> bytes:
    """The installation's HMAC key: ``CDP_PRIVACY_HMAC_KEY`` (resolved at run time through Dagster
    ``EnvVar``), else, outside production, the key file ``_privacy/hmac.key`` in the lake, created
    once with a random 256-bit key.

    The key file lives in the lake because every process that hashes (raw ingestion on any
    machine, the erasure job, the ``cdp`` CLI) already shares the lake and nothing else. That also
    means whoever can read the lake can read the key: fine for a laptop, which is why production
    refuses to start without the variable (``check_settings``) and never falls back here.

    ``create=False`` refuses to make a new key file: a reader of existing hashes (ingestion reading
    the suppression list) must not mint a key that matches none of them.
    """
    import dagster as dg

    from cdp_platform.settings import PRIVACY_HMAC_KEY_VAR

    configured = dg.EnvVar(PRIVACY_HMAC_KEY_VAR).get_value()
    if configured is not None and configured.strip():
        return key_from_text(configured, PRIVACY_HMAC_KEY_VAR)
    if production:
        raise PrivacyKeyError(
            f"{PRIVACY_HMAC_KEY_VAR} is not set: production needs a stable secret key for the keyed "
            "hashes of the suppression list and the erasure audit log (at least 32 characters, kept in "
            "your secret store)."
        )
    return _key_from_lake(lake, create)


def _key_from_lake(lake: Lake, create: bool = True) -> bytes:
    if lake.exists(KEY_FILE):
        return _checked_key_file(lake, lake.read_bytes(KEY_FILE).decode())
    if not create:
        raise PrivacyKeyError(
            f"neither CDP_PRIVACY_HMAC_KEY nor the key file {lake.uri(KEY_FILE)} is there, but hashes made "
            "with a key are: restore the key file (or set the variable to the key that made them)."
        )
    key = secrets.token_hex(32)
    if isinstance(lake, LocalLake):
        # O_EXCL: two processes creating the key at once cannot end up with two different keys;
        # the loser reads the winner's file. (Written in place, so fsync before anyone reads it.)
        path = Path(lake.root) / KEY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _checked_key_file(lake, path.read_text())
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key.encode("utf-8")
    # An S3 lake outside production (a test bucket, a shared dev bucket): the first erasure creates
    # the key, long before anything else needs it, so two writers racing here is not a real case.
    lake.write_bytes(KEY_FILE, (key + "\n").encode())
    return _checked_key_file(lake, lake.read_bytes(KEY_FILE).decode())


def _checked_key_file(lake: Lake, text: str) -> bytes:
    if len(text.strip()) < MIN_KEY_LENGTH:
        raise PrivacyKeyError(
            f"the privacy key file {lake.uri(KEY_FILE)} is empty or too short: if no erasure has been "
            "recorded yet, delete it to create a new one; otherwise restore it from a backup."
        )
    return text.strip().encode("utf-8")
