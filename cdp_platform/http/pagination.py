"""Paginators: small classes with one job each, chosen per endpoint by configuration.

A paginator turns a first request into pages. It knows two pure things about its vendor: how to
build the request for a saved state (``request_for``) and how to read the next state from a
response body (``next_state``). The shared loop in ``Paginator.pages`` does the rest: records at
``record_path``, dead letters for unparsable bodies and id-less records, and the guards every real
API needs. A cursor or URL seen before (or a link to the page itself) is first taken for a glitch
and the page asked for again; a loop that persists raises :class:`PaginationLoop` *before* the
looping page is handed on, so the caller's checkpoint stays at that page and the next run resumes
there: a loop is never the end of a stream, because the records behind it would be silently lost.
An empty page that still carries a cursor is an end (vendors do keep a cursor on the last page, see
API_FACTS.md), with a warning. A paginator can start from a saved state, which is how an extraction
resumes after a crash.

States are small JSON dicts: ``{"next_url": ...}``, ``{"after": ...}``, ``{"offset": ...}``,
``{"next_token": ...}``. They never hold a credential (``next`` links are stripped of
``access_token``; the auth object adds the current token when the link is followed).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from .dead_letters import DeadLetter, make_dead_letter
from .errors import PaginationLoop
from .redaction import SECRET_PARAMS, describe_request, library_logger, redact_text, strip_secret_params

if TYPE_CHECKING:
    from .client import RequestSpec, VendorClient

logger = library_logger(__name__)


def get_path(value: Any, path: str | None) -> Any:
    """Follow a dotted path (``paging.next.after``) through nested dicts; None where it ends."""
    if not path:
        return value
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


@dataclass
class Page:
    """One page of an extraction.

    ``state`` is where to continue after this page. ``done`` says no page follows in this run;
    ``complete`` says the end was reached (possibly through the empty-page guard, see
    ``warnings``) rather than the run stopping on an unreadable page, in which case ``state`` is the
    state of that page, so a later run fetches it again.
    """

    number: int
    records: list[dict[str, Any]]
    state: dict[str, Any] | None
    done: bool
    complete: bool
    body: Any = None
    dead_letters: list[DeadLetter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    request: str | None = None
    """The redacted ``METHOD URL`` that fetched this page, kept with every raw record."""
    part: str = ""
    """Which sub-extraction the page belongs to (a search window split in time), so that page numbers,
    which restart in each one, stay unique together with it."""


LOOP_RETRIES = 2
"""How often a page that sent back a cursor already followed is asked for again before the loop is
taken as real (a single repeated answer is usually a glitch)."""


class LoopGuard:
    """The cursors one extraction has followed, and the one rule for a cursor that comes back.

    A cursor seen before is first a reason to ask for the same page again (up to ``retries``
    times); one that keeps coming back is a loop, which is never the end of a stream (what lies
    behind it would be silently missing), so the caller raises :meth:`loop` *before* handing the
    looping page on: its checkpoint stays at that page and the next run asks for it again. Used by
    :meth:`Paginator.pages` and by readers that page outside it (a source's per-record association reads), so a
    loop means the same thing everywhere. Fingerprints are the caller's (any stable string).
    """

    def __init__(self, retries: int = LOOP_RETRIES) -> None:
        self.retries = retries
        self._seen: set[str] = set()

    def follow(self, fingerprint: str) -> None:
        """Remember a cursor as followed (or the state a run starts from)."""
        self._seen.add(fingerprint)

    def repeats(self, fingerprint: str | None) -> bool:
        """Whether following this cursor would go back to a page already asked for."""
        return fingerprint is not None and fingerprint in self._seen

    def may_retry(self, retries: int) -> bool:
        """Whether a page that repeated a cursor after ``retries`` re-asks may be asked for again."""
        return retries < self.retries

    def loop(
        self, client: VendorClient, fingerprint: str, *, stream: str, partition: str, page: int, retries: int
    ) -> PaginationLoop:
        """The error for a loop that outlasted the retries (logged; the cursor redacted)."""
        cursor = redact_text(fingerprint, client.secrets())
        logger.error("%s %s page %d: pagination loop on %s", stream, partition, page, cursor)
        return PaginationLoop(stream, partition, page, cursor, retries)


class Paginator:
    """Shared loop; subclasses implement ``request_for`` and ``next_state``."""

    name = "base"

    def __init__(
        self,
        record_path: str,
        *,
        id_field: str | None = "id",
        stop_on_empty_page: bool = True,
        retry_unparsable: int = 1,
        loop_retries: int = LOOP_RETRIES,
    ) -> None:
        self.record_path = record_path
        self.id_field = id_field
        self.stop_on_empty_page = stop_on_empty_page
        self.retry_unparsable = retry_unparsable
        self.loop_retries = loop_retries

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        raise NotImplementedError

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    def state_after_unparsable(
        self, request: RequestSpec, state: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Where to go on when a page cannot be read. Cursor paginators cannot (the cursor is in the
        unreadable body): None stops the run incomplete."""
        return None

    def fingerprint(self, state: dict[str, Any]) -> str:
        return json.dumps(state, sort_keys=True)

    def first_fingerprint(self, client: VendorClient, first: RequestSpec) -> str | None:
        """The fingerprint a state pointing back at the first page would have, if it can have one."""
        return None

    def records_of(self, body: Any) -> tuple[list[Any], list[str]]:
        value = get_path(body, self.record_path)
        if value is None:
            return [], []
        if isinstance(value, list):
            return value, []
        return [], [f"records at {self.record_path!r} are a {type(value).__name__}, not a list"]

    def page_warnings(self, body: Any) -> list[str]:
        """Vendor-specific warnings carried by an otherwise good page."""
        return []

    async def pages(
        self,
        client: VendorClient,
        first: RequestSpec,
        *,
        state: dict[str, Any] | None = None,
        stream: str = "",
        partition: str = "",
        start_number: int = 1,
        first_page: tuple[Any, httpx.Response] | None = None,
    ) -> AsyncIterator[Page]:
        """Pages from ``state`` (None: the first request) to the end.

        ``first_page`` is the decoded body and response of ``first`` when the caller already sent it
        (a search reads a window's total from its first page): used instead of sending
        ``first`` again, and only when starting from the first request.
        """
        guard = LoopGuard(self.loop_retries)
        prefetched = first_page if state is None else None
        first_fp = self.first_fingerprint(client, first)
        if first_fp is not None:
            guard.follow(first_fp)
        if state is not None:
            guard.follow(self.fingerprint(state))
        number = start_number
        while True:
            request = self.request_for(first, state)
            if prefetched is not None:
                (body, response), dead, prefetched = prefetched, None, None
            else:
                body, response, dead = await self._fetch_json(client, request, stream, partition)
            if dead is not None:
                following = self.state_after_unparsable(request, state)
                if following is None:
                    warning = f"page {number}: body is not JSON; stopping, a later run resumes at this page"
                    logger.warning("%s %s %s", stream, partition, warning)
                    yield Page(number, [], state, True, False, None, [dead], [warning])
                    return
                yield Page(number, [], following, False, False, None, [dead], [])
                state, number = following, number + 1
                continue
            following = self.next_state(request, body)
            # A cursor seen before is often a glitch of one answer (the vendor repeats a cursor or
            # links a page to itself once): asking for the same page again usually gets the right
            # cursor. A loop that persists across retries fails the extraction (below).
            retries = 0
            while (
                following is not None
                and guard.repeats(self.fingerprint(following))
                and guard.may_retry(retries)
            ):
                retries += 1
                again, again_response, again_dead = await self._fetch_json(client, request, stream, partition)
                if again_dead is not None:
                    break
                body, response = again, again_response
                following = self.next_state(request, body)
            raw_records, warnings = self.records_of(body)
            empty_end = not raw_records and self.stop_on_empty_page
            if following is not None and guard.repeats(self.fingerprint(following)) and not empty_end:
                # Not yielded: the caller's checkpoint still points at this page, so the next run
                # fetches it again (with its records) rather than starting after it.
                fp = self.fingerprint(following)
                raise guard.loop(client, fp, stream=stream, partition=partition, page=number, retries=retries)
            warnings += self.page_warnings(body)
            records, dead_letters = self._split_records(raw_records, response, stream, partition, client)
            done = following is None
            if following is not None:
                fp = self.fingerprint(following)
                if empty_end:  # whether or not its cursor was seen before: nothing follows it
                    warnings.append(f"page {number}: empty page still carries a cursor; stopping")
                    following, done = None, True
                else:
                    guard.follow(fp)
            for warning in warnings:
                logger.warning("%s %s %s", stream, partition, warning)
            described = describe_request(response.request, client.secrets())
            yield Page(
                number,
                records,
                following,
                done,
                True,
                body,
                dead_letters,
                warnings,
                request=f"{described['method']} {described['url']}",
            )
            if done:
                return
            state, number = following, number + 1

    async def _fetch_json(
        self, client: VendorClient, request: RequestSpec, stream: str, partition: str
    ) -> tuple[Any, httpx.Response, DeadLetter | None]:
        attempts = 0
        while True:
            attempts += 1
            response = await client.send(request)
            try:
                return response.json(), response, None
            except ValueError as exc:
                # A truncated or HTML body on a 200 is often transient: fetch it once more first.
                if attempts <= self.retry_unparsable:
                    continue
                dead = make_dead_letter(
                    stream=stream,
                    partition=partition,
                    error=f"response is not JSON: {exc}",
                    body=response.text,
                    request=describe_request(response.request, client.secrets()),
                    secrets=client.secrets(),
                )
                return None, response, dead

    def _split_records(
        self, raw: list[Any], response: httpx.Response, stream: str, partition: str, client: VendorClient
    ) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        records: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        for record in raw:
            if not isinstance(record, dict):
                error = f"record is a {type(record).__name__}, not an object"
            elif self.id_field and get_path(record, self.id_field) in (None, ""):
                error = f"record has no {self.id_field}"
            else:
                records.append(record)
                continue
            dead.append(
                make_dead_letter(
                    stream=stream,
                    partition=partition,
                    error=error,
                    body=record,
                    request=describe_request(response.request, client.secrets()),
                    secrets=client.secrets(),
                )
            )
        return records, dead


def _without_params(spec: RequestSpec) -> RequestSpec:
    return spec.with_changes(params=None)


class CursorInBody(Paginator):
    """A cursor the body holds (``cursor_path``) sent back as ``cursor_param``: in the JSON body
    of a POST (a search), in the query of a GET (a list)."""

    name = "cursor_in_body"

    def __init__(self, record_path: str, *, cursor_path: str, cursor_param: str, **kwargs: Any) -> None:
        super().__init__(record_path, **kwargs)
        self.cursor_path = cursor_path
        self.cursor_param = cursor_param

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        if state is None:
            return first
        if first.method.upper() == "POST":
            return first.with_changes(json={**(first.json or {}), self.cursor_param: state["after"]})
        return first.with_changes(params={**(first.params or {}), self.cursor_param: state["after"]})

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        after = get_path(body, self.cursor_path)
        return {"after": str(after)} if after not in (None, "") else None


class Offset(Paginator):
    """Offset paging to the total the body reports (``offset`` by ``limit`` up to ``total_path``).

    Offsets and limits keep the type the first request gave them (some APIs send them as strings).
    They go in the JSON body for a POST with a JSON object body, else in the query.
    """

    name = "offset"

    def __init__(
        self,
        record_path: str,
        *,
        total_path: str,
        offset_param: str = "offset",
        limit_param: str = "limit",
        default_limit: int = 10_000,
        id_field: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(record_path, id_field=id_field, **kwargs)
        self.total_path = total_path
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.default_limit = default_limit

    def _in_body(self, first: RequestSpec) -> bool:
        return first.method.upper() == "POST" and isinstance(first.json, dict)

    def _carrier(self, spec: RequestSpec) -> Mapping[str, Any]:
        return (spec.json if self._in_body(spec) else spec.params) or {}

    def _limit(self, spec: RequestSpec) -> int:
        return int(self._carrier(spec).get(self.limit_param, self.default_limit))

    def _offset(self, spec: RequestSpec) -> int:
        return int(self._carrier(spec).get(self.offset_param, 0))

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        if state is None:
            return first
        carrier = self._carrier(first)
        as_text = isinstance(carrier.get(self.limit_param, carrier.get(self.offset_param)), str)
        offset: int | str = str(state["offset"]) if as_text else int(state["offset"])
        if self._in_body(first):
            return first.with_changes(json={**carrier, self.offset_param: offset})
        return first.with_changes(params={**carrier, self.offset_param: offset})

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        total = get_path(body, self.total_path)
        if total is None:
            return None
        following = self._offset(request) + self._limit(request)
        return {"offset": following} if following < int(total) else None

    def state_after_unparsable(
        self, request: RequestSpec, state: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        # Offsets are computable without the body; the unreadable slice stays as a dead letter.
        # The total is unknown without a body, so go on only while a previous page proved more rows.
        return None if state is None else {"offset": self._offset(request) + self._limit(request)}


def _normalized_url(url: str) -> str:
    parts = urlsplit(url)
    pairs = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in SECRET_PARAMS
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), urlencode(pairs), ""))


