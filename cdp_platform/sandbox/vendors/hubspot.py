"""HubSpot CRM v3 as the sandbox serves it: object lists, search, OAuth refresh, and its rate limits.

List cursors are opaque (offset + query hash); search cursors are the numeric offsets HubSpot itself
uses, which is also what makes its 10,000-result ceiling expressible: a page reaching past the
10,000th result (``after + limit > 10000``) is refused with HTTP 400, so a client must split a busy
window into smaller time slices.

Search results carry no associations, as in HubSpot; they are read through the v4 associations batch
endpoint, ``POST /crm/v4/associations/{from}/{to}/batch/read`` with ``{"inputs": [{"id": ...}]}``
(at most 1,000 inputs). Its answer follows what HubSpot really sends: ``from.id`` a string,
``toObjectId`` a number, every HubSpot-defined type of the association (a primary company carries
the "Primary" type and the unlabeled one). An input with no associations, or an id that does not
exist, is reported under ``errors`` as ``crm.associations.NO_ASSOCIATIONS_FOUND`` with HTTP 207 and
``status: "COMPLETE"`` (207 Multi-Status is a success: the found inputs are in ``results``). The
sandbox serves the directions its records hold: deals to contacts and companies, contacts to
companies; each has at most one association, so no per-input ``paging`` is ever issued. More than
1,000 inputs is refused with HTTP 400 VALIDATION_ERROR (HubSpot's exact message is unverified).
HubSpot's reference now lists the same endpoint under a date-versioned path
(``/crm/associations/2026-03/...``) and the v4 path as legacy; the v4 path is what is served here.

Objects are read by id with ``POST /crm/v3/objects/{type}/batch/read``, ``{"properties": [...],
"inputs": [{"id": ...}]}`` (at most 100 inputs, HubSpot's limit; more is refused with HTTP 400
VALIDATION_ERROR): each found object as the list shows it (no associations), in ``results``; ids
that do not exist are left out and named in one ``OBJECT_NOT_FOUND`` error (``context.ids``) with
HTTP 207, as HubSpot answers. ``idProperty`` (reading by another unique property) is not served.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import (
    EmulatedVendor,
    IdentityRows,
    Mount,
    PurchaseRecords,
    StreamBuilder,
    WebhookSender,
)
from cdp_platform.sandbox.population import SourceProfile, company_name, record_random, source_view, uniforms
from cdp_platform.sandbox.purchases import SYSTEM_SECOND_CRM
from cdp_platform.sandbox.records import (
    _TITLES,
    DUPLICATE_SHARE,
    SandboxData,
    _company,
    _DealStream,
    _dt,
    _PersonStream,
    _Stream,
)
from cdp_platform.sandbox.vendors.candidates import record_keys
from cdp_platform.sandbox.vendors.common import (
    UTC,
    SandboxState,
    apply_drift,
    apply_malformed,
    decode_cursor,
    encode_cursor,
    fingerprint,
    json_response,
    make_page,
    numeric_string,
    ordered_position,
    other_date_format,
    parse_timestamp,
    plan_of,
    read_form,
    vendor_base,
    with_query,
)

# The credentials the sandbox accepts by default (public: they unlock only synthetic data).
HUBSPOT_PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-4000-8000-5a4db0c5e7e1"  # noqa: S105
HUBSPOT_CLIENT_ID = "sandbox-hubspot-client-id"
HUBSPOT_CLIENT_SECRET = "sandbox-hubspot-client-secret"  # noqa: S105
HUBSPOT_REFRESH_TOKEN = "sandbox-hubspot-refresh-token"  # noqa: S105

PREFIX = "/hubspot"
ACCESS_TOKEN_PREFIX = "CKsandboxHubSpotOAuth"  # noqa: S105 - a prefix, not a secret
SEARCH_CAP = 10_000
OBJECTS = {
    "contacts": ("hubspot/contacts", "lastmodifieddate"),
    "companies": ("hubspot/companies", "hs_lastmodifieddate"),
    "deals": ("hubspot/deals", "hs_lastmodifieddate"),
}
MODIFIED_PROPERTIES = frozenset({"lastmodifieddate", "hs_lastmodifieddate"})
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
# Names and ids HubSpot accepts for an object type in a path, to the sandbox's plural name.
OBJECT_TYPE_NAMES = {
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "deals": "deals",
    "deal": "deals",
    "0-3": "deals",
}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
ASSOCIATION_BATCH_LIMIT = 1_000  # inputs per batch read (HubSpot's limit since 2025-02-10)
OBJECT_BATCH_LIMIT = 100  # inputs per batch read of objects
NO_ASSOCIATIONS_FOUND = "crm.associations.NO_ASSOCIATIONS_FOUND"


def _hubspot_defined(type_id: int, label: str | None = None) -> dict[str, object]:
    return {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}


# The association types of each direction the sandbox serves (HubSpot's own type ids: deal to
# contact 3; deal to company 5 "Primary" and 341 unlabeled; contact to company 1 "Primary" and 279).
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[dict[str, object], ...]] = {
    ("deals", "contacts"): (_hubspot_defined(3),),
    ("deals", "companies"): (_hubspot_defined(5, "Primary"), _hubspot_defined(341)),
    ("contacts", "companies"): (_hubspot_defined(1, "Primary"), _hubspot_defined(279)),
}
FAR_PAST = datetime.datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime.datetime(9999, 1, 1, tzinfo=UTC)
MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def correlation_id(request_or_plan: Request | FaultPlan | None, salt: str) -> str:
    if isinstance(request_or_plan, FaultPlan):
        raw = request_or_plan.token(salt)
    else:
        source = request_or_plan.url.path if request_or_plan is not None else ""
        raw = fingerprint(salt, source) * 2
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[:12]}"


def hubspot_error(message: str, category: str, cid: str, **extra: object) -> dict:
    return {"status": "error", "message": message, "correlationId": cid, "category": category, **extra}


class SearchError(ValueError):
    """A search body the sandbox (or HubSpot) refuses with a VALIDATION_ERROR."""


class BatchReadError(ValueError):
    """An associations batch read body refused with a VALIDATION_ERROR."""


def _to_time(value: object) -> datetime.datetime:
    """HubSpot filter values: milliseconds since the epoch (number or string) or an ISO timestamp."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        number = numeric_string(value)
        if number is not None:
            return datetime.datetime.fromtimestamp(number / 1000, tz=UTC)
        parsed = parse_timestamp(value)
        if parsed is not None:
            return parsed
    raise SearchError(f"Unable to parse value '{value}' as a timestamp (ms since epoch or ISO 8601)")


