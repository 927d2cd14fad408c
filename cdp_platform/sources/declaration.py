"""What a source is, as data: the one declaration every list of sources is derived from.

A :class:`SourceDeclaration` says everything about a vendor that is not code: its streams (endpoint,
record path, id and change-time fields, paginator, the parameters a daily partition's window is
asked with), its auth kind and credential roles (each one an environment variable
``CDP_<SOURCE>_<ROLE>``), its account options, its quota signals and which pacer reads them, and
when its daily run starts. Settings variables, schedules and their stagger, pacers, resources,
the raw and cleansed assets are built from the registry of these (:mod:`.registry`), so adding a
source is adding its folder, not editing lists elsewhere.

This module imports only ``settings`` (the ground floor), which reads the registry of these.
The fields of a cleansed entity are declared once, in the source's folder, with
:class:`cdp_platform.cleansed.entity.Field` (name, kind, payload path, description, identity role
from ``IDENTITY_ROLES`` there, PII flag); the Pandera schema, the expected payload and the column
list are derived from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cdp_platform.http.errors import ErrorRule
from cdp_platform.settings import env_var_name

# How a source authenticates; each kind is one class in ``cdp_platform.http.auth``.
AUTH_KINDS = (
    "bearer",  # a static token in ``Authorization: Bearer``
    "api_key_header",  # a key in a named header
    "oauth2_refresh_token",  # a refresh token exchanged for access tokens
    "oauth2_client_credentials",  # client id and secret exchanged for access tokens
    "graph_token",  # a Meta Graph token, with appsecret_proof and exchange on expiry
)

# How the next page is asked for, named by mechanism as dlt names them; each kind is one paginator
# in ``cdp_platform.http.pagination`` (``paginator_from_config`` builds it from the params, with
# the stream's ``record_path`` and ``id_field``). A Link header paginator is not needed by any
# source yet (issue 16 lists it).
PAGINATION_KINDS = (
    "next_url",  # the body names the next page's URL (nextRecordsUrl, paging.next)
    "cursor_in_body",  # the body holds a cursor the next request sends (paging.next.after)
    "page_token",  # the body holds a token sent as a query parameter (meta.next_token)
    "offset",  # offset and limit up to a total the body reports (GA4 rowCount)
    "single_page",  # the window is one response
)

# How a daily partition's window [start, end) is written into the request.
WINDOW_FORMATS = (
    "iso_seconds",  # 2026-11-25T00:00:00Z
    "unix_seconds",  # 1764028800
    "unix_millis",  # 1764028800000 (search filters)
    "date",  # 2026-11-25 (GA4 dateRanges, inclusive end = start)
    "soql",  # a SOQL WHERE on the change-time field
)

_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Credential:
    """One secret a source needs, held in ``CDP_<SOURCE>_<ROLE>`` and resolved through ``EnvVar``.

    ``fix`` completes the message of a missing one ("... is not set: <fix>"); an ``optional``
    credential turns on a feature when set (Graph's appsecret_proof) and is never required.
    """

    role: str
    fix: str = "set it to the vendor's credential"
    optional: bool = False
    description: str = ""


@dataclass(frozen=True)
class AccountOption:
    """A non-secret account identifier (an analytics property, a social page) in ``CDP_<SOURCE>_<NAME>``.

    Against the in-process sandbox it comes from the sandbox; against any base URL it must be set.
    """

    name: str
    description: str = ""


@dataclass(frozen=True)
class Pagination:
    """The paginator of a stream: a kind from :data:`PAGINATION_KINDS` and its parameters
    (``record_path`` is the stream's, the rest are the paginator's own: ``cursor_path``,
    ``token_param``, ``total_path``...)."""

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in PAGINATION_KINDS:
            raise ValueError(
                f"pagination kind {self.kind!r} does not exist: use one of {', '.join(PAGINATION_KINDS)}"
            )
        object.__setattr__(self, "params", _frozen(self.params))


@dataclass(frozen=True)
class DailyWindow:
    """How partition D's window [D, D+1) is asked for: the parameters holding its start and end
    (``None`` when one bound is enough), their format, and whether they go in the query string,
    the JSON body or a filter expression."""

    start_param: str | None
    end_param: str | None
    format: str
    location: str = "query"  # query | body | filter

    def __post_init__(self) -> None:
        if self.format not in WINDOW_FORMATS:
            raise ValueError(
                f"window format {self.format!r} does not exist: use one of {', '.join(WINDOW_FORMATS)}"
            )
        if self.location not in ("query", "body", "filter"):
            raise ValueError(f"window location {self.location!r}: use query, body or filter")


@dataclass(frozen=True)
class Endpoint:
    """The first request of a stream's window: method and path (``{option}`` placeholders are
    filled from the account options; ``{parent}`` by a fan-out stream's parent listing)."""

    method: str
    path: str

    def __post_init__(self) -> None:
        if self.method not in ("GET", "POST"):
            raise ValueError(f"endpoint {self.path}: method {self.method!r} is not GET or POST")


@dataclass(frozen=True)
class StreamDeclaration:
    """One endpoint feeding ``raw/<source>/<name>``.

    ``record_path`` is where the page's records are (``records``, ``results``, ``data``);
    ``id_field`` and ``change_time_field`` are paths inside one record. ``fan_out`` names the
    parent listing a stream is asked per item of (comments per recent post); ``hook`` names the
    source's own code for what a declaration cannot say (a search split in time under a
    result cap), living in the source's folder.
    """

    name: str
    description: str
    endpoint: Endpoint
    record_path: str
    id_field: str
    change_time_field: str
    pagination: Pagination
    window: DailyWindow
    fan_out: str | None = None
    hook: str | None = None


@dataclass(frozen=True)
class Quota:
    """The vendor's quota signals and the pacer that reads them.

    ``pacer`` names a pacer in ``cdp_platform.http.pacing`` (by the signal it reads); sources
    sharing one budget (two sources on one app's hourly usage) name the same
    ``budget``, and share one pacer in the process. ``settings`` are the pacer's keyword
    arguments (margins, reserves).
    """

    pacer: str
    signals: tuple[str, ...] = ()
    budget: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", _frozen(self.settings))


@dataclass(frozen=True)
class Schedule:
    """When the source's daily run of yesterday starts (minute past the daily hour, UTC): sources
    start apart so that one budget is spent by one run at a time. ``change_sensor``: the source
    can be asked cheaply whether anything changed (a CRM), so a sensor runs it between schedules.
    """

    minute: int
    change_sensor: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.minute < 60:
            raise ValueError(f"schedule minute {self.minute} is not within 0-59")


# What a person's identifier on a source's network is to identity resolution (ProfileIdentifier.kind).
PROFILE_ID_KINDS = (
    "user_id",  # an id the platform assigned to the person: compared as sent
    "handle",  # a public username, also typed into CRMs: profile URL and ``@`` dropped, lowercased
)


@dataclass(frozen=True)
class ProfileIdentifier:
    """The identifier a person has on this source's network, which identity resolution links on.

    ``column`` names it everywhere downstream: its column in the identity input
    (``int_identity_candidates``, where a CRM record carrying it fills it too), its link and limit
    type, its ``client_identities.identifier_type``; ``client_360`` lists a client's values in
    :attr:`list_column`. ``priority`` orders the links when two conflict over a limit (lower wins; a
    CRM id is 1, an email 3, a web cookie 6, a phone with the same name 7); ``limit`` is how many
    of them one person holds. ``profile_hosts``: the sites whose profile URLs end in the handle
    (``https://<host>/<handle>``), so that a handle typed as its URL is still the handle.
    ``description`` says what its column holds, in the network's terms (shown beside the column of
    the identity candidates).
    """

    column: str
    kind: str
    priority: int
    limit: int = 1
    profile_hosts: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PROFILE_ID_KINDS:
            raise ValueError(
                f"profile identifier {self.column}: kind {self.kind!r} does not exist: "
                f"use one of {', '.join(PROFILE_ID_KINDS)}"
            )
        if not _SOURCE_NAME.match(self.column):
            raise ValueError(f"profile identifier {self.column!r}: use lowercase letters, digits and _")
        if self.priority < 1 or self.limit < 1:
            raise ValueError(f"profile identifier {self.column}: priority and limit must be at least 1")

    @property
    def list_column(self) -> str:
        """The ``client_360`` column listing a client's values (``<column>s``)."""
        return f"{self.column}s"

    @property
    def hash_kind(self) -> str:
        """The kind its values are keyed-hashed as: every handle alike (one normalization), a
        platform's user id as its own kind."""
        return "handle" if self.kind == "handle" else self.column


@dataclass(frozen=True)
class SourceDeclaration:
    """Everything about one source that is data; its folder adds the code its quirks need."""

    name: str
    title: str
    description: str
    auth: str
    credentials: tuple[Credential, ...]
    streams: tuple[StreamDeclaration, ...]
    quota: Quota
    schedule: Schedule
    options: tuple[AccountOption, ...] = ()
    # Where the registry lists it among the shipped sources (their settings, jobs and the
    # definitions snapshot keep one order); a source without a position follows them, by name.
    position: int | None = None
    # Records per page the API allows, for ``CDP_<SOURCE>_PAGE_SIZE``.
    page_size: tuple[int, int, int] | None = None  # (default, low, high)
    # The identifier people have on the source's network, when identity resolution links on it.
    profile_identifier: ProfileIdentifier | None = None
    # The API's base URL when the declaration knows it (a source declared in a YAML file);
    # ``CDP_<SOURCE>_BASE_URL`` replaces it. None: the environment or the bundled sandbox.
    base_url: str | None = None
    # What the vendor's error bodies mean (throttle, expired credential, spent quota), read by the
    # generic classifier in ``cdp_platform.http.errors``; first match wins.
    errors: tuple[ErrorRule, ...] = ()

    def __post_init__(self) -> None:
        if not _SOURCE_NAME.match(self.name):
            raise ValueError(f"source name {self.name!r}: use lowercase letters, digits and _")
        if self.auth not in AUTH_KINDS:
            raise ValueError(
                f"{self.name}: auth kind {self.auth!r} does not exist: use one of {', '.join(AUTH_KINDS)}"
            )
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: stream names repeat: {names}")
        roles = [c.role for c in self.credentials] + [o.name for o in self.options]
        if len(set(roles)) != len(roles) or {"base_url", "page_size"} & set(roles):
            raise ValueError(
                f"{self.name}: credential and option names must be distinct and not base_url/page_size"
            )
        for stream in self.streams:
            if stream.fan_out is not None and stream.fan_out not in names:
                raise ValueError(f"{self.name}/{stream.name}: fans out over unknown stream {stream.fan_out}")

    @property
    def credential_roles(self) -> tuple[str, ...]:
        return tuple(c.role for c in self.credentials)

    @property
    def optional_roles(self) -> frozenset[str]:
        return frozenset(c.role for c in self.credentials if c.optional)

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def env_var(self, role: str) -> str:
        return env_var_name(self.name, role)

    def credential(self, role: str) -> Credential:
        for credential in self.credentials:
            if credential.role == role:
                return credential
        raise KeyError(f"{self.name} has no credential {role!r}; it has {self.credential_roles}")

    def stream(self, name: str) -> StreamDeclaration:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"{self.name} has no stream {name!r}; it has {[s.name for s in self.streams]}")

    @property
    def pacing_budget(self) -> str:
        """The pacer shared by every source spending this budget."""
        return self.quota.budget or self.name