class NextUrl(Paginator):
    """Follow the URL the body names for the next page (``url_path``: a full URL or a path below
    the base), until it is absent or the ``done_path`` flag is true.

    A link is stored without secret query parameters (some vendors echo the token in it; the auth
    adds the current one when it is followed) and compared normalized, so a link back to the first
    page or to one already followed is caught as a loop.
    """

    name = "next_url"

    def __init__(
        self, record_path: str, *, url_path: str, done_path: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(record_path, **kwargs)
        self.url_path = url_path
        self.done_path = done_path

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        if state is None:
            return first
        return _without_params(first).with_changes(method="GET", url=state["next_url"], json=None, data=None)

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        next_url = get_path(body, self.url_path)
        if (self.done_path is not None and get_path(body, self.done_path) is True) or not next_url:
            return None
        return {"next_url": strip_secret_params(str(next_url))}

    def fingerprint(self, state: dict[str, Any]) -> str:
        return _normalized_url(state["next_url"])

    def first_fingerprint(self, client: VendorClient, first: RequestSpec) -> str | None:
        return _normalized_url(str(httpx.URL(client.url_for(first.url), params=first.params or None)))


class PageToken(Paginator):
    """A token the body holds (``token_path``) sent back as the ``token_param`` query parameter.

    ``errors_path`` names where a vendor lists partial errors of a successful answer; they become
    page warnings rather than failures.
    """

    name = "page_token"

    def __init__(
        self,
        record_path: str,
        *,
        token_path: str,
        token_param: str,
        errors_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(record_path, **kwargs)
        self.token_path = token_path
        self.token_param = token_param
        self.errors_path = errors_path

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        if state is None:
            return first
        return first.with_changes(params={**(first.params or {}), self.token_param: state["next_token"]})

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        token = get_path(body, self.token_path)
        return {"next_token": str(token)} if token else None

    def page_warnings(self, body: Any) -> list[str]:
        errors = get_path(body, self.errors_path) if self.errors_path else None
        if not isinstance(errors, list) or not errors:
            return []
        titles = sorted({str(error.get("title", "error")) for error in errors if isinstance(error, dict)})
        return [f"partial result: {len(errors)} errors ({', '.join(titles)})"]


class SinglePage(Paginator):
    """A window answered in one response."""

    name = "single_page"

    def request_for(self, first: RequestSpec, state: dict[str, Any] | None) -> RequestSpec:
        return first

    def next_state(self, request: RequestSpec, body: Any) -> dict[str, Any] | None:
        return None


PAGINATORS: dict[str, type[Paginator]] = {
    cls.name: cls for cls in (NextUrl, CursorInBody, PageToken, Offset, SinglePage)
}


def paginator_from_config(config: Mapping[str, Any]) -> Paginator:
    """Build a paginator from data: ``{"type": "cursor_in_body", "record_path": "results",
    "cursor_path": "paging.next.after", "cursor_param": "after"}`` (a source's declaration)."""
    settings = dict(config)
    kind = settings.pop("type")
    try:
        cls = PAGINATORS[kind]
    except KeyError:
        raise ValueError(f"unknown paginator type {kind!r}; known: {sorted(PAGINATORS)}") from None
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ValueError(f"paginator {kind!r}: {exc}; its parameters are those of {cls.__name__}") from None