class HubSpot:
    """Routes and behaviour of the emulated HubSpot portal."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/v1/token", self.token, methods=["POST"]),
            Route("/crm/v3/objects/{object_type}", self.list_objects, methods=["GET"]),
            Route("/crm/v3/objects/{object_type}/search", self.search, methods=["POST"]),
            Route("/crm/v3/objects/{object_type}/batch/read", self.read_objects, methods=["POST"]),
            Route(
                "/crm/v4/associations/{from_type}/{to_type}/batch/read",
                self.read_associations,
                methods=["POST"],
            ),
        ]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith("/crm/")

    # ---- auth and quota ------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        creds = self.state.credentials
        cid = correlation_id(plan_of(request) or request, "auth")
        if scheme.lower() == "bearer" and token == creds.hubspot_private_app_token:
            return None
        issued = (
            self.state.signer.issued_ms("hubspot", ACCESS_TOKEN_PREFIX, token)
            if scheme.lower() == "bearer"
            else None
        )
        if issued is not None:
            age = self.state.now - issued / 1000
            if age <= creds.hubspot_access_token_seconds:
                return None
            minutes = int((age - creds.hubspot_access_token_seconds) // 60)
            return json_response(
                hubspot_error(
                    f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                    "EXPIRED_AUTHENTICATION",
                    cid,
                ),
                401,
            )
        return json_response(hubspot_error(MISSING_CREDENTIALS, "INVALID_AUTHENTICATION", cid), 401)

    def _quota(self, request: Request, search: bool) -> tuple[dict[str, str], Response | None]:
        """Spend one request; search has its own per-second policy and no rate-limit headers."""
        settings = self.state.limiter.settings
        limiter = self.state.limiter
        daily = limiter.acquire(
            "hubspot/daily",
            "app",
            limit=settings.hubspot_requests_per_day,
            nominal_seconds=86400,
            rolling=False,
        )
        if search:
            usage = limiter.acquire(
                "hubspot/search",
                "app",
                limit=settings.hubspot_search_per_second,
                nominal_seconds=1,
                rolling=True,
            )
            headers: dict[str, str] = {}
            policy = "SECONDLY"
        else:
            usage = limiter.acquire(
                "hubspot/ten_secondly",
                "app",
                limit=settings.hubspot_requests_per_ten_seconds,
                nominal_seconds=10,
                rolling=True,
            )
            headers = self._headers(
                usage.limit, usage.remaining, usage.window_seconds, daily.limit, daily.remaining
            )
            policy = "TEN_SECONDLY_ROLLING"
        if not daily.allowed:
            policy = "DAILY"
        if usage.allowed and daily.allowed:
            return headers, None
        self.state.stats.add("throttled", "hubspot", policy)
        cid = correlation_id(plan_of(request) or request, "ratelimit")
        return headers, json_response(self._rate_limit_body(policy, cid), 429, headers)

    @staticmethod
    def _headers(
        limit: int, remaining: int, window_seconds: float, daily: int, daily_remaining: int
    ) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(daily_remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(max(1, round(window_seconds * 1000))),
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
        }

    @staticmethod
    def _rate_limit_body(policy: str, cid: str) -> dict:
        names = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly", "DAILY": "daily"}
        return {
            "status": "error",
            "message": f"You have reached your {names[policy]} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": cid,
            "policyName": policy,
        }

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        creds = self.state.credentials
        cid = correlation_id(request, "oauth")
        if form.get("grant_type") != "refresh_token":
            return json_response(
                {
                    "status": "BAD_GRANT_TYPE",
                    "message": "grant_type must be refresh_token",
                    "correlationId": cid,
                },
                400,
            )
        if form.get("client_id") != creds.hubspot_client_id:
            return json_response(
                {"status": "BAD_CLIENT_ID", "message": "missing or unknown client id", "correlationId": cid},
                400,
            )
        if form.get("client_secret") != creds.hubspot_client_secret:
            return json_response(
                {
                    "status": "BAD_CLIENT_SECRET",
                    "message": "missing or invalid client secret",
                    "correlationId": cid,
                },
                400,
            )
        if form.get("refresh_token") != creds.hubspot_refresh_token:
            return json_response(
                {
                    "status": "BAD_REFRESH_TOKEN",
                    "message": "missing or invalid refresh token",
                    "correlationId": cid,
                },
                400,
            )
        issued = int(self.state.now * 1000)
        return json_response(
            {
                "token_type": "bearer",
                "refresh_token": creds.hubspot_refresh_token,
                "access_token": self.state.signer.issue("hubspot", ACCESS_TOKEN_PREFIX, issued),
                "expires_in": int(creds.hubspot_access_token_seconds),
            }
        )

    # ---- shaping -------------------------------------------------------------------------------

    @staticmethod
    def shape(
        record: dict,
        object_type: str,
        properties: Sequence[str] | None,
        associations: Sequence[str],
        modified: str,
    ) -> dict:
        source = record.get("properties", {})
        wanted = (
            DEFAULT_PROPERTIES[object_type]
            if properties is None
            else (*properties, "createdate", "hs_object_id", modified)
        )
        shown: dict[str, object] = {}
        for name in wanted:
            if name in source and name not in shown:
                shown[name] = source[name]
        out = {key: value for key, value in record.items() if key != "associations"}
        out["properties"] = shown
        linked = record.get("associations") or {}
        chosen = {name: linked[name] for name in associations if linked.get(name, {}).get("results")}
        if chosen:
            out["associations"] = chosen
        return out

    def _admit(
        self, request: Request, *, search: bool, with_object: bool = False
    ) -> tuple[dict[str, str], tuple[str, str, str] | None] | Response:
        """What every data route checks first, in HubSpot's order: the credential, the quota, then
        (for object routes) the object type. Returns the rate-limit headers and the object, or the
        vendor's error response."""
        if (error := self._authenticate(request)) is not None:
            return error
        headers, error = self._quota(request, search=search)
        if error is not None:
            return error
        if not with_object:
            return headers, None
        resolved = self._object(request)
        if isinstance(resolved, Response):
            return resolved
        return headers, resolved

    def _object(self, request: Request) -> tuple[str, str, str] | Response:
        object_type = request.path_params["object_type"]
        if object_type not in OBJECTS:
            cid = correlation_id(plan_of(request) or request, "object")
            return json_response(
                hubspot_error(f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR", cid),
                400,
            )
        stream, modified = OBJECTS[object_type]
        return object_type, stream, modified

    # ---- list ----------------------------------------------------------------------------------

    async def list_objects(self, request: Request) -> Response:
        admitted = self._admit(request, search=False, with_object=True)
        if isinstance(admitted, Response):
            return admitted
        headers, (object_type, stream, modified) = admitted
        params = request.query_params
        plan = plan_of(request)
        cid = correlation_id(plan or request, "list")
        limit_text = params.get("limit", "10")
        if not limit_text.isdigit() or int(limit_text) < 1:
            return json_response(
                hubspot_error(f"Invalid limit: {limit_text}", "VALIDATION_ERROR", cid), 400, headers
            )
        limit = min(100, int(limit_text))
        properties = (
            [p for raw in params.getlist("properties") for p in raw.split(",") if p]
            if ("properties" in params)
            else None
        )
        associations = [a for raw in params.getlist("associations") for a in raw.split(",") if a]
        query_hash = fingerprint("hubspot-list", object_type)
        start = 0
        if "after" in params:
            decoded = decode_cursor(params["after"], query_hash)
            if decoded is None:
                return json_response(
                    hubspot_error("Invalid paging cursor 'after'", "VALIDATION_ERROR", cid), 400, headers
                )
            start = decoded
        positions = (
            () if params.get("archived", "false").lower() == "true" else self.state.data.all_positions(stream)
        )
        page = make_page(len(positions), start, limit, plan)
        records = await self.state.build_page(
            lambda: self._damage(
                [
                    self.shape(
                        self.state.data.record(stream, ordered_position(positions, i, False)),
                        object_type,
                        properties,
                        associations,
                        modified,
                    )
                    for i in page.indices()
                ],
                plan,
            )
        )
        payload: dict = {"results": records}
        if page.next_start is not None:
            after = encode_cursor(page.next_start, query_hash)
            link = with_query(
                f"{vendor_base(request, PREFIX)}{request.url.path[len(PREFIX) :]}",
                [(k, v) for k, v in params.multi_items() if k != "after"] + [("after", after)],
            )
            if plan is not None and plan.wants("self_link"):
                link = str(request.url)
                plan.applied.add("self_link")
            payload["paging"] = {"next": {"after": after, "link": link}}
        return json_response(payload, headers=headers)

    # ---- search --------------------------------------------------------------------------------

    def _search_window(self, body: dict) -> tuple[datetime.datetime, datetime.datetime, bool]:
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 1:
            raise SearchError("The sandbox supports at most one filterGroup (an AND of filters)")
        start, end = FAR_PAST, FAR_FUTURE
        tick = datetime.timedelta(microseconds=1)
        for flt in (groups[0].get("filters") or []) if groups else []:
            if not isinstance(flt, dict) or flt.get("propertyName") not in MODIFIED_PROPERTIES:
                name = flt.get("propertyName") if isinstance(flt, dict) else flt
                raise SearchError(
                    f"The sandbox filters only on lastmodifieddate / hs_lastmodifieddate, not {name!r}"
                )
            operator = flt.get("operator")
            value = _to_time(flt.get("value"))
            if operator == "GTE":
                start = max(start, value)
            elif operator == "GT":
                start = max(start, value + tick)
            elif operator == "LT":
                end = min(end, value)
            elif operator == "LTE":
                end = min(end, value + tick)
            elif operator == "EQ":
                start, end = max(start, value), min(end, value + tick)
            elif operator == "BETWEEN":
                start, end = max(start, value), min(end, _to_time(flt.get("highValue")) + tick)
            else:
                raise SearchError(f"Unsupported operator {operator!r} for a datetime property")
        sorts = body.get("sorts") or []
        descending = False
        for sort in sorts if isinstance(sorts, list) else [sorts]:
            name, direction = (
                (sort, "ASCENDING")
                if isinstance(sort, str)
                else (sort.get("propertyName"), sort.get("direction", "ASCENDING"))
            )
            if name not in MODIFIED_PROPERTIES or direction not in {"ASCENDING", "DESCENDING"}:
                raise SearchError("The sandbox sorts only by lastmodifieddate / hs_lastmodifieddate")
            descending = direction == "DESCENDING"
        return start, end, descending

    async def search(self, request: Request) -> Response:
        admitted = self._admit(request, search=True, with_object=True)
        if isinstance(admitted, Response):
            return admitted
        headers, (object_type, stream, modified) = admitted
        plan = plan_of(request)
        cid = correlation_id(plan or request, "search")
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise SearchError("Invalid input JSON: expected an object")
            limit = int(body.get("limit", 10))
            start = int(body.get("after", 0) or 0)
            if not 1 <= limit <= 200:
                raise SearchError("limit must be between 1 and 200")
            window_start, window_end, descending = self._search_window(body)
            properties = body.get("properties")
            if properties is not None and not isinstance(properties, list):
                raise SearchError("properties must be a list of property names")
        except json.JSONDecodeError as exc:
            message = f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
            return json_response(hubspot_error(message, "VALIDATION_ERROR", cid), 400, headers)
        except (SearchError, ValueError, TypeError) as exc:
            return json_response(hubspot_error(str(exc), "VALIDATION_ERROR", cid), 400, headers)
        if start + limit > SEARCH_CAP:
            return json_response(
                hubspot_error(
                    "There was a problem with the request.",
                    "VALIDATION_ERROR",
                    cid,
                    errors=[
                        {
                            "message": f"Paging is limited to {SEARCH_CAP} results; narrow the filter.",
                            "code": "INVALID_PAGING",
                        }
                    ],
                ),
                400,
                headers,
            )
        data = self.state.data
        if window_start >= window_end:
            positions: Sequence[int] = ()
        elif window_start == FAR_PAST and window_end == FAR_FUTURE:
            positions = data.all_positions(stream)
        else:
            positions = data.window(stream, window_start, window_end)
        page = make_page(len(positions), start, limit, plan)
        records = await self.state.build_page(
            lambda: self._damage(
                [
                    self.shape(
                        data.record(stream, ordered_position(positions, i, descending)),
                        object_type,
                        properties,
                        (),
                        modified,
                    )
                    for i in page.indices()
                ],
                plan,
            )
        )
        payload: dict = {"total": len(positions), "results": records}
        if page.next_start is not None:
            payload["paging"] = search_paging(str(page.next_start))
        return json_response(payload, headers=headers)

    # ---- associations (v4 batch read) ---------------------------------------------------------

    def _direction(self, request: Request, cid: str, headers: dict[str, str]) -> tuple[str, str] | Response:
        """The (from, to) object types the path names, as plural names, or the error refusing them."""
        names = (request.path_params["from_type"], request.path_params["to_type"])
        for name in names:
            if name.lower() not in OBJECT_TYPE_NAMES:
                return json_response(
                    hubspot_error(f"Unable to infer object type from: {name}", "VALIDATION_ERROR", cid),
                    400,
                    headers,
                )
        from_type, to_type = (OBJECT_TYPE_NAMES[name.lower()] for name in names)
        if (from_type, to_type) not in ASSOCIATION_TYPES:
            served = ", ".join(f"{a} to {b}" for a, b in ASSOCIATION_TYPES)
            return json_response(
                hubspot_error(
                    f"The sandbox serves associations from {served} only, not {from_type} to {to_type}",
                    "VALIDATION_ERROR",
                    cid,
                ),
                400,
                headers,
            )
        return from_type, to_type

    @staticmethod
    def _batch_body(raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            raise BatchReadError(
                f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(body, dict):
            raise BatchReadError("Invalid input JSON: expected an object")
        return body

    @staticmethod
    def _batch_ids(body: dict, limit: int = ASSOCIATION_BATCH_LIMIT) -> list[str]:
        """The distinct input ids of a batch read body, in order (HubSpot answers each id once)."""
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise BatchReadError("Invalid input JSON: 'inputs' must be a list of {\"id\": ...}")
        if len(inputs) > limit:
            raise BatchReadError(f"Batch read is limited to {limit} inputs; {len(inputs)} were given")
        ids: dict[str, None] = {}
        for item in inputs:
            value = item.get("id") if isinstance(item, dict) else None
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise BatchReadError("Invalid input JSON: every input needs an 'id' (a string)")
            if item.get("after") is not None:
                # The sandbox never issues association paging cursors (one association per pair).
                raise BatchReadError(f"Invalid paging cursor 'after' for id {value}")
            ids[str(value)] = None
        return list(ids)

    def _associated(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """Each input id that has associations to ``to_type``, with the ids it is associated with."""
        stream = self.state.data.streams[OBJECTS[from_type][0]]
        linked: dict[str, list[str]] = {}
        for object_id in ids:
            number = _record_number(stream, object_id)
            if number is None:
                continue
            targets = stream.record(number)["associations"].get(to_type, {}).get("results", [])
            if targets:
                linked[object_id] = [target["id"] for target in targets]
        return linked

    async def read_associations(self, request: Request) -> Response:
        admitted = self._admit(request, search=False)
        if isinstance(admitted, Response):
            return admitted
        headers, _ = admitted
        plan = plan_of(request)
        cid = correlation_id(plan or request, "associations")
        direction = self._direction(request, cid, headers)
        if isinstance(direction, Response):
            return direction
        from_type, to_type = direction
        try:
            ids = self._batch_ids(self._batch_body(await request.body()))
        except BatchReadError as exc:
            return json_response(hubspot_error(str(exc), "VALIDATION_ERROR", cid), 400, headers)
        started_at = hs_timestamp(int(self.state.now * 1000))
        linked = await self.state.build_page(lambda: self._associated(from_type, to_type, ids))
        types = ASSOCIATION_TYPES[(from_type, to_type)]
        results = [
            {
                "from": {"id": object_id},
                "to": [{"toObjectId": int(target), "associationTypes": list(types)} for target in targets],
            }
            for object_id, targets in linked.items()
        ]
        results = apply_drift(apply_malformed(results, plan, _corrupt_association), plan, _drift_association)
        missing = [object_id for object_id in ids if object_id not in linked]
        payload: dict = {"status": "COMPLETE", "results": results}
        if missing:
            payload["numErrors"] = len(missing)
            payload["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": NO_ASSOCIATIONS_FOUND,
                    "context": {
                        "fromObjectId": [object_id],
                        "fromObjectType": [SINGULAR[from_type]],
                        "toObjectType": [SINGULAR[to_type]],
                    },
                    "links": {},
                    "message": f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {object_id}.",
                }
                for object_id in missing
            ]
        payload["startedAt"] = started_at
        payload["completedAt"] = hs_timestamp(int(self.state.now * 1000))
        return json_response(payload, 207 if missing else 200, headers)

    # ---- objects by id (v3 batch read) ---------------------------------------------------------

    async def read_objects(self, request: Request) -> Response:
        admitted = self._admit(request, search=False, with_object=True)
        if isinstance(admitted, Response):
            return admitted
        headers, (object_type, stream_name, modified) = admitted
        plan = plan_of(request)
        cid = correlation_id(plan or request, "batch_read")
        try:
            body = self._batch_body(await request.body())
            if body.get("idProperty") not in (None, "hs_object_id"):
                raise BatchReadError("The sandbox reads objects by their id only, not by idProperty")
            properties = body.get("properties")
            if properties is not None and not (
                isinstance(properties, list) and all(isinstance(p, str) for p in properties)
            ):
                raise BatchReadError("Invalid input JSON: 'properties' must be a list of property names")
            ids = self._batch_ids(body, OBJECT_BATCH_LIMIT)
        except BatchReadError as exc:
            return json_response(hubspot_error(str(exc), "VALIDATION_ERROR", cid), 400, headers)
        started_at = hs_timestamp(int(self.state.now * 1000))
        stream = self.state.data.streams[stream_name]

        def found() -> list[dict]:
            records = []
            for object_id in ids:
                number = _record_number(stream, object_id)
                if number is not None:
                    records.append(self.shape(stream.record(number), object_type, properties, (), modified))
            return self._damage(records, plan)

        records = await self.state.build_page(found)
        payload: dict = {"status": "COMPLETE", "results": records}
        read = {str(record.get("id")) for record in records}
        missing = [object_id for object_id in ids if object_id not in read and _record_number(stream, object_id) is None]
        if missing:
            payload["numErrors"] = 1
            payload["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                    "links": {},
                }
            ]
        payload["startedAt"] = started_at
        payload["completedAt"] = hs_timestamp(int(self.state.now * 1000))
        return json_response(payload, 207 if missing else 200, headers)

    # ---- faults --------------------------------------------------------------------------------

    @staticmethod
    def _damage(records: list[dict], plan: FaultPlan | None) -> list[dict]:
        records = apply_malformed(records, plan, _corrupt)
        return apply_drift(records, plan, _drift)

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        search = scope["path"].endswith("/search")
        policy = "SECONDLY" if search else "TEN_SECONDLY_ROLLING"
        settings = self.state.limiter.settings
        headers = (
            {}
            if search
            else self._headers(
                settings.hubspot_requests_per_ten_seconds,
                0,
                self.state.limiter.scaled(10),
                settings.hubspot_requests_per_day,
                settings.hubspot_requests_per_day,
            )
        )
        if retry_after_zero:
            headers["Retry-After"] = "0"
        return json_response(self._rate_limit_body(policy, correlation_id(plan, "throttled")), 429, headers)

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """401 EXPIRED_AUTHENTICATION for an OAuth access token; a private app token never expires."""
        scheme, _, token = Request(scope).headers.get("authorization", "").partition(" ")
        if (
            scheme.lower() != "bearer"
            or self.state.signer.issued_ms("hubspot", ACCESS_TOKEN_PREFIX, token.strip()) is None
        ):
            return None
        return json_response(
            hubspot_error(
                "The OAuth token used to make this call expired 0 minute(s) ago.",
                "EXPIRED_AUTHENTICATION",
                correlation_id(plan, "auth"),
            ),
            401,
        )

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        return json_response(
            hubspot_error("internal error", "INTERNAL_ERROR", correlation_id(plan, "server_error")), 500
        )


def _corrupt(record: dict, variant: str) -> dict | None:
    properties = record.get("properties", {})
    if variant == "missing_id":
        return {k: v for k, v in record.items() if k != "id"}
    if variant == "bad_email":
        email = properties.get("email")
        return {**record, "properties": {**properties, "email": email.replace("@", "")}} if email else None
    if variant == "other_date_format":
        return {**record, "updatedAt": other_date_format(record.get("updatedAt", ""))}
    identifier = record.get("id")
    return {**record, "id": int(identifier)} if isinstance(identifier, str) and identifier.isdigit() else None


def _drift(record: dict) -> dict | None:
    """A numeric property (``hs_object_id``, ``amount``...) served as a JSON number, not a string."""
    properties = record.get("properties", {})
    for name, value in properties.items():
        number = numeric_string(value)
        if number is not None:
            return {**record, "properties": {**properties, name: number}}
    return None


class _NumberedStream(Protocol):
    """What the id look-up needs of a sandbox stream."""

    def size(self) -> int: ...

    def record_id(self, r: int) -> str: ...


def _record_number(stream: _NumberedStream, object_id: str) -> int | None:
    """The record number behind a HubSpot id, or None for an id the stream never issued.

    HubSpot ids are a per-object base plus the record number; the round trip through ``record_id``
    makes any other string (leading zeros, another object's id) unknown rather than a wrong record.
    """
    if not object_id.isdigit():
        return None
    number = int(object_id) - int(stream.record_id(0))
    if 0 <= number < stream.size() and stream.record_id(number) == object_id:
        return number
    return None


def _corrupt_association(result: dict, variant: str) -> dict | None:
    """A result whose ``from.id`` comes back as a number, the one malformation an id list can show."""
    identifier = result.get("from", {}).get("id")
    if variant != "wrong_type" or not isinstance(identifier, str) or not identifier.isdigit():
        return None
    return {**result, "from": {"id": int(identifier)}}


def _drift_association(result: dict) -> dict | None:
    """``toObjectId`` served as a string (as HubSpot's own reference pages show it) instead of a number."""
    targets = result.get("to") or []
    if not targets:
        return None
    return {**result, "to": [{**target, "toObjectId": str(target["toObjectId"])} for target in targets]}


def search_paging(after: str) -> dict:
    """A search page's ``paging``: the cursor and a relative ``link``, as HubSpot documents the
    search answer (``"next": {"after": "NTI1Cg%3D%3D", "link": "?after=NTI1Cg%3D%3D"}``; the link is
    of no use for a POST, the cursor goes back in the body)."""
    return {"next": {"after": after, "link": f"?after={after}"}}


# ---- webhooks: new and changed contacts, as HubSpot's v3-signed batches ------------------------------

WEBHOOK_BATCH = 10  # HubSpot batches up to 100 events a request; the sandbox sends smaller batches


def _event_number(*parts: object) -> int:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:6], "big")


