"""The sandbox's emulated vendors as plug-ins, so that adding one touches only its own module.

Every module (or package) of :mod:`cdp_platform.sandbox.vendors` that defines ``VENDOR``, an
:class:`EmulatedVendor`, is one emulated vendor; the other modules there (``common``, ``names``) are
helpers. A vendor declares everything the shared modules used to list per vendor: its mounts (path
prefix, the platform source served there, that source's public credentials and account options),
the credentials and quotas its API accepts (the fields of ``SandboxCredentials`` and
``RateLimitSettings``), the quota windows a pacer must be told at a faster clock, and its webhook
senders. :mod:`~cdp_platform.sandbox.app`, :mod:`~cdp_platform.sandbox.in_process`,
:mod:`~cdp_platform.sandbox.credentials`, :mod:`~cdp_platform.sandbox.ratelimit`,
:mod:`~cdp_platform.sandbox.faults` and :mod:`~cdp_platform.sandbox.webhooks` read them from
:func:`emulated_vendors` and name no vendor.

Order is part of the sandbox's output (the fields of ``SandboxCredentials`` feed the key its tokens
are signed with, the mounts order the stats and error messages), so it is declared, not found:
vendors are listed by ``position``, then by module name, as the platform's sources are.

Discovery imports the vendor modules, which import the shared modules; so the shared modules call
:func:`emulated_vendors` when used, never while being imported (their per-vendor tables are
module ``__getattr__`` attributes computed on first use).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

VENDORS_PACKAGE = "cdp_platform.sandbox.vendors"


@dataclass(frozen=True)
class Mount:
    """One path prefix of the sandbox app, and what the platform source served there is given.

    ``prefix`` is also the vendor's name in fault specs and stats (``faults={"<prefix>": "storm"}``).
    """

    prefix: str
    # The platform source (cdp_platform.sources.registry) whose API this is; None: none uses it yet.
    source: str | None
    # Credential role (cdp_platform.settings.VENDOR_CREDENTIALS) -> the public sandbox value.
    credentials: Mapping[str, str] = field(default_factory=dict)
    # The account identifiers the source's connector needs, read from the sandbox's data.
    account_options: Callable[[Any], dict[str, str]] | None = None
    # The person-written text streams the source's interactions come from (graded for sentiment).
    person_texts: tuple[str, ...] = ()
    # Entity -> which of the emulated account's fields hold which network's handle, in the syntax
    # of the source's ``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS`` (cdp_platform.cleansed.handles): the
    # account's configuration, which the local default takes from here.
    handle_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookSender:
    """How one vendor posts its changes to a receiver's ``/webhooks/<name>``.

    ``event(data, stream, position, record_id, at_ms)`` gives the (event id, event item) of one
    changed record of ``streams``; ``body(changes, attempt)`` the request body of a batch of
    changes (each with its ``item`` and ``occurred_ms``, :class:`cdp_platform.sandbox.webhooks.Change`);
    ``sign(body, url, secrets, now)`` the headers the vendor adds (besides the content type);
    ``forged_id(number, event_id)`` the event id a forged copy carries.
    """

    name: str
    # Environment variable -> public value; a receiver given these accepts the sandbox's webhooks.
    secrets: Mapping[str, str]
    sign: Callable[[bytes, str, Mapping[str, str], float], dict[str, str]]
    streams: tuple[str, ...] = ()
    event: Callable[[Any, str, int, str, int], tuple[str, dict[str, Any]]] | None = None
    body: Callable[[Sequence[Any], int], Any] | None = None
    batch: int = 1  # events per request (consecutive events of this vendor are batched)
    forged_id: Callable[[int, str], str] = lambda number, event_id: f"forged-{number}"
    # Applied to a forged item after its event id was replaced (an id kept as a number, say).
    forged_item: Callable[[dict[str, Any], str], None] | None = None


@dataclass(frozen=True)
class IdentityRows:
    """How one stream's records become rows of the resolver's input (``sandbox_candidates``).

    ``row(data, record)`` maps a vendor record to identity columns (None: not about an identifiable
    person). ``links``: the rows only link to records of other streams (a logged-in visitor's CRM
    contact id); such streams come after all the others, so the records they link come first.
    """

    stream: str
    row: Callable[[Any, dict[str, Any]], dict[str, str | None] | None]
    links: bool = False


@dataclass(frozen=True)
class PurchaseRecords:
    """Where the purchases the population routes to one system (``cdp_platform.sandbox.purchases``)
    show: the stream, and the record id of that system's n-th purchase."""

    system: int
    stream: str
    record_id: Callable[[Any, int], str]


@dataclass(frozen=True)
class StreamBuilder:
    """How ``SandboxData`` builds one stream the vendor serves.

    ``build(data, built)`` makes the stream's generator (a ``records._Stream``) from the SandboxData
    being built and the streams built so far, by name (deals read their contacts, comments their
    posts). ``customers_of``: the stream's persons are the customers of this purchase system (the
    population buys in the CRMs it is in), so it is built before the purchases are simulated, and
    can then not read them. ``texts``: the records are texts with a true sentiment, written by the
    brand (True) or by persons (False); None: no texts.
    """

    stream: str
    build: Callable[[Any, Mapping[str, Any]], Any]
    customers_of: int | None = None
    texts: bool | None = None


