"""What every emulated vendor shares: the app state, opaque stateless cursors, page arithmetic,
and the data faults that damage a page in detectable ways.

Pagination never materializes a stream: a page is an offset range over ``SandboxData.window``
positions, and a cursor is that offset plus a hash of the query it belongs to, encoded opaquely. The
server keeps nothing per cursor, so a sandbox serving millions of pages stays at constant memory.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlencode

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import TokenSigner
from cdp_platform.sandbox.faults import PLAN_SCOPE_KEY, FaultPlan, FaultResponder, SandboxStats
from cdp_platform.sandbox.ratelimit import RateLimiter

if TYPE_CHECKING:
    # Built from the vendor modules' declarations on first use, so only a name here (importing it
    # while a vendor module is being imported would discover the vendors half-imported).
    from cdp_platform.sandbox.credentials import SandboxCredentials
    from cdp_platform.sandbox.records import SandboxData

UTC = datetime.UTC


@dataclass
class SandboxState:
    """Everything a vendor handler needs, built once per app."""

    data: SandboxData
    config: SandboxConfig
    credentials: SandboxCredentials
    signer: TokenSigner
    limiter: RateLimiter
    stats: SandboxStats

    _page_builder: anyio.CapacityLimiter | None = field(default=None, init=False, repr=False)

    async def build_page(self, build: Callable[[], Any]) -> Any:
        """Run page building off the event loop, one page at a time.

        Generating records is CPU work (tens of microseconds each); a 10,000-row page built on the
        loop would stall every other client of a sandbox on a port for seconds. One builder thread is
        enough: the GIL lets only one run anyway, and more threads only add switching (measured: a
        quarter less throughput with anyio's default 40).
        """
        if self._page_builder is None:  # created lazily: a limiter belongs to a running event loop
            self._page_builder = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(build, limiter=self._page_builder)

    @property
    def now(self) -> float:
        return self.limiter.clock()

    @property
    def data_now(self) -> datetime.datetime:
        """The sandbox world's "now": the end of ``config.today`` (not the wall clock)."""
        return self.config.history_end


class VendorApi(FaultResponder, Protocol):
    """One emulated vendor: its routes below its prefix, and which of them serve data (and get faults)."""

    def routes(self) -> list[BaseRoute]: ...

    def is_data_path(self, path: str) -> bool: ...


def state_of(request: Request) -> SandboxState:
    return request.app.state.sandbox


async def read_form(request: Request) -> dict[str, str]:
    """A form-encoded body as a dict (first value wins); no multipart, which no token endpoint uses."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        form.setdefault(key, value)
    return form


def plan_of(request: Request) -> FaultPlan | None:
    return request.scope.get(PLAN_SCOPE_KEY)


def dumps(payload: Any) -> bytes:
    """Compact, key-order-preserving JSON: the same payload always gives the same bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None, media_type: str | None = None
) -> Response:
    return Response(
        dumps(payload),
        status_code=status,
        headers=dict(headers or {}),
        media_type=media_type or "application/json;charset=UTF-8",
    )


def fingerprint(*parts: object) -> str:
    """Short hash binding a cursor to the query it was issued for."""
    return hashlib.blake2b(dumps([str(p) for p in parts]), digest_size=6).hexdigest()


def encode_cursor(offset: int, query_hash: str) -> str:
    raw = f"{offset}:{query_hash}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, query_hash: str) -> int | None:
    """The offset in ``token`` if it was issued for this query, else None (the vendor's bad-cursor error)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    offset_text, _, token_hash = raw.partition(":")
    if not offset_text.isdigit() or token_hash != query_hash:
        return None
    return int(offset_text)


@dataclass(frozen=True)
class Page:
    """One page of an ordered window: indices [start, stop) and where the next page starts."""

    start: int
    stop: int
    next_start: int | None

    def indices(self) -> range:
        return range(self.start, self.stop)


def make_page(
    total: int,
    start: int,
    size: int,
    plan: FaultPlan | None,
    repeat_kinds: tuple[str, ...] = ("repeated_cursor",),
) -> Page:
    """Slice [start, start+size) of ``total`` items; loop faults bend ``next_start`` backwards.

    A duplicate makes the next page start one item early (the same record on two pages, as when data
    changes during paging); a repeated cursor makes it start where this page started. Both still make
    progress for a client that retries a repeated cursor, because the retry has a new attempt number.
    An empty last page gives the real last page a cursor anyway, which leads to a page with nothing.
    A profile's ``page_max`` shortens the page whatever ``size`` the client asked for.
    """
    if plan is not None and plan.page_max is not None:
        size = min(size, plan.page_max)
    start = max(0, min(start, total))
    stop = min(total, start + size)
    next_start = stop if stop < total else None
    if plan is not None and next_start is None and stop > start and plan.wants("empty_last_page"):
        next_start = total  # the vendor keeps a cursor on the last page; it leads to an empty page
        plan.applied.add("empty_last_page")
    elif plan is not None and next_start is not None:
        repeat = next((kind for kind in repeat_kinds if plan.wants(kind)), None)
        if repeat is not None:
            next_start = start
            plan.applied.add(repeat)
        elif plan.wants("duplicate_record") and stop - start >= 2:
            next_start = stop - 1
            plan.applied.add("duplicate_record")
    return Page(start, stop, next_start)


def ordered_position(positions: Sequence[int], index: int, reverse: bool) -> int:
    """Position at ``index`` in ascending (modified time, id) order, or descending when ``reverse``."""
    return int(positions[len(positions) - 1 - index] if reverse else positions[index])


def page_records(
    state: SandboxState, stream: str, positions: Sequence[int], page: Page, reverse: bool = False
) -> list[dict]:
    return [state.data.record(stream, ordered_position(positions, i, reverse)) for i in page.indices()]


def with_query(base: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(params.items()) if isinstance(params, Mapping) else list(params))
    return f"{base}?{query}" if query else base


def vendor_base(request: Request, prefix: str) -> str:
    """The vendor's base URL as this client reached it (in process or on a port)."""
    return str(request.base_url).rstrip("/") + prefix