def webhook_event(data, stream: str, position: int, record_id: str, at_ms: int) -> tuple[str, dict]:
    """A contact's creation or property change as HubSpot's webhook event (its id is a number)."""
    properties = data.record(stream, position)["properties"]
    created = properties["createdate"] == properties["lastmodifieddate"]
    event_id = str(_event_number(data.config.seed, stream, record_id, at_ms))
    item: dict[str, object] = {
        "eventId": int(event_id),
        "subscriptionId": 4_500_001 if created else 4_500_002,
        "portalId": 62_515,
        "appId": 1_160_452,
        "occurredAt": at_ms,
        "subscriptionType": "contact.creation" if created else "contact.propertyChange",
        "objectId": int(record_id),
        "changeSource": "CRM_UI",
    }
    if not created:
        item.update({"propertyName": "lastmodifieddate", "propertyValue": str(at_ms)})
    return event_id, item


def webhook_sign(body: bytes, url: str, secrets: Mapping[str, str], now: float) -> dict[str, str]:
    """Signature v3: base64 HMAC-SHA256 of method + URL + body + timestamp, with the app secret."""
    stamp = str(int(now * 1000))
    message = b"POST" + url.encode() + body + stamp.encode()
    digest = hmac.new(secrets["CDP_HUBSPOT_CLIENT_SECRET"].encode(), message, hashlib.sha256).digest()
    return {"X-HubSpot-Signature-v3": base64.b64encode(digest).decode(), "X-HubSpot-Request-Timestamp": stamp}