@dataclass(frozen=True)
class EmulatedVendor:
    """What one emulated vendor adds to the sandbox (see the module docstring)."""

    position: int
    # Builds the API (routes, data paths, fault responses) from the app's SandboxState; one instance
    # serves every mount of the vendor.
    api: Callable[[Any], Any]
    mounts: tuple[Mount, ...]
    # Fields of SandboxCredentials, in order: name -> default (what the API accepts).
    accepts: Mapping[str, Any] = field(default_factory=dict)
    # Fields of RateLimitSettings, in order: name -> nominal default.
    quotas: Mapping[str, Any] = field(default_factory=dict)
    # Public constants re-exported by cdp_platform.sandbox.credentials under these names.
    public: Mapping[str, str] = field(default_factory=dict)
    # HTTP vendor name (cdp_platform.http.pacing) -> its pacer's settings at a time scale != 1.
    pacer_settings: Mapping[str, Callable[[float], dict[str, Any]]] = field(default_factory=dict)
    webhooks: tuple[WebhookSender, ...] = ()

    # ---- what it serves of the synthetic world, and what it adds to the truth ----
    # Its SandboxData streams, in order (config.STREAMS is every vendor's, in vendor order).
    builders: tuple[StreamBuilder, ...] = ()
    # Those whose records never change after creation (their modified time is their created time).
    immutable_streams: frozenset[str] = frozenset()
    # Records it serves beyond the SandboxData streams: (stream, record ids, person index per record,
    # last change in epoch ms) per stream, written into the truth's records.parquet after the streams.
    truth_records: Callable[[Any], list[tuple[str, list[str], Any, Any]]] | None = None
    # The purchases it carries (a won deal, a succeeded charge), per purchase system.
    purchases: tuple[PurchaseRecords, ...] = ()
    # Its records as the resolver's input.
    identity_rows: tuple[IdentityRows, ...] = ()
    # Every identity candidate key (as the pipeline's int_identity_candidates keys them) its records
    # produce, with the person index of each: (keys, persons) pairs.
    identity_keys: Callable[[Any], list[tuple[list[str], Any]]] | None = None
    # Its facts about one world, set as SandboxData attributes (``data.<name>``) before any stream is
    # built: account ids derived from the seed, look-ups its records and tests need.
    facts: Callable[[Any], Mapping[str, Any]] | None = None
    # How its users type a person (population.SourceProfile) per system name (its records' source_view).
    noise_profiles: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""  # the module's name, set by discovery


@cache
def emulated_vendors() -> tuple[EmulatedVendor, ...]:
    """Every vendor module's declaration, by position then name."""
    package = importlib.import_module(VENDORS_PACKAGE)
    found: list[EmulatedVendor] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{VENDORS_PACKAGE}.{info.name}")
        declared = getattr(module, "VENDOR", None)
        if declared is None:
            continue
        if not isinstance(declared, EmulatedVendor):
            raise TypeError(f"{module.__name__}.VENDOR must be an EmulatedVendor, got {type(declared).__name__}")
        found.append(EmulatedVendor(**{**declared.__dict__, "name": info.name}))
    found.sort(key=lambda vendor: (vendor.position, vendor.name))
    _check_unique(found)
    return tuple(found)


def _check_unique(vendors: Sequence[EmulatedVendor]) -> None:
    """Two vendors claiming one prefix, source, setting or webhook would silently shadow each other."""
    for what, names in (
        ("mount prefix", [m.prefix for v in vendors for m in v.mounts]),
        ("source", [m.source for v in vendors for m in v.mounts if m.source is not None]),
        ("credential setting", [n for v in vendors for n in v.accepts]),
        ("quota setting", [n for v in vendors for n in v.quotas]),
        ("public constant", [n for v in vendors for n in v.public]),
        ("noise profile", [n for v in vendors for n in v.noise_profiles]),
        ("webhook sender", [w.name for v in vendors for w in v.webhooks]),
        ("stream", [b.stream for v in vendors for b in v.builders]),
        ("purchase system", [str(p.system) for v in vendors for p in v.purchases]),
        ("customers of system", [f"customers of {b.customers_of}" for v in vendors for b in v.builders if b.customers_of is not None]),
    ):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                owners = [v.name for v in vendors if name in _names_of(v)]
                raise ValueError(f"the emulated vendors {owners} both declare the {what} {name!r}")
            seen.add(name)


def _names_of(vendor: EmulatedVendor) -> set[str]:
    return {
        *(m.prefix for m in vendor.mounts),
        *(m.source for m in vendor.mounts if m.source is not None),
        *vendor.accepts,
        *vendor.quotas,
        *vendor.public,
        *vendor.noise_profiles,
        *(w.name for w in vendor.webhooks),
        *(b.stream for b in vendor.builders),
        *(str(p.system) for p in vendor.purchases),
        *(f"customers of {b.customers_of}" for b in vendor.builders if b.customers_of is not None),
    }


def mounts() -> tuple[Mount, ...]:
    """Every mount of every vendor, in vendor order."""
    return tuple(mount for vendor in emulated_vendors() for mount in vendor.mounts)


def source_mounts() -> dict[str, Mount]:
    """Platform source -> the mount serving its API."""
    return {mount.source: mount for mount in mounts() if mount.source is not None}


def webhook_senders() -> dict[str, WebhookSender]:
    """Webhook sender name -> sender, in vendor order."""
    return {sender.name: sender for vendor in emulated_vendors() for sender in vendor.webhooks}


def builders() -> tuple[StreamBuilder, ...]:
    """Every SandboxData stream's builder, in vendor order."""
    return tuple(builder for vendor in emulated_vendors() for builder in vendor.builders)


def streams() -> tuple[str, ...]:
    """Every SandboxData stream, in vendor order."""
    return tuple(builder.stream for builder in builders())
