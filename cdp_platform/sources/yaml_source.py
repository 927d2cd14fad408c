"""Sources declared in YAML files: a REST API we do not ship, added by configuration.

``CDP_SOURCES_DIR`` names a folder; each ``*.yaml``/``*.yml`` file in it declares one source (see
README, "Declaring a source in YAML", and ``cdp_platform/sources/examples/loyalty.yaml``). A file
becomes exactly what a shipped source's folder holds: a :class:`SourceDeclaration` (streams,
endpoint, paginator, daily window, auth kind and credential roles, pacing, schedule) and the
:class:`CleansedEntity` of each stream, so the registry derives its settings variables, raw and
cleansed assets, schedule, pool and pacer like any other source's (:mod:`.yaml_source_runtime`
adds the request and the resource a declaration alone does not make).

A file is validated strictly before anything is built: an unknown key, a missing field or a value
outside its kinds (pagination, auth, window format, field type, identity role) stops the load with
a :class:`SourceFileError` naming the file, the line and the fix. PyYAML's composed nodes keep each
value's line, so the message points at the value that is wrong, or at the mapping a field is
missing from. Secrets are never read from the file: each credential is ``CDP_<SOURCE>_<ROLE>`` in
the environment, as for the shipped sources.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from cdp_platform.cleansed.entity import KINDS, CleansedEntity, Field, PersonKey
from cdp_platform.http.errors import ErrorRule
from cdp_platform.http.pagination import PAGINATORS
from cdp_platform.http.redaction import SECRET_PARAMS
from cdp_platform.settings import SettingsError, env_var_name
from cdp_platform.sources.declaration import (
    _SOURCE_NAME,
    PAGINATION_KINDS,
    Credential,
    DailyWindow,
    Endpoint,
    Pagination,
    Quota,
    Schedule,
    SourceDeclaration,
    StreamDeclaration,
)

SOURCES_DIR_VAR = "CDP_SOURCES_DIR"


class SourceFileError(SettingsError):
    """A source file that cannot be loaded: ``<file>:<line>: <problem>. Fix: <fix>``.

    A :class:`SettingsError`, so whatever stops the load on a wrong setting (the code location,
    ``cdp`` commands) stops it on a wrong source file with this message.
    """

    def __init__(self, path: Path | str, line: int, problem: str, fix: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}:{line}: {problem}. Fix: {fix}")


# The auth kinds a file may name and the credential roles (environment variables) each needs;
# ``graph_token`` is Meta's own exchange, for the shipped Graph sources only.
AUTH_ROLES: dict[str, tuple[str, ...]] = {
    "bearer": ("access_token",),
    "api_key_header": ("api_key",),
    "oauth2_client_credentials": ("client_id", "client_secret"),
    "oauth2_refresh_token": ("client_id", "client_secret", "refresh_token"),
}
_CREDENTIAL_FIX = {
    "access_token": "set it to the API's access token",
    "api_key": "set it to the API key",
    "client_id": "set it to the OAuth client's id",
    "client_secret": "set it to the OAuth client's secret",
    "refresh_token": "set it to a refresh token issued to the OAuth client",
}
# What a REST API without a vocabulary of its own says in its error bodies, by the standards:
# RFC 6750's ``{"error": "invalid_token"}`` is an expired or revoked token (renewed once, by the
# OAuth kinds); the status alone already tells a 429 or a 5xx.
STANDARD_ERRORS = (ErrorRule("expired_credentials", equals={"error": ("invalid_token",)}),)
# Window formats a request can write without code (``soql`` needs a source's own query builder).
WINDOW_FORMATS = ("iso_seconds", "unix_seconds", "unix_millis", "date")
WINDOW_LOCATIONS = ("query", "body")
METHODS = ("GET", "POST")
# Identity roles a file may give a field, and the column of the identity candidates each fills
# (the columns of ``int_identity_candidates``). ``external_id`` is an id other systems share for
# the person (the CRM contact id the source stores): candidates with the same one are linked.
CANDIDATE_COLUMN = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": "full_name",
    "date_of_birth": "date_of_birth",
    "street": "street",
    "city": "city",
    "postcode": "postcode",
    "country": "country",
    "country_code": "country",
    "external_id": "crm_id",
}
IDENTITY_ROLES = tuple(CANDIDATE_COLUMN)
# Columns every cleansed table has already, which a field may not be named.
_RESERVED_FIELDS = ("record_id", "updated_at", "partition_date")
# Keys a paginator takes from the stream itself, not from its ``pagination`` mapping.
_STREAM_PAGINATOR_KEYS = ("record_path", "id_field")


@dataclass(frozen=True)
class PageSize:
    """The request parameter carrying the page size, its default and the API's bounds."""

    param: str
    default: int
    low: int
    high: int