def _forged_item(item: dict, event_id: str) -> None:
    item["eventId"] = int(event_id)


# ---- its part of the truth: its records as identity candidates ---------------------------------------

def _identity_contact(_: Any, record: dict[str, Any]) -> dict[str, str | None]:
    properties = record["properties"]
    return {
        "record_id": record["id"],
        "first_name": properties.get("firstname"),
        "last_name": properties.get("lastname"),
        "email": properties.get("email"),
        "phone": properties.get("phone"),
        "date_of_birth": properties.get("date_of_birth"),
        "street": properties.get("address"),
        "city": properties.get("city"),
        "postcode": properties.get("zip"),
        "country": properties.get("country"),
        "crm_id": record["id"],
        "twitter_handle": properties.get("twitterhandle"),
        "instagram_username": properties.get("instagram_username"),
    }


def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    return [record_keys(data, "hubspot/contacts")]


# ---- the records it serves (built by cdp_platform.sandbox.records.SandboxData) ------------------------

HUBSPOT_COMPANY_SHARE = 0.85  # of companies that also exist in HubSpot


_HS_OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "contractsent")


def hs_timestamp(ms: int) -> str:
    """HubSpot: ``2026-11-25T20:08:49.603Z``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _hs_str(value: object) -> str | None:
    """HubSpot returns every property value as a string (or null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_HS_CONTACT_BASE = 10_000_000_000


_HS_COMPANY_BASE = 20_000_000_000


_HS_DEAL_BASE = 30_000_000_000


def _hs_object(
    record_id: str, properties: dict[str, Any], created: int, modified: int, associations: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": {name: _hs_str(value) for name, value in properties.items()},
        "createdAt": hs_timestamp(created),
        "updatedAt": hs_timestamp(modified),
        "archived": False,
        "associations": associations,
    }


class HubSpotCompanies(_Stream):
    name = "hubspot/companies"
    precision_ms = 1

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.companies, dtype=np.int64)
        self.companies = everyone[uniforms(self.key("member"), everyone) < HUBSPOT_COMPANY_SHARE].astype(
            np.int32
        )

    def size(self) -> int:
        return int(self.companies.size)

    def record_for_company(self, company_index: int) -> int | None:
        at = int(np.searchsorted(self.companies, company_index))
        if at < self.companies.size and int(self.companies[at]) == company_index:
            return at
        return None

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = self.end_ms - 1 - self.start_ms
        created = self.start_ms + (uniforms(self.key("created"), r) ** 2 * span).astype(np.int64)
        return self.mutable_times(r, created)

    def record_id(self, r: int) -> str:
        return str(_HS_COMPANY_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        company = _company(self.seed, int(self.companies[r]))
        rid = self.record_id(r)
        return _hs_object(
            rid,
            {
                "name": company["name"],
                "domain": company["domain"],
                "city": company["city"],
                "country": company["country"],
                "industry": company["industry"][1],
                "numberofemployees": company["employees"] + (7 if modified > created else 0),
                "phone": company["phone"],
                "createdate": hs_timestamp(created),
                "hs_lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            {},
        )


class HubSpotContacts(_PersonStream):
    name = "hubspot/contacts"
    share = 0.60
    duplicate_share = DUPLICATE_SHARE
    precision_ms = 1

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.mutable_times(r, self.created_times(r))

    def record_id(self, r: int) -> str:
        return str(_HS_CONTACT_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        person_index = int(self.persons[r])
        person = self.pop.person(person_index)
        view = source_view(self.seed, person, "hubspot", self.copy_of(r))
        rng = record_random(self.seed, self.name, r, int(modified > created))
        # Its own stream of draws, so adding the consent property left every other field as it was;
        # per version, so a later change of the record can be the person opting out (or back in).
        consent = record_random(self.seed, self.name, "email_optout", r, int(modified > created))
        rid = self.record_id(r)
        stage = (
            "customer"
            if self.data.bought_before(person_index, SYSTEM_SECOND_CRM, modified)
            else (("subscriber", "lead", "marketingqualifiedlead")[rng.randrange(3)])
        )
        companies: HubSpotCompanies = self.data.streams["hubspot/companies"]  # type: ignore[assignment]
        company_r = companies.record_for_company(person.company_index)
        associations = {}
        if company_r is not None:
            associations["companies"] = {
                "results": [{"id": companies.record_id(company_r), "type": "contact_to_company"}]
            }
        return _hs_object(
            rid,
            {
                "email": view.email,
                "firstname": view.first_name,
                "lastname": view.last_name,
                "phone": view.phone,
                "address": view.street,
                "city": view.city,
                "zip": view.postcode,
                "country": view.country,
                "company": company_name(self.seed, person.company_index) if rng.random() < 0.6 else None,
                "jobtitle": _TITLES[rng.randrange(len(_TITLES))],
                "date_of_birth": view.birth_date.isoformat() if view.birth_date else None,
                "twitterhandle": view.twitter,
                "instagram_username": view.instagram,
                "lifecyclestage": stage,
                "hs_email_optout": consent.random() < 0.1,
                "createdate": hs_timestamp(created),
                "lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            associations,
        )


class HubSpotDeals(_DealStream):
    name = "hubspot/deals"
    system = SYSTEM_SECOND_CRM
    precision_ms = 1

    def record_id(self, r: int) -> str:
        return str(_HS_DEAL_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        person_index, created, modified, close, stage, amount, repeat = self.deal(r)
        person = self.pop.person(person_index)
        rid = self.record_id(r)
        if stage == 0:
            dealstage = "closedwon"
        elif stage == 1:
            dealstage = "closedlost"
        else:
            dealstage = _HS_OPEN_STAGES[stage - 2]
        associations: dict[str, Any] = {}
        contact_r = self.contacts.main_record(person_index)
        if contact_r is not None:
            associations["contacts"] = {
                "results": [{"id": self.contacts.record_id(contact_r), "type": "deal_to_contact"}]
            }
        companies: HubSpotCompanies = self.data.streams["hubspot/companies"]  # type: ignore[assignment]
        company_r = companies.record_for_company(person.company_index)
        if company_r is not None:
            associations["companies"] = {
                "results": [{"id": companies.record_id(company_r), "type": "deal_to_company"}]
            }
        return _hs_object(
            rid,
            {
                "dealname": f"{person.last_name} order" + (" (repeat)" if repeat else ""),
                "amount": f"{amount:.2f}",
                "closedate": hs_timestamp(close),
                "dealstage": dealstage,
                "pipeline": "default",
                "hs_is_closed_won": stage == 0,
                "createdate": hs_timestamp(created),
                "hs_lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            associations,
        )


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------

VENDOR = EmulatedVendor(
    position=20,
    api=HubSpot,
    mounts=(
        Mount(
            "hubspot",
            "hubspot",
            credentials={"access_token": HUBSPOT_PRIVATE_APP_TOKEN},
            # HubSpot's standard twitterhandle property, and a custom property the emulated
            # portal added for Instagram (the contacts stream writes both).
            handle_fields={"contacts": "twitter_handle=twitterhandle,instagram_username=instagram_username"},
        ),
    ),
    accepts={
        "hubspot_private_app_token": HUBSPOT_PRIVATE_APP_TOKEN,
        "hubspot_client_id": HUBSPOT_CLIENT_ID,
        "hubspot_client_secret": HUBSPOT_CLIENT_SECRET,
        "hubspot_refresh_token": HUBSPOT_REFRESH_TOKEN,
        "hubspot_access_token_seconds": 1800.0,
    },
    quotas={
        "hubspot_requests_per_ten_seconds": 100,
        "hubspot_requests_per_day": 250000,
        "hubspot_search_per_second": 4,
    },
    public={
        "HUBSPOT_PRIVATE_APP_TOKEN": HUBSPOT_PRIVATE_APP_TOKEN,
        "HUBSPOT_CLIENT_ID": HUBSPOT_CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": HUBSPOT_CLIENT_SECRET,
        "HUBSPOT_REFRESH_TOKEN": HUBSPOT_REFRESH_TOKEN,
    },
    # The search endpoints' per-second window, which no response header reports.
    pacer_settings={"hubspot": lambda scale: {"search_window_seconds": 1.0 / scale}},
    webhooks=(
        WebhookSender(
            "hubspot",
            secrets={"CDP_HUBSPOT_CLIENT_SECRET": "sandbox-hubspot-client-secret"},
            sign=webhook_sign,
            streams=("hubspot/contacts",),
            event=webhook_event,
            body=lambda changes, attempt: [{**change.item, "attemptNumber": attempt} for change in changes],
            batch=WEBHOOK_BATCH,
            forged_id=lambda number, event_id: f"9{number:08d}{event_id[-6:]}",
            forged_item=_forged_item,
        ),
    ),
    builders=(
        StreamBuilder("hubspot/contacts", lambda data, built: HubSpotContacts(data), customers_of=SYSTEM_SECOND_CRM),
        StreamBuilder("hubspot/companies", lambda data, built: HubSpotCompanies(data)),
        StreamBuilder("hubspot/deals", lambda data, built: HubSpotDeals(data, built["hubspot/contacts"])),
    ),
    purchases=(
        PurchaseRecords(
            SYSTEM_SECOND_CRM, "hubspot/deals", lambda data, number: data.streams["hubspot/deals"].record_id(number)
        ),
    ),
    identity_rows=(IdentityRows("hubspot/contacts", _identity_contact),),
    identity_keys=_identity_keys,
    noise_profiles={
        "hubspot": SourceProfile(0.25, 0.35, 0.4, 0.7, 0.10, 0.03, 0.15, 0.05, 0.25, ("name", "code")),
    },
)
