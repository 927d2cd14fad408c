"""What a source declared in YAML needs beside its declaration: its streams and its resource.

A shipped source's folder holds a ``VendorResource`` subclass (credentials as fields, ``auth()``)
and ``STREAMS`` (how a window's first request is made). A YAML source has no folder, so both are
made here from the file: the resource class gets one optional field per credential role of its
auth kind (each bound to ``CDP_<SOURCE>_<ROLE>`` through ``EnvVar``, as for the shipped ones),
and each stream's first request writes the partition's window and the page size where the file
says. Everything after that (paging, checkpoints, dead letters, pacing, retries honouring
``Retry-After``, the raw and cleansed assets) is the code every source runs.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from cdp_platform.http import Auth, BearerAuth, RequestSpec, VendorClient
from cdp_platform.http.token_auth import ApiKeyHeaderAuth, OAuth2TokenAuth
from cdp_platform.settings import env_var_name
from cdp_platform.sources.stream import Stream, StreamContext, declared_stream, single
from cdp_platform.sources.vendor import VendorResource
from cdp_platform.sources.yaml_source import AUTH_ROLES, ConfiguredSource, ConfiguredStream, PageSize


def window_value(moment: datetime.datetime, fmt: str, *, end: bool = False) -> str | int:
    """A window bound as the API reads it. A ``date`` end is the window's last day, inclusive
    (an API filtering by dates names the days it returns)."""
    if fmt == "iso_seconds":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "unix_seconds":
        return int(moment.timestamp())
    if fmt == "unix_millis":
        return int(moment.timestamp()) * 1000
    if fmt == "date":
        return (moment - datetime.timedelta(days=1) if end else moment).date().isoformat()
    raise ValueError(f"window format {fmt!r} cannot be written by a configured source")


def first_request(
    stream: ConfiguredStream, page_size: PageSize | None
) -> Callable[[StreamContext], RequestSpec]:
    """The request opening a partition's window: the file's fixed params (and body), the window's
    bounds and the page size, in the query or in the JSON body as the window's location says."""
    declared = stream.declaration
    window = declared.window

    def request(ctx: StreamContext) -> RequestSpec:
        values: dict[str, Any] = {}
        if window.start_param:
            values[window.start_param] = window_value(ctx.window.start, window.format)
        if window.end_param:
            values[window.end_param] = window_value(ctx.window.end, window.format, end=True)
        if page_size is not None:
            values[page_size.param] = ctx.size(page_size.default, page_size.low, page_size.high)
        params = dict(stream.params)
        body = dict(stream.body) if stream.body is not None else None
        if window.location == "body":
            body = {**(body or {}), **values}
        else:
            params.update(values)
        return RequestSpec(declared.endpoint.method, declared.endpoint.path, params=params or None, json=body)

    return request


class ConfiguredSourceResource(VendorResource):
    """Base of the resource class of each YAML source (made by :func:`resource_class`)."""

    configured: ClassVar[ConfiguredSource]

    def auth(self) -> Auth:
        spec = self.configured.auth
        if spec.kind == "bearer":
            return BearerAuth(self._credential("access_token"))
        if spec.kind == "api_key_header":
            assert spec.header is not None  # the file's validation requires it
            return ApiKeyHeaderAuth(self._credential("api_key"), spec.header)
        assert spec.token_url is not None  # the file's validation requires it for both OAuth kinds
        token_url = spec.token_url
        if token_url.startswith("/"):
            token_url = f"{self.api_base_url().rstrip('/')}{token_url}"
        return OAuth2TokenAuth(
            token_url,
            self._credential("client_id"),
            self._credential("client_secret"),
            refresh_token=getattr(self, "refresh_token", None)
            if spec.kind == "oauth2_refresh_token"
            else None,
            scope=spec.scope,
        )

    def _credential(self, role: str) -> str:
        return str(getattr(self, role, None) or "")

    def client(self, auth: Auth | None = None) -> VendorClient:
        client = super().client(auth)
        # The process-wide pacer of the source's budget: the file's request rate is a floor under
        # the spacing of every client of the source (streams and days in flight share it).
        if self.configured.requests_per_second:
            client.pacer.min_interval = max(
                client.pacer.min_interval, 1.0 / self.configured.requests_per_second
            )
        if self.configured.max_concurrency:
            client.pacer.max_concurrency = self.configured.max_concurrency
        return client


def resource_class(source: ConfiguredSource) -> type[ConfiguredSourceResource]:
    """A resource class of the source's own, with one field per credential role of its auth kind
    (so each is a separate ``EnvVar`` in the run's configuration and the UI)."""
    roles = AUTH_ROLES[source.auth.kind]
    title = "".join(part.title() for part in source.name.split("_"))
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": f"{title}Resource",
        "__doc__": f"{source.declaration.title}, declared in {source.path.name} ({source.auth.kind}).",
        "__annotations__": {role: str | None for role in roles},
        "source": source.name,
        "http_vendor": source.name,
        "configured": source,
        **{
            role: Field(
                default=None, description=f"{role.replace('_', ' ')} ({env_var_name(source.name, role)})."
            )
            for role in roles
        },
    }
    return type(f"{title}Resource", (ConfiguredSourceResource,), namespace)


@dataclass(frozen=True)
class ConfiguredParts:
    """What a shipped source's package exports, for a YAML source: its streams and resource class."""

    source: ConfiguredSource
    STREAMS: tuple[Stream, ...]  # the attribute name of a source package's streams
    resource: type[ConfiguredSourceResource]


_PARTS: dict[str, ConfiguredParts] = {}


def parts(source: ConfiguredSource) -> ConfiguredParts:
    """The streams and resource class of ``source``, made once per loaded file (a resource class
    made twice would be two different classes for one resource key)."""
    made = _PARTS.get(source.name)
    if made is None or made.source is not source:
        streams = tuple(
            declared_stream(
                source.declaration, s.declaration.name, single(first_request(s, source.page_size))
            )
            for s in source.streams
        )
        made = ConfiguredParts(source, streams, resource_class(source))
        _PARTS[source.name] = made
    return made