@dataclass(frozen=True)
class ConfiguredStream:
    """A stream's declaration and what its first request adds: fixed query parameters, a fixed
    JSON body (POST), and where the window and the page size go."""

    declaration: StreamDeclaration
    params: Mapping[str, Any]
    body: Mapping[str, Any] | None


@dataclass(frozen=True)
class ConfiguredAuth:
    kind: str
    header: str | None = None  # api_key_header
    token_url: str | None = None  # oauth2_*
    scope: str | None = None


@dataclass(frozen=True)
class ConfiguredSource:
    """One source file, loaded: the declaration, its cleansed entities and what its requests and
    client need beside them."""

    path: Path
    declaration: SourceDeclaration
    auth: ConfiguredAuth
    streams: tuple[ConfiguredStream, ...]
    entities: tuple[CleansedEntity, ...]
    page_size: PageSize | None
    requests_per_second: float | None
    max_concurrency: int | None

    @property
    def name(self) -> str:
        return self.declaration.name


def load_sources_dir(folder: Path, builtin: Collection[str]) -> tuple[ConfiguredSource, ...]:
    """Every ``*.yaml``/``*.yml`` file of ``folder``, by file name; ``builtin`` are the names a
    file may not take (the shipped sources)."""
    if not folder.is_dir():
        raise SettingsError(
            f"{SOURCES_DIR_VAR}={str(folder)!r} is not a folder: point it at the folder holding the "
            "source files (*.yaml), or unset it."
        )
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    loaded: list[ConfiguredSource] = []
    for path in files:
        source = load_source_file(path, builtin)
        for earlier in loaded:
            if earlier.name == source.name:
                raise SourceFileError(
                    path,
                    1,
                    f"source {source.name!r} is declared again (first in {earlier.path.name})",
                    "give each file its own source name, or remove one of the two files",
                )
        loaded.append(source)
    return tuple(loaded)