def request_url(request: Request) -> str:
    return str(request.url)


# ---- data faults --------------------------------------------------------------------------------

MALFORMED_VARIANTS = ("missing_id", "bad_email", "other_date_format", "wrong_type")


def other_date_format(value: str) -> str:
    """``2026-11-25T13:07:00...`` as ``11/25/2026 13:07:00``: a date a strict parser must reject."""
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        date, time = value[:10], value[11:19]
        return f"{date[5:7]}/{date[8:10]}/{date[:4]}" + (f" {time}" if time else "")
    return value


def epoch_seconds(value: str) -> int | None:
    """Unix seconds of a vendor timestamp (any of the ISO forms the vendors use), or None."""
    parsed = parse_timestamp(value)
    return int(parsed.timestamp()) if parsed else None


def parse_timestamp(value: str) -> datetime.datetime | None:
    """Parse the vendors' ISO-8601 variants (``Z``, ``+0000``, ``+00:00``, dates) into aware UTC."""
    text = value.strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def apply_malformed(
    records: list[dict], plan: FaultPlan | None, corrupt: Callable[[dict, str], dict | None]
) -> list[dict]:
    """Damage one record of the page with one of the malformed variants, if the plan asks for it.

    ``corrupt`` returns the damaged copy, or None when the variant does not apply to this stream
    (then the next variant is tried), so every stream gets some malformation.
    """
    if plan is None or not plan.wants("malformed_record") or not records:
        return records
    index = plan.pick("malformed_record/index", len(records))
    first = plan.pick("malformed_record/variant", len(MALFORMED_VARIANTS))
    for step in range(len(MALFORMED_VARIANTS)):
        damaged = corrupt(records[index], MALFORMED_VARIANTS[(first + step) % len(MALFORMED_VARIANTS)])
        if damaged is not None:
            plan.applied.add("malformed_record")
            return [*records[:index], damaged, *records[index + 1 :]]
    return records


def apply_drift(
    records: list[dict], plan: FaultPlan | None, drift: Callable[[dict], dict | None]
) -> list[dict]:
    """Serve one field with another type on every record of the page (schema drift)."""
    if plan is None or not plan.wants("schema_drift") or not records:
        return records
    drifted = [drift(record) for record in records]
    if all(record is None for record in drifted):
        return records
    plan.applied.add("schema_drift")
    return [new if new is not None else old for new, old in zip(drifted, records, strict=True)]


def numeric_string(value: object) -> int | float | None:
    """The number a numeric string spells (``"42"`` → 42), else None."""
    if not isinstance(value, str) or not value or len(value) > 18:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def drift_first_number(obj: dict, skip: frozenset[str] = frozenset()) -> dict | None:
    """Copy of ``obj`` with its first numeric field served as a string, or None if it has none."""
    for key, value in obj.items():
        if key in skip:
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {**obj, key: str(value)}
        if isinstance(value, dict):
            inner = drift_first_number(value, skip)
            if inner is not None:
                return {**obj, key: inner}
    return None


def parse_unix_or_iso(value: str) -> datetime.datetime | None:
    """Graph's ``since``/``until``: unix seconds or a date/time string."""
    value = value.strip()
    if value.lstrip("-").isdigit():
        try:
            return datetime.datetime.fromtimestamp(int(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_timestamp(value)


EPOCH_FLOOR = datetime.datetime(1970, 1, 1, tzinfo=UTC)