def load_source_file(path: Path, builtin: Collection[str] = ()) -> ConfiguredSource:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceFileError(
            path, 1, f"cannot be read ({exc})", "make it a readable UTF-8 text file"
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise SourceFileError(
            path,
            line,
            f"is not valid YAML ({exc.problem or exc.context})",
            "correct the YAML syntax at that line",
        ) from None
    except yaml.YAMLError as exc:
        raise SourceFileError(path, 1, f"is not valid YAML ({exc})", "correct the YAML syntax") from None
    if root is None:
        raise SourceFileError(path, 1, "is empty", f"declare a source in it, e.g. `source: {path.stem}`")
    return _Reader(path).source(root, builtin)


class _Reader:
    """Reads one file's node tree into declarations, failing on the first problem with its line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._constructor = SafeConstructor()

    # -- errors and plain values ---------------------------------------------------------------

    def fail(self, node: yaml.Node, problem: str, fix: str) -> SourceFileError:
        return SourceFileError(self.path, node.start_mark.line + 1, problem, fix)

    def mapping(
        self, node: yaml.Node, what: str, required: Mapping[str, str], optional: Sequence[str] = ()
    ) -> dict[str, yaml.Node]:
        """The mapping's values by key; ``required`` maps each required key to an example line."""
        if not isinstance(node, yaml.MappingNode):
            example = "\n  ".join(required.values()) or "{}"
            raise self.fail(node, f"{what} must be a mapping of keys to values", f"write it as\n  {example}")
        allowed = [*required, *optional]
        values: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(
                    key_node,
                    f"{what} has a key {key!r} that is not a name",
                    f"use one of: {', '.join(allowed)}",
                )
            if key in values:
                raise self.fail(key_node, f"{what} has the key {key!r} twice", "keep one of them")
            if key not in allowed:
                raise self.fail(key_node, f"unknown key {key!r} in {what}", self._unknown_fix(key, allowed))
            values[key] = value_node
        for key, example in required.items():
            if key not in values:
                raise self.fail(node, f"{what} has no {key!r}", f"add it, e.g. `{example}`")
        return values

    @staticmethod
    def _unknown_fix(key: str, allowed: Sequence[str]) -> str:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}the keys allowed here are: {', '.join(allowed)}"

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return node  # the caller reports what it expected
        try:
            return self._constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            raise self.fail(node, f"value cannot be read ({exc.problem})", "write a plain value") from None

    def text(self, node: yaml.Node, what: str, example: str) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be text", f"write it as `{example}`")
        return value.strip()

    def integer(self, node: yaml.Node, what: str, low: int, high: int | None = None) -> int:
        value = self.scalar(node)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.fail(node, f"{what} is {_shown(value)}", f"give a whole number {bounds}")
        return value

    def number(self, node: yaml.Node, what: str) -> float:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(node, f"{what} is {_shown(value)}", "give a number above 0")
        return float(value)

    def flag(self, node: yaml.Node, what: str) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} is {_shown(value)}", "write true or false")
        return value

    def choice(self, node: yaml.Node, what: str, allowed: Sequence[str]) -> str:
        value = self.scalar(node)
        if value not in allowed:
            close = difflib.get_close_matches(str(value), allowed, n=1) if isinstance(value, str) else []
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.fail(
                node, f"{what} {_shown(value)} does not exist", f"{hint}use one of: {', '.join(allowed)}"
            )
        return value

    def items(self, node: yaml.Node, what: str, example: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(
                node, f"{what} must be a list with at least one entry", f"write it as\n  {example}"
            )
        return list(node.value)

    def plain_values(self, node: yaml.Node, what: str) -> dict[str, Any]:
        """A mapping of names to scalar values (fixed query parameters, a fixed body); a name that
        carries a credential is refused, since the value would be a secret written in the file."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(
                node, f"{what} must be a mapping of names to values", "write it as `{name: value}`"
            )
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{what} has a name {_shown(key)} that is not text", "quote it")
            if key.lower() in SECRET_PARAMS or key.lower() in ("api_key", "apikey", "key", "token"):
                raise self.fail(
                    key_node,
                    f"{what} holds a credential ({key!r}); secrets are never written in a source file",
                    "remove it and choose the auth kind that sends it (api_key_header, bearer, oauth2_*); "
                    "its value then comes from the environment",
                )
            value = self.scalar(value_node)
            if isinstance(value, yaml.Node):
                raise self.fail(
                    value_node, f"{what}: {key!r} is not a plain value", "give text, a number or true/false"
                )
            values[key] = value
        return values

    # -- the file --------------------------------------------------------------------------------

    def source(self, root: yaml.Node, builtin: Collection[str]) -> ConfiguredSource:
        top = self.mapping(
            root,
            "the source file",
            required={
                "source": "source: loyalty",
                "base_url": "base_url: https://api.example.com",
                "auth": "auth: {kind: bearer}",
                "streams": "streams: [{name: members, ...}]",
            },
            optional=("title", "description", "pacing", "schedule", "page_size"),
        )
        name = self.text(top["source"], "the source name", "source: loyalty")
        if not _SOURCE_NAME.match(name):
            raise self.fail(
                top["source"],
                f"source name {name!r} is not a valid name",
                "use lowercase letters, digits and _, starting with a letter",
            )
        if name in builtin:
            raise self.fail(
                top["source"],
                f"source {name!r} is a source the platform ships",
                f"give this source another name (e.g. {name}_custom); a shipped source is configured by its CDP_{name.upper()}_* variables",
            )
        base_url = self.text(top["base_url"], "base_url", "base_url: https://api.example.com")
        if not base_url.startswith(("http://", "https://")):
            raise self.fail(
                top["base_url"],
                f"base_url {base_url!r} is not an http(s) URL",
                "write the API's base URL, e.g. https://api.example.com",
            )
        auth = self.auth(top["auth"], name)
        rate, concurrency = self.pacing(top["pacing"]) if "pacing" in top else (None, None)
        minute = self.schedule(top["schedule"]) if "schedule" in top else 0
        page_size = self.page_size(top["page_size"]) if "page_size" in top else None
        stream_nodes = self.items(top["streams"], "streams", "streams:\n    - name: members\n      ...")
        streams, entities = [], []
        for node in stream_nodes:
            stream, entity = self.stream(node, name)
            if any(s.declaration.name == stream.declaration.name for s in streams):
                raise self.fail(
                    node,
                    f"stream {stream.declaration.name!r} is declared twice",
                    "give each stream its own name",
                )
            streams.append(stream)
            if entity is not None:
                if any(e.entity == entity.entity for e in entities):
                    raise self.fail(
                        node,
                        f"cleansed entity {entity.entity!r} is declared by two streams",
                        "give each its own entity name",
                    )
                entities.append(entity)
        declaration = SourceDeclaration(
            name=name,
            title=self.text(top["title"], "title", "title: Loyalty program") if "title" in top else name,
            description=self.text(top["description"], "description", "description: ...")
            if "description" in top
            else "",
            auth=auth.kind,
            credentials=tuple(
                Credential(
                    role,
                    _CREDENTIAL_FIX[role],
                    description=f"{role.replace('_', ' ')} ({env_var_name(name, role)})",
                )
                for role in AUTH_ROLES[auth.kind]
            ),
            streams=tuple(s.declaration for s in streams),
            # The API names no quota signals: the client spaces its requests (``pacing``) and, on a
            # 429, waits what Retry-After says (the retry policy reads it for every source).
            quota=Quota(pacer="min_spacing", signals=("Retry-After",)),
            schedule=Schedule(minute=minute),
            page_size=(page_size.default, page_size.low, page_size.high) if page_size else None,
            base_url=base_url.rstrip("/"),
            errors=STANDARD_ERRORS,
        )
        return ConfiguredSource(
            path=self.path,
            declaration=declaration,
            auth=auth,
            streams=tuple(streams),
            entities=tuple(entities),
            page_size=page_size,
            requests_per_second=rate,
            max_concurrency=concurrency,
        )

    def auth(self, node: yaml.Node, source: str) -> ConfiguredAuth:
        optional = ("header", "token_url", "scope")
        if isinstance(node, yaml.MappingNode):
            # A secret written into the file gets its own message: it belongs in the environment.
            for key_node, _ in node.value:
                key = self.scalar(key_node)
                if key in _CREDENTIAL_FIX or key in ("token", "password", "secret", "key"):
                    role = key if key in _CREDENTIAL_FIX else "<role>"
                    raise self.fail(
                        key_node,
                        f"auth holds a secret ({key!r}); secrets are never written in a source file",
                        f"remove it and set {env_var_name(source, role)} in the environment",
                    )
        values = self.mapping(node, "auth", required={"kind": "kind: bearer"}, optional=optional)
        kind = self.choice(values["kind"], "auth kind", tuple(AUTH_ROLES))
        wanted = {
            "api_key_header": ("header",),
            "oauth2_client_credentials": ("token_url",),
            "oauth2_refresh_token": ("token_url",),
        }.get(kind, ())
        takes = {"api_key_header": ("header",)}.get(
            kind, ("token_url", "scope") if kind.startswith("oauth2") else ()
        )
        for key in values:
            if key != "kind" and key not in takes:
                raise self.fail(
                    values[key],
                    f"auth kind {kind} takes no {key!r}",
                    f"remove it (kind {kind} takes: {', '.join(('kind', *takes))})",
                )
        examples = {
            "header": "header: X-Api-Key",
            "token_url": "token_url: https://auth.example.com/oauth/token",
        }
        for key in wanted:
            if key not in values:
                raise self.fail(node, f"auth kind {kind} has no {key!r}", f"add it, e.g. `{examples[key]}`")
        token_url = (
            self.text(values["token_url"], "token_url", examples["token_url"])
            if "token_url" in values
            else None
        )
        if token_url is not None and not token_url.startswith(("http://", "https://", "/")):
            raise self.fail(
                values["token_url"],
                f"token_url {token_url!r} is neither a URL nor a path",
                "write a full URL or a path below base_url (/oauth/token)",
            )
        return ConfiguredAuth(
            kind=kind,
            header=self.text(values["header"], "header", examples["header"]) if "header" in values else None,
            token_url=token_url,
            scope=self.text(values["scope"], "scope", "scope: read") if "scope" in values else None,
        )

    def pacing(self, node: yaml.Node) -> tuple[float | None, int | None]:
        values = self.mapping(
            node, "pacing", required={}, optional=("requests_per_second", "max_concurrency")
        )
        rate = (
            self.number(values["requests_per_second"], "requests_per_second")
            if "requests_per_second" in values
            else None
        )
        concurrency = (
            self.integer(values["max_concurrency"], "max_concurrency", 1)
            if "max_concurrency" in values
            else None
        )
        return rate, concurrency

    def schedule(self, node: yaml.Node) -> int:
        values = self.mapping(node, "schedule", required={"minute": "minute: 30"})
        return self.integer(values["minute"], "schedule minute", 0, 59)

    def page_size(self, node: yaml.Node) -> PageSize:
        values = self.mapping(
            node,
            "page_size",
            required={"param": "param: limit", "default": "default: 100"},
            optional=("min", "max"),
        )
        default = self.integer(values["default"], "page_size default", 1)
        low = self.integer(values["min"], "page_size min", 1) if "min" in values else 1
        high = self.integer(values["max"], "page_size max", 1) if "max" in values else default
        if not low <= default <= high:
            raise self.fail(
                node,
                f"page_size default {default} is not within min {low} and max {high}",
                "give min <= default <= max",
            )
        return PageSize(self.text(values["param"], "page_size param", "param: limit"), default, low, high)

    def stream(self, node: yaml.Node, source: str) -> tuple[ConfiguredStream, CleansedEntity | None]:
        what = "a stream"
        if isinstance(node, yaml.MappingNode):
            named = next((v for k, v in node.value if self.scalar(k) == "name"), None)
            if named is not None and isinstance(self.scalar(named), str):
                what = f"stream {self.scalar(named)!r}"
        values = self.mapping(
            node,
            what,
            required={
                "name": "name: members",
                "endpoint": "endpoint: {path: /v1/members}",
                "record_path": "record_path: data",
                "primary_key": "primary_key: id",
                "change_time_field": "change_time_field: updated_at",
                "pagination": "pagination: {kind: page_token, token_path: next_page_token, token_param: page_token}",
                "window": "window: {start_param: updated_since, end_param: updated_before, format: iso_seconds}",
            },
            optional=("description", "params", "body", "cleansed"),
        )
        name = self.text(values["name"], "stream name", "name: members")
        if not _SOURCE_NAME.match(name):
            raise self.fail(
                values["name"],
                f"stream name {name!r} is not a valid name",
                "use lowercase letters, digits and _, starting with a letter",
            )
        method, path = self.endpoint(values["endpoint"], what)
        window = self.window(values["window"], what)
        if window.location == "body" and method != "POST":
            raise self.fail(
                values["window"],
                f"{what}: the window goes in the body of a GET",
                "use location: query, or method: POST",
            )
        if "body" in values and method != "POST":
            raise self.fail(
                values["body"], f"{what}: a body on a GET", "move these values to params, or use method: POST"
            )
        declaration = StreamDeclaration(
            name=name,
            description=self.text(values["description"], "description", "description: ...")
            if "description" in values
            else f"{name} of {source}",
            endpoint=Endpoint(method, path),
            record_path=self.text(values["record_path"], "record_path", "record_path: data"),
            id_field=self.text(values["primary_key"], "primary_key", "primary_key: id"),
            change_time_field=self.text(
                values["change_time_field"], "change_time_field", "change_time_field: updated_at"
            ),
            pagination=self.pagination(values["pagination"], what),
            window=window,
        )
        stream = ConfiguredStream(
            declaration=declaration,
            params=self.plain_values(values["params"], f"{what} params") if "params" in values else {},
            body=self.plain_values(values["body"], f"{what} body")
            if "body" in values
            else ({} if method == "POST" else None),
        )
        entity = self.entity(values["cleansed"], source, declaration, what) if "cleansed" in values else None
        return stream, entity

    def endpoint(self, node: yaml.Node, what: str) -> tuple[str, str]:
        values = self.mapping(
            node, f"{what} endpoint", required={"path": "path: /v1/members"}, optional=("method",)
        )
        method = self.choice(values["method"], "endpoint method", METHODS) if "method" in values else "GET"
        path = self.text(values["path"], "endpoint path", "path: /v1/members")
        if not path.startswith("/"):
            raise self.fail(
                values["path"],
                f"endpoint path {path!r} does not start with /",
                f"write it below base_url, e.g. /{path}",
            )
        return method, path

    def window(self, node: yaml.Node, what: str) -> DailyWindow:
        values = self.mapping(
            node,
            f"{what} window",
            required={"start_param": "start_param: updated_since", "format": "format: iso_seconds"},
            optional=("end_param", "location"),
        )
        return DailyWindow(
            start_param=self.text(values["start_param"], "start_param", "start_param: updated_since"),
            end_param=self.text(values["end_param"], "end_param", "end_param: updated_before")
            if "end_param" in values
            else None,
            format=self.choice(values["format"], "window format", WINDOW_FORMATS),
            location=self.choice(values["location"], "window location", WINDOW_LOCATIONS)
            if "location" in values
            else "query",
        )

    def pagination(self, node: yaml.Node, what: str) -> Pagination:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(
                node, f"{what} pagination must be a mapping", "write it as `pagination: {kind: single_page}`"
            )
        kind_node = next((v for k, v in node.value if self.scalar(k) == "kind"), None)
        if kind_node is None:
            raise self.fail(
                node,
                f"{what} pagination has no 'kind'",
                f"add it, e.g. `kind: page_token` (one of: {', '.join(PAGINATION_KINDS)})",
            )
        kind = self.choice(kind_node, "pagination kind", PAGINATION_KINDS)
        required, optional = _paginator_params(kind)
        examples = {key: f"{key}: {_PARAM_EXAMPLES.get(key, '...')}" for key in required}
        values = self.mapping(
            node,
            f"{what} pagination ({kind})",
            required={"kind": "kind: " + kind, **examples},
            optional=optional,
        )
        params: dict[str, Any] = {}
        for key, value_node in values.items():
            if key == "kind":
                continue
            if key == "default_limit":
                params[key] = self.integer(value_node, key, 1)
            else:
                params[key] = self.text(value_node, key, examples.get(key, f"{key}: ..."))
        return Pagination(kind, params)

    def entity(self, node: yaml.Node, source: str, declared: StreamDeclaration, what: str) -> CleansedEntity:
        stream = declared.name
        values = self.mapping(
            node,
            f"{what} cleansed",
            required={"fields": "fields: [{name: email, type: email, path: $.email, identity: email}]"},
            optional=("entity", "description", "payload"),
        )
        entity = (
            self.text(values["entity"], "cleansed entity", f"entity: {stream}")
            if "entity" in values
            else stream
        )
        if not _SOURCE_NAME.match(entity):
            raise self.fail(
                values["entity"],
                f"entity name {entity!r} is not a valid name",
                "use lowercase letters, digits and _",
            )
        fields: list[Field] = []
        for field_node in self.items(
            values["fields"], "fields", "fields:\n    - {name: email, type: email, path: $.email}"
        ):
            field_ = self.field(field_node)
            if any(f.name == field_.name for f in fields):
                raise self.fail(
                    field_node, f"field {field_.name!r} is declared twice", "give each field its own name"
                )
            same = next(
                (
                    f
                    for f in fields
                    if f.role and field_.role and CANDIDATE_COLUMN[f.role] == CANDIDATE_COLUMN[field_.role]
                ),
                None,
            )
            if same is not None:
                raise self.fail(
                    field_node,
                    f"fields {same.name!r} and {field_.name!r} both give the candidate's {CANDIDATE_COLUMN[field_.role or '']}",
                    f"keep the identity role on one of them (a record is one candidate with one {CANDIDATE_COLUMN[field_.role or '']})",
                )
            fields.append(field_)
        roles = [f.role for f in fields if f.role is not None]
        # What the records carry beside the fields' paths, for the schema drift check: the
        # change time the raw layer reads (a number in a unix window, else text) and the file's
        # own ``payload`` entries.
        change_time = "number" if declared.window.format.startswith("unix") else "string"
        envelope = {declared.change_time_field: change_time}
        if "payload" in values:
            envelope.update(self.payload(values["payload"], f"{what} cleansed payload"))
        return CleansedEntity(
            source=source,
            entity=entity,
            raw_stream=stream,
            fields=tuple(fields),
            envelope_payload=envelope,
            description=self.text(values["description"], "description", "description: ...")
            if "description" in values
            else "",
            # A row is a person's record when a field identifies someone: erasure and suppression
            # find it under ``<source>:<entity>:<record id>``, as its identity candidate is keyed.
            person_keys=(PersonKey("record_id", entity),) if roles else (),
        )

    def payload(self, node: yaml.Node, what: str) -> dict[str, str]:
        """Payload paths no field reads, with their JSON types (``tags: array``; ``?``: may be absent)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(
                node,
                f"{what} must be a mapping of paths to JSON types",
                "write it as `{tags: array, nickname: string?}`",
            )
        types: dict[str, str] = {}
        for key_node, value_node in node.value:
            path = self.text(key_node, f"{what} path", "tags: array")
            kind = self.scalar(value_node)
            if not isinstance(kind, str) or kind.rstrip("?") not in _PAYLOAD_TYPES:
                raise self.fail(
                    value_node,
                    f"payload type {_shown(kind)} of {path!r} does not exist",
                    f"use one of: {', '.join(_PAYLOAD_TYPES)}, with ? when the field may be absent",
                )
            types[path.removeprefix("$.")] = kind
        return types

    def field(self, node: yaml.Node) -> Field:
        what = "a field"
        if isinstance(node, yaml.MappingNode):
            named = next((v for k, v in node.value if self.scalar(k) == "name"), None)
            if named is not None and isinstance(self.scalar(named), str):
                what = f"field {self.scalar(named)!r}"
        values = self.mapping(
            node,
            what,
            required={"name": "name: email", "type": "type: email", "path": "path: $.email"},
            optional=("required", "description", "identity", "pii"),
        )
        name = self.text(values["name"], "field name", "name: email")
        if not _SOURCE_NAME.match(name):
            raise self.fail(
                values["name"],
                f"field name {name!r} is not a valid column name",
                "use lowercase letters, digits and _",
            )
        if name in _RESERVED_FIELDS:
            raise self.fail(
                values["name"],
                f"field name {name!r} is a column every cleansed table already has",
                "name the field otherwise",
            )
        path = self.text(values["path"], "field path", "path: $.email")
        if not path.startswith("$"):
            raise self.fail(
                values["path"],
                f"field path {path!r} is not a JSONPath",
                f"write it from the record's root, e.g. $.{path}",
            )
        role = (
            self.choice(values["identity"], "identity role", IDENTITY_ROLES) if "identity" in values else None
        )
        return Field(
            name=name,
            kind=self.choice(values["type"], "field type", KINDS),
            path=path,
            required=self.flag(values["required"], "required") if "required" in values else False,
            description=self.text(values["description"], "description", "description: ...")
            if "description" in values
            else "",
            role=role,
            # What identifies a person is personal data, whether or not the file says so.
            pii=(self.flag(values["pii"], "pii") if "pii" in values else False) or role is not None,
        )


# JSON types of a payload path for drift (``map``: an object whose keys are the account's own).
_PAYLOAD_TYPES = ("string", "number", "boolean", "object", "array", "map")

_PARAM_EXAMPLES = {
    "url_path": "links.next",
    "done_path": "done",
    "cursor_path": "next_cursor",
    "cursor_param": "cursor",
    "token_path": "next_page_token",
    "token_param": "page_token",
    "errors_path": "errors",
    "total_path": "total",
    "offset_param": "offset",
    "limit_param": "limit",
    "default_limit": "100",
}


def _paginator_params(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys a paginator kind takes in its ``pagination`` mapping, required and optional, read
    from the paginator's own signature so that the file and the class cannot disagree."""
    signature = inspect.signature(PAGINATORS[kind].__init__)
    own = [
        p
        for p in signature.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _STREAM_PAGINATOR_KEYS
    ]
    required = tuple(p.name for p in own if p.default is inspect.Parameter.empty)
    optional = tuple(p.name for p in own if p.default is not inspect.Parameter.empty)
    return required, optional


def _shown(value: Any) -> str:
    if isinstance(value, yaml.Node):
        return "a list" if isinstance(value, yaml.SequenceNode) else "a mapping"
    return repr(value)
