"""The Facebook Graph API (Pages, Lead Ads) and the Instagram Graph API, as the sandbox serves them.

One router serves both ``/facebook`` and ``/instagram``: on the real Graph they share a host and
paths, and the node id decides what an edge means. Usage is metered per app (``X-App-Usage``, code 4
at 100 %) and per business object (``X-Business-Use-Case-Usage``, code 32 for pages, 80002 for
Instagram accounts) over a rolling hour, reported as percentages that rise with every call.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import math
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import EmulatedVendor, IdentityRows, Mount, StreamBuilder, WebhookSender
from cdp_platform.sandbox.population import SourceProfile, key_of, record_random, source_view
from cdp_platform.sandbox.records import _BASE62, _BrandPosts, _Comments, _dt, _floor, _PersonStream
from cdp_platform.sandbox.vendors.candidates import profile_keys, record_keys
from cdp_platform.sandbox.vendors.common import (
    UTC,
    SandboxState,
    apply_drift,
    apply_malformed,
    decode_cursor,
    dumps,
    encode_cursor,
    fingerprint,
    json_response,
    make_page,
    ordered_position,
    other_date_format,
    parse_timestamp,
    parse_unix_or_iso,
    plan_of,
    vendor_base,
    with_query,
)
from cdp_platform.sandbox.vendors.names import decorated_name

# The credentials the sandbox accepts by default (public: they unlock only synthetic data).
FACEBOOK_APP_ID = "100000000000001"
FACEBOOK_APP_SECRET = "sandbox-facebook-app-secret"  # noqa: S105
FACEBOOK_ACCESS_TOKEN = "EAAsandboxFacebookPageAccessToken"  # noqa: S105 - also valid for Instagram
EXCHANGED_TOKEN_PREFIX = "EAAGsandboxExchanged"  # noqa: S105 - a prefix, not a secret
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
FAR_PAST = datetime.datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime.datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Edge:
    """What one node/edge pair serves."""

    stream: str
    node_type: str  # for error messages, as Graph names it
    fields: tuple[str, ...]  # fields the edge can return
    default_fields: tuple[str, ...]
    time_field: str
    newest_first: bool
    owner: str  # business object whose use-case usage the call spends
    owner_type: str  # "pages" or "instagram"
    parent: str | None = None  # for comments: the parent id to list children of


def graph_error(
    status: int,
    message: str,
    code: int,
    trace: str,
    *,
    error_type: str = "OAuthException",
    subcode: int | None = None,
    transient: bool | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict = {"message": message, "type": error_type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = trace
    return json_response({"error": error}, status, headers, media_type="application/json; charset=UTF-8")


THROTTLE_ERRORS = {
    4: (403, "(#4) Application request limit reached", None),
    17: (400, "(#17) User request limit reached", 2446079),
    32: (400, "(#32) Page request limit reached", None),
    613: (400, "(#613) Calls to this api have exceeded the rate limit.", None),
    80002: (
        400,
        "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. "
        "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        None,
    ),
}


def throttle_error(code: int, trace: str, headers: dict[str, str] | None = None) -> Response:
    status, message, subcode = THROTTLE_ERRORS[code]
    return graph_error(status, message, code, trace, subcode=subcode, transient=True, headers=headers)


def _trace(request: Request, plan: FaultPlan | None, salt: str) -> str:
    raw = plan.token(salt) if plan is not None else fingerprint(salt, request.url.path, request.url.query) * 3
    return "A" + raw[:26]


def _field_names(raw: str) -> list[str]:
    """Top-level names of a Graph ``fields`` list; nested selections like ``from{id,name}`` are kept whole."""
    names, depth, current = [], 0, ""
    for char in raw:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            names.append(current.strip())
            current = ""
            continue
        if depth == 0 and char not in "{}":
            current += char
    names.append(current.strip())
    return [name for name in names if name]


class Graph:
    """Routes and behaviour of the emulated Graph API (shared by the facebook and instagram prefixes)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        data = state.data
        self.page_id = str(data.facebook_page_id)
        # SandboxData serves a form's leads from the whole facebook/leads stream (one form today).
        self.form_ids = tuple(str(form) for form in data.facebook_lead_form_ids)
        self.ig_user_id = str(data.instagram_user_id)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/{version}/oauth/access_token", self.exchange_token, methods=["GET"]),
            Route("/{version}/{node}", self.node, methods=["GET"]),
            Route("/{version}/{node}/{edge}", self.edge, methods=["GET"]),
        ]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return "/oauth/" not in path

    # ---- auth ----------------------------------------------------------------------------------

    def _token_of(self, request: Request) -> str | None:
        token = request.query_params.get("access_token")
        if token:
            return token
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() in {"bearer", "oauth"} and value.strip() else None

    def _check_token(self, request: Request, plan: FaultPlan | None) -> Response | None:
        token = self._token_of(request)
        trace = _trace(request, plan, "auth")
        if token is None:
            return graph_error(400, "An access token is required to request this resource.", 104, trace)
        if (error := self._check_proof(request, token, trace)) is not None:
            return error
        if token == self.state.credentials.facebook_access_token:
            return None
        issued = self.state.signer.issued_ms("graph", EXCHANGED_TOKEN_PREFIX, token)
        if issued is None:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190, trace)
        expires = issued / 1000 + self.state.credentials.facebook_exchanged_token_seconds
        if self.state.now >= expires:
            return self._expired_error(expires, trace)
        return None

    def _check_proof(self, request: Request, token: str, trace: str) -> Response | None:
        """``appsecret_proof``, when sent, must be the token's HMAC-SHA256 keyed with the app secret.

        Graph answers a wrong one with code 100 (GraphMethodException), and an app set to require
        it answers a call without it with "(#100) API calls from the server require an
        appsecret_proof argument" (https://developers.facebook.com/docs/graph-api/securing-requests/).
        """
        proof = request.query_params.get("appsecret_proof")
        secret = self.state.credentials.facebook_app_secret
        if proof is None:
            if self.state.credentials.facebook_require_appsecret_proof:
                return graph_error(
                    400,
                    "(#100) API calls from the server require an appsecret_proof argument",
                    100,
                    trace,
                    error_type="GraphMethodException",
                )
            return None
        # Computed here, not with the platform's helper, so a wrong formula there cannot agree with itself.
        expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(proof, expected):
            return graph_error(
                400,
                "Invalid appsecret_proof provided in the API argument",
                100,
                trace,
                error_type="GraphMethodException",
            )
        return None

    def _expired_error(self, expires: float, trace: str) -> Response:
        moment = datetime.datetime.fromtimestamp(expires, tz=UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
        now = datetime.datetime.fromtimestamp(self.state.now, tz=UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
        return graph_error(
            400,
            f"Error validating access token: Session has expired on {moment}. The current time is {now}.",
            190,
            trace,
            subcode=463,
        )

    async def exchange_token(self, request: Request) -> Response:
        params = request.query_params
        creds = self.state.credentials
        trace = _trace(request, None, "exchange")
        if params.get("grant_type") != "fb_exchange_token":
            return graph_error(400, "(#100) Invalid grant_type", 100, trace)
        if params.get("client_id") != creds.facebook_app_id:
            return graph_error(400, "Error validating application. Invalid application ID.", 101, trace)
        if params.get("client_secret") != creds.facebook_app_secret:
            return graph_error(400, "Error validating client secret.", 1, trace)
        token = params.get("fb_exchange_token", "")
        known = token == creds.facebook_access_token or (
            self.state.signer.issued_ms("graph", EXCHANGED_TOKEN_PREFIX, token) is not None
        )
        if not known:
            return graph_error(400, "Invalid OAuth access token - Cannot parse access token", 190, trace)
        issued = int(self.state.now * 1000)
        return json_response(
            {
                "access_token": self.state.signer.issue("graph", EXCHANGED_TOKEN_PREFIX, issued),
                "token_type": "bearer",
                "expires_in": int(creds.facebook_exchanged_token_seconds),
            }
        )

    # ---- usage ---------------------------------------------------------------------------------

    def _usage(
        self, edge: Edge, plan: FaultPlan | None, request: Request
    ) -> tuple[dict[str, str], Response | None]:
        settings = self.state.limiter.settings
        limiter = self.state.limiter
        app = limiter.acquire(
            "graph/app", "app", limit=settings.facebook_app_calls_per_hour, nominal_seconds=3600, rolling=True
        )
        owner = limiter.acquire(
            f"graph/{edge.owner_type}",
            edge.owner,
            limit=settings.facebook_object_calls_per_hour,
            nominal_seconds=3600,
            rolling=True,
            cost=1 if app.allowed else 0,
        )
        now = self.state.now
        regain = (
            0
            if owner.allowed and app.allowed
            else math.ceil(max(app.retry_after(now), owner.retry_after(now)) / 60)
        )
        owner_pct = 100 if not owner.allowed else owner.percent
        app_pct = 100 if not app.allowed else app.percent
        headers = {
            "X-App-Usage": dumps(
                {"call_count": app_pct, "total_cputime": app_pct // 3, "total_time": app_pct // 2}
            ).decode(),
            "X-Business-Use-Case-Usage": dumps(
                {
                    edge.owner: [
                        {
                            "type": edge.owner_type,
                            "call_count": owner_pct,
                            "total_cputime": owner_pct // 3,
                            "total_time": owner_pct // 2,
                            "estimated_time_to_regain_access": regain,
                        }
                    ]
                }
            ).decode(),
        }
        if not app.allowed:
            self.state.stats.add("throttled", "graph", "code_4")
            return headers, throttle_error(4, _trace(request, plan, "throttle"), headers)
        if not owner.allowed:
            code = 32 if edge.owner_type == "pages" else 80002
            self.state.stats.add("throttled", "graph", f"code_{code}")
            return headers, throttle_error(code, _trace(request, plan, "throttle"), headers)
        return headers, None

    # ---- edges ---------------------------------------------------------------------------------

    def _leads(self) -> Edge:
        return Edge(
            "facebook/leads",
            "Lead",
            ("id", "created_time", "ad_id", "form_id", "field_data"),
            ("created_time", "id", "field_data"),
            "created_time",
            True,
            self.page_id,
            "pages",
        )

    def _lead_number(self, node: str) -> int | None:
        """The record number of a lead id the sandbox issued, else None."""
        if not node.isdigit():
            return None
        stream = self.state.data.streams["facebook/leads"]
        number = int(node) - _FB_LEAD_BASE
        return number if 0 <= number < stream.size() and stream.record_id(number) == node else None

    def _resolve(self, node: str, edge_name: str) -> Edge | None:
        if node == self.page_id and edge_name in {"posts", "feed", "published_posts"}:
            return Edge(
                "facebook/page_posts",
                "Post",
                # updated_time and the comments summary: see post_activity.
                ("id", "message", "created_time", "updated_time", "comments"),
                ("created_time", "message", "id"),
                "created_time",
                True,
                self.page_id,
                "pages",
            )
        if node in self.form_ids and edge_name == "leads":
            return self._leads()
        if node == self.ig_user_id and edge_name == "media":
            return Edge(
                "instagram/media",
                "IGMedia",
                ("id", "caption", "media_type", "permalink", "timestamp", "like_count", "comments_count"),
                ("id",),
                "timestamp",
                True,
                self.ig_user_id,
                "instagram",
            )
        if edge_name == "comments" and node.startswith(f"{self.page_id}_"):
            return Edge(
                "facebook/post_comments",
                "Comment",
                ("id", "message", "created_time", "from", "parent"),
                ("created_time", "from", "message", "id"),
                "created_time",
                False,
                self.page_id,
                "pages",
                parent=node,
            )
        if (
            edge_name == "comments"
            and node.isdigit()
            and node not in {self.page_id, self.ig_user_id, *self.form_ids}
        ):
            return Edge(
                "instagram/media_comments",
                "IGComment",
                ("id", "text", "timestamp", "username", "like_count"),
                ("timestamp", "text", "id"),
                "timestamp",
                False,
                self.ig_user_id,
                "instagram",
                parent=node,
            )
        return None

    def _window(self, edge: Edge, start: datetime.datetime, end: datetime.datetime) -> Sequence[int]:
        data = self.state.data
        if edge.parent is not None:
            children = data.children(edge.stream, edge.parent)
            times = _LazyTimes(data, edge.stream, children)
            lo = bisect_left(times, start) if start > FAR_PAST else 0
            hi = bisect_left(times, end) if end < FAR_FUTURE else len(children)
            return children[lo:hi]
        if start == FAR_PAST and end == FAR_FUTURE:
            return data.all_positions(edge.stream)
        return data.window(edge.stream, start, end) if start < end else ()

    def _bounds(self, request: Request) -> tuple[datetime.datetime, datetime.datetime]:
        """The [start, end) window from ``since``/``until`` and Lead Ads ``filtering`` on time_created."""
        params = request.query_params
        start, end = FAR_PAST, FAR_FUTURE
        if "since" in params:
            since = parse_unix_or_iso(params["since"])
            if since is None:
                raise ValueError("(#100) The parameter since must be a valid unix timestamp or date string")
            start = max(start, since)
        if "until" in params:
            until = parse_unix_or_iso(params["until"])
            if until is None:
                raise ValueError("(#100) The parameter until must be a valid unix timestamp or date string")
            end = min(end, until)
        if "filtering" in params:
            try:
                filters = json.loads(params["filtering"])
            except ValueError:
                raise ValueError("(#100) param filtering must be an array.") from None
            if not isinstance(filters, list):
                raise ValueError("(#100) param filtering must be an array.")
            for flt in filters:
                if not isinstance(flt, dict) or flt.get("field") not in {"time_created", "time_updated"}:
                    raise ValueError(
                        "(#100) Filtering field is not supported by the sandbox; use time_created"
                    )
                try:
                    moment = datetime.datetime.fromtimestamp(int(flt.get("value")), tz=UTC)
                except (TypeError, ValueError, OverflowError):
                    raise ValueError("(#100) Filtering value must be a unix timestamp") from None
                operator = flt.get("operator")
                tick = datetime.timedelta(microseconds=1)
                if operator == "GREATER_THAN":
                    start = max(start, moment + tick)
                elif operator == "GREATER_THAN_OR_EQUAL":
                    start = max(start, moment)
                elif operator == "LESS_THAN":
                    end = min(end, moment)
                elif operator == "LESS_THAN_OR_EQUAL":
                    end = min(end, moment + tick)
                else:
                    raise ValueError(f"(#100) Filtering operator {operator} is not supported")
        return start, end

    async def edge(self, request: Request) -> Response:
        plan = plan_of(request)
        if (error := self._check_token(request, plan)) is not None:
            return error
        node, edge_name = request.path_params["node"], request.path_params["edge"]
        edge = self._resolve(node, edge_name)
        if edge is None:
            return graph_error(
                400,
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api",
                100,
                _trace(request, plan, "node"),
                error_type="GraphMethodException",
                subcode=33,
            )
        if (
            error := permission_error(
                edge, self.state.credentials.facebook_permissions, _trace(request, plan, "perm")
            )
        ) is not None:
            return error
        headers, error = self._usage(edge, plan, request)
        if error is not None:
            return error
        params = request.query_params
        trace = _trace(request, plan, "params")
        fields = _field_names(params["fields"]) if params.get("fields") else list(edge.default_fields)
        for name in fields:
            if name.split(".", 1)[0] == "comments" and ".limit(0)" not in name:
                # The summary is emulated; the comments themselves are read from the comments edge.
                return graph_error(
                    400,
                    "(#100) the sandbox serves the comments field with .limit(0) only",
                    100,
                    trace,
                    headers=headers,
                )
            if name.split(".", 1)[0] not in edge.fields:
                return graph_error(
                    400,
                    f"(#100) Tried accessing nonexisting field ({name}) on node type ({edge.node_type})",
                    100,
                    trace,
                    headers=headers,
                )
        try:
            start, end = self._bounds(request)
        except ValueError as exc:
            return graph_error(400, str(exc), 100, trace, headers=headers)
        limit_text = params.get("limit", str(DEFAULT_LIMIT))
        if not limit_text.isdigit():
            return graph_error(400, "(#100) param limit must be a number", 100, trace, headers=headers)
        limit = max(1, min(MAX_LIMIT, int(limit_text)))
        newest_first = edge.newest_first
        if params.get("order") in {"chronological", "reverse_chronological"}:
            newest_first = params["order"] == "reverse_chronological"
        query_hash = fingerprint(node, edge_name, start.isoformat(), end.isoformat(), newest_first)
        offset = 0
        if params.get("after"):
            decoded = decode_cursor(params["after"], query_hash)
            if decoded is None:
                return graph_error(
                    400, "(#100) The after cursor is invalid or expired", 100, trace, headers=headers
                )
            offset = decoded
        elif params.get("before"):
            decoded = decode_cursor(params["before"], query_hash)
            if decoded is None:
                return graph_error(
                    400, "(#100) The before cursor is invalid or expired", 100, trace, headers=headers
                )
            offset = max(0, decoded - limit)
        positions = self._window(edge, start, end)
        replies: dict[int, int] = {}
        if edge.stream == "facebook/post_comments" and edge.parent is not None:
            comment_filter = params.get("filter", "toplevel")
            if comment_filter not in {"toplevel", "stream"}:
                return graph_error(
                    400, "(#100) param filter must be one of {toplevel, stream}", 100, trace, headers=headers
                )
            replies = comment_replies(self.state.data, edge.stream, edge.parent)
            if comment_filter == "toplevel":
                positions = [p for p in positions if p not in replies]
        parent_fields = _subfields(params.get("fields", ""), "parent")
        page = make_page(len(positions), offset, limit, plan)

        seed = self.state.config.seed

        def record_at(i: int) -> dict:
            position = ordered_position(positions, i, newest_first)
            record = shown(seed, _project(self.state.data.record(edge.stream, position), fields))
            if edge.stream == "facebook/page_posts":
                full = self.state.data.record(edge.stream, position)
                record.update(post_activity(self.state.data, full["id"], full["created_time"], fields))
            if "parent" in fields and position in replies:
                parent = self.state.data.record(edge.stream, replies[position])
                record["parent"] = shown(seed, _project(parent, parent_fields or PARENT_DEFAULT_FIELDS))
            return record

        records = await self.state.build_page(
            lambda: apply_drift(
                apply_malformed(
                    [record_at(i) for i in page.indices()],
                    plan,
                    _corrupt,
                ),
                plan,
                _drift,
            )
        )
        payload: dict = {"data": records}
        if records:
            paging: dict = {
                "cursors": {
                    "before": encode_cursor(page.start, query_hash),
                    "after": encode_cursor(
                        page.next_start if page.next_start is not None else page.stop, query_hash
                    ),
                }
            }
            prefix = request.url.path[: request.url.path.index("/", 1)]
            base = f"{vendor_base(request, prefix)}{request.url.path[len(prefix) :]}"
            if page.start > 0:
                paging["previous"] = cursor_link(
                    base, params.multi_items(), "before", paging["cursors"]["before"]
                )
            if page.next_start is not None:
                next_url = cursor_link(base, params.multi_items(), "after", paging["cursors"]["after"])
                if plan is not None and plan.wants("self_link"):
                    next_url = str(request.url)
                    plan.applied.add("self_link")
                paging["next"] = next_url
            payload["paging"] = paging
        return json_response(payload, headers=headers, media_type="application/json; charset=UTF-8")

    # ---- a node by id -----------------------------------------------------------------------------

    async def node(self, request: Request) -> Response:
        """``GET /{version}/{id}?fields=...``: one object by its id. The sandbox serves leads (what
        the ``leadgen`` webhook tells of, read by id as Graph documents); any other id is answered
        as Graph answers an object that does not exist."""
        plan = plan_of(request)
        if (error := self._check_token(request, plan)) is not None:
            return error
        node = request.path_params["node"]
        number = self._lead_number(node)
        if number is None:
            return graph_error(
                400,
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api",
                100,
                _trace(request, plan, "node"),
                error_type="GraphMethodException",
                subcode=33,
            )
        edge = self._leads()
        trace = _trace(request, plan, "perm")
        if (error := permission_error(edge, self.state.credentials.facebook_permissions, trace)) is not None:
            return error
        headers, error = self._usage(edge, plan, request)
        if error is not None:
            return error
        fields = (
            _field_names(request.query_params["fields"])
            if request.query_params.get("fields")
            else list(edge.default_fields)
        )
        for name in fields:
            if name not in edge.fields:
                return graph_error(
                    400,
                    f"(#100) Tried accessing nonexisting field ({name}) on node type ({edge.node_type})",
                    100,
                    _trace(request, plan, "params"),
                    headers=headers,
                )
        stream = self.state.data.streams["facebook/leads"]
        record = _project(stream.record(number), fields)
        return json_response(record, headers=headers, media_type="application/json; charset=UTF-8")

    # ---- faults --------------------------------------------------------------------------------

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        code = (4, 17, 32, 613)[plan.pick("graph/throttle_code", 4)]
        return throttle_error(
            code, "A" + plan.token("throttle")[:26], {"Retry-After": "0"} if retry_after_zero else None
        )

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """Error 190 for an exchanged token (the client renews it with its app secret); the Page
        token a client was configured with is long-lived here and never answered as expired."""
        request = Request(scope)
        token = self._token_of(request)
        if token is None or self.state.signer.issued_ms("graph", EXCHANGED_TOKEN_PREFIX, token) is None:
            return None
        return self._expired_error(self.state.now, _trace(request, plan, "auth"))

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        return graph_error(
            500,
            "An unexpected error has occurred. Please retry your request later.",
            2,
            "A" + plan.token("server")[:26],
            transient=True,
        )


# ---- permission errors -----------------------------------------------------------------------
# What each stream needs, and what Graph answers a token without it. Code 100 with this message is
# recorded (pyfacebook testdata/base/error_data.json); codes 10 and 200 and their messages follow
# Meta's error reference ("Permission Denied" 10, "Permissions error" 200-299) (unverified wording).
PERMISSIONS: dict[str, tuple[str, int, str]] = {
    "facebook/leads": (
        "leads_retrieval",
        200,
        "(#200) Requires leads_retrieval permission to manage the object",
    ),
    "facebook/page_posts": (
        "pages_read_engagement",
        100,
        "(#100) Object does not exist, cannot be loaded due to missing permission or reviewable feature, or does not "
        "support this operation. This endpoint requires the 'pages_read_engagement' permission or the 'Page Public "
        "Content Access' feature or the 'Page Public Metadata Access' feature. Refer to "
        "https://developers.facebook.com/docs/apps/review/login-permissions#manage-pages, "
        "https://developers.facebook.com/docs/apps/review/feature#reference-PAGES_ACCESS and "
        "https://developers.facebook.com/docs/apps/review/feature#page-public-metadata-access for details.",
    ),
    "instagram/media": ("instagram_basic", 10, "(#10) Application does not have permission for this action"),
    "instagram/media_comments": (
        "instagram_manage_comments",
        10,
        "(#10) Application does not have permission for this action",
    ),
}
PERMISSIONS["facebook/post_comments"] = PERMISSIONS["facebook/page_posts"]


def permission_error(edge: Edge, granted: frozenset[str] | None, trace: str) -> Response | None:
    """Graph's answer to a token lacking the permission ``edge`` needs; None when it has it."""
    if granted is None or edge.stream not in PERMISSIONS:
        return None
    needed, code, message = PERMISSIONS[edge.stream]
    if needed in granted:
        return None
    return graph_error(403 if code != 100 else 400, message, code, trace)


def shown(seed: int, record: dict) -> dict:
    """A record as Graph shows it: a commenter's name (``from.name``) as the person typed it,
    decorated for some (``names``); the truth keeps the plain name."""
    author = record.get("from")
    if not isinstance(author, dict) or not isinstance(author.get("name"), str) or not author.get("id"):
        return record
    return {**record, "from": {**author, "name": decorated_name(seed, str(author["id"]), author["name"])}}


def cursor_link(base: str, params, name: str, cursor: str) -> str:
    """A ``paging.next`` (``after``) or ``paging.previous`` (``before``) link: the request's own
    parameters with the one cursor. Graph sends ``previous`` on every page but the first
    (pyfacebook's recorded pages, cdp_platform_tests/contracts/instagram/SOURCES.md)."""
    kept = [(k, v) for k, v in params if k not in {"after", "before"}]
    return with_query(base, [*kept, (name, cursor)])


# ---- a post's activity ----------------------------------------------------------------------------
# Graph's Post has ``updated_time``: "the time when the post was last updated, which occurs when the
# post was created, edited, or a user comments on a post"; and the comments edge asked as a field,
# ``comments.filter(stream).limit(0).summary(true)``, answers ``{data: [], summary: {order,
# total_count, can_comment}}`` where total_count counts replies too with filter(stream), top-level
# comments only otherwise (Graph API reference, "Page Post" and "Object Comments"). Sandbox posts are
# never edited, so updated_time is the post's last comment, or its creation.
_MODIFIER = re.compile(r"\.(\w+)\(([^)]*)\)")


def post_activity(data, post_id: str, created_time: str, fields: Sequence[str]) -> dict:
    """``updated_time`` and ``comments{summary}`` of one post, for the names among ``fields``
    (a ``comments`` field is emulated with ``.limit(0)`` only: checked in ``Graph.edge``)."""
    out: dict = {}
    comments = [name for name in fields if name.split(".", 1)[0] == "comments"]
    if "updated_time" not in fields and not comments:
        return out
    children = data.children("facebook/post_comments", post_id)
    if "updated_time" in fields:
        last = data.modified_at("facebook/post_comments", children[-1]) if children else None
        out["updated_time"] = last.strftime("%Y-%m-%dT%H:%M:%S+0000") if last is not None else created_time
    for name in comments:
        modifiers = dict(_MODIFIER.findall(name))
        total = len(children)
        if modifiers.get("filter", "toplevel") != "stream":
            total -= len(comment_replies(data, "facebook/post_comments", post_id))
        value: dict = {"data": []}
        if modifiers.get("summary") == "true":
            value["summary"] = {"order": "chronological", "total_count": total, "can_comment": True}
        out["comments"] = value
    return out


# ---- comment replies -----------------------------------------------------------------------------
# Graph's comments edge answers top-level comments only (``filter=toplevel``, the default);
# ``filter=stream`` adds the replies, each with ``parent`` naming the comment it answers. Replies
# are one level deep: a reply to a reply is attached to the top-level comment. (Graph API reference,
# "Object Comments" and "Comment"; in pyfacebook's recorded comments page, 4 of 10 comments were
# replies: cdp_platform_tests/contracts/facebook/SOURCES.md, issue 17.) The share below is of that order.
REPLY_PERCENT = 30
PARENT_DEFAULT_FIELDS = ("created_time", "from", "message", "id")


def comment_replies(data, stream: str, parent_id: str) -> dict[int, int]:
    """Which comments of one post are replies, and to which earlier top-level comment (positions).

    Derived from the comment ids alone, so it is the same on every request and every page.
    """
    top_level: list[int] = []
    replies: dict[int, int] = {}
    for position in data.children(stream, parent_id):
        draw = int(fingerprint("reply", stream, data.record_id(stream, position)), 16)
        if top_level and draw % 100 < REPLY_PERCENT:
            replies[position] = top_level[(draw // 100) % len(top_level)]
        else:
            top_level.append(position)
    return replies


def _subfields(raw: str, name: str) -> list[str] | None:
    """The sub-selection of ``name`` in a Graph ``fields`` list (``parent{id}`` → ``["id"]``), if any."""
    match = re.search(rf"(?:^|,)\s*{re.escape(name)}\s*{{([^}}]*)}}", raw)
    return [f.strip() for f in match.group(1).split(",") if f.strip()] if match else None


class _LazyTimes(Sequence):
    """Created times of a parent's children, computed only where a binary search looks."""

    def __init__(self, data: object, stream: str, positions: Sequence[int]) -> None:
        self.data, self.stream, self.positions = data, stream, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index):  # type: ignore[override]
        return self.data.modified_at(self.stream, int(self.positions[index]))


def _project(record: dict, fields: Sequence[str]) -> dict:
    """The asked fields that have a value: Graph leaves out a field it has no value for rather than
    sending it empty (a caption asked for on a medium without one: pyfacebook's recorded media page,
    cdp_platform_tests/contracts/instagram/SOURCES.md)."""
    return {name: record[name] for name in fields if record.get(name) not in (None, "")}


def _corrupt(record: dict, variant: str) -> dict | None:
    if variant == "missing_id":
        return {k: v for k, v in record.items() if k != "id"} if "id" in record else None
    if variant == "bad_email":
        field_data = record.get("field_data")
        if not isinstance(field_data, list):
            return None
        changed = [
            {**item, "values": [v.replace("@", "") for v in item.get("values", [])]}
            if item.get("name") == "email"
            else item
            for item in field_data
        ]
        return {**record, "field_data": changed} if changed != field_data else None
    for key in ("created_time", "timestamp"):
        if isinstance(record.get(key), str):
            if variant == "other_date_format":
                return {**record, key: other_date_format(record[key])}
            parsed = parse_timestamp(record[key])
            return {**record, key: int(parsed.timestamp())} if parsed else None
    return None


def _drift(record: dict) -> dict | None:
    """Counts served as strings (``"like_count": "12"``), or, with no counts, the time as unix seconds."""
    for key in ("like_count", "comments_count"):
        if isinstance(record.get(key), int):
            return {**record, key: str(record[key])}
    for key in ("created_time", "timestamp"):
        if isinstance(record.get(key), str):
            parsed = parse_timestamp(record[key])
            return {**record, key: int(parsed.timestamp())} if parsed else None
    return None


# ---- webhooks: new leads (a Page's leadgen field) and new Instagram comments -------------------------


def _lead_event(data, stream: str, position: int, record_id: str, at_ms: int) -> tuple[str, dict]:
    record = data.record(stream, position)
    return record_id, {
        "field": "leadgen",
        "value": {
            "leadgen_id": record_id,
            "page_id": data.facebook_page_id,
            "form_id": record["form_id"],
            "ad_id": record["ad_id"],
            "created_time": at_ms // 1000,
        },
    }


def _comment_event(data, stream: str, position: int, record_id: str, at_ms: int) -> tuple[str, dict]:
    record = data.record(stream, position)
    return record_id, {
        "field": "comments",
        "value": {
            "id": record_id,
            "text": record["text"],
            "from": {"username": record["username"]},
            "media": {"id": record["media_id"]},
        },
    }


def _webhook_body(object_type: str):
    def body(changes, attempt: int) -> dict:
        return {
            "object": object_type,
            "entry": [
                {"id": "sandbox-page", "time": change.occurred_ms // 1000, "changes": [change.item]}
                for change in changes
            ],
        }

    return body


def _webhook_sign(secret_name: str):
    def sign(body: bytes, url: str, secrets: Mapping[str, str], now: float) -> dict[str, str]:
        """``X-Hub-Signature-256``: hex HMAC-SHA256 of the body with the app secret."""
        digest = hmac.new(secrets[secret_name].encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": "sha256=" + digest}

    return sign


# ---- its part of the truth: its records as identity candidates ---------------------------------------

def _identity_lead(_: Any, record: dict[str, Any]) -> dict[str, str | None]:
    fields = {field["name"]: (field.get("values") or [None])[0] for field in record.get("field_data", [])}
    return {
        "record_id": record["id"],
        "full_name": fields.get("full_name"),
        "email": fields.get("email"),
        "phone": fields.get("phone_number"),
        "city": fields.get("city"),
    }


def _identity_facebook_comment(_: Any, record: dict[str, Any]) -> dict[str, str | None] | None:
    author = record.get("from") or {}
    if not author.get("id"):
        return None
    return {"record_id": record["id"], "full_name": author.get("name"), "facebook_id": author["id"]}


def _identity_instagram_comment(_: Any, record: dict[str, Any]) -> dict[str, str | None] | None:
    if not record.get("username"):
        return None
    return {"record_id": record["id"], "instagram_username": record["username"]}


def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    """A lead per record; a commenter per Facebook user id or Instagram username."""
    return [
        record_keys(data, "facebook/leads"),
        profile_keys(data, "facebook/post_comments", "facebook:commenters:", lambda r: (r.get("from") or {}).get("id")),
        profile_keys(data, "instagram/media_comments", "instagram:commenters:", lambda r: r.get("username")),
    ]


# ---- the records it serves (built by cdp_platform.sandbox.records.SandboxData) ------------------------

# Social volumes per person of the population.
COMMENTS_PER_PERSON = {"facebook/post_comments": 0.12, "instagram/media_comments": 0.08}


def graph_timestamp(ms: int) -> str:
    """Facebook and Instagram Graph: ``2026-11-25T18:45:03+0000``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S+0000")


_FB_LEAD_BASE = 1_200_000_000_000_000


_FB_POST_BASE = 100_000_000_000_000


_FB_COMMENT_BASE = 500_000_000_000_000


_IG_MEDIA_BASE = 17_900_000_000_000_000


_IG_COMMENT_BASE = 17_800_000_000_000_000


class FacebookLeads(_PersonStream):
    name = "facebook/leads"
    share = 0.10

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        created = _floor(self.created_times(r), self.precision_ms)
        return created, created

    def record_id(self, r: int) -> str:
        return str(_FB_LEAD_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "facebook")
        rng = record_random(self.seed, self.name, r)
        fields = [
            {"name": "email", "values": [view.email]},
            {"name": "full_name", "values": [f"{view.first_name} {view.last_name}"]},
        ]
        if view.phone is not None:
            fields.append({"name": "phone_number", "values": [view.phone]})
        fields.append({"name": "city", "values": [person.city]})
        return {
            "id": self.record_id(r),
            "created_time": graph_timestamp(created),
            "ad_id": self.data.facebook_ad_ids[rng.randrange(len(self.data.facebook_ad_ids))],
            "form_id": self.data.facebook_lead_form_ids[rng.randrange(len(self.data.facebook_lead_form_ids))],
            "field_data": fields,
        }


class FacebookPagePosts(_BrandPosts):
    name = "facebook/page_posts"
    every_days = 2

    def record_id(self, r: int) -> str:
        return f"{self.data.facebook_page_id}_{_FB_POST_BASE + r}"

    def number_of(self, post_id: str) -> int | None:
        prefix = f"{self.data.facebook_page_id}_"
        if not post_id.startswith(prefix) or not post_id[len(prefix) :].isdigit():
            return None
        r = int(post_id[len(prefix) :]) - _FB_POST_BASE
        return r if 0 <= r < self.size() else None

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        return {"id": self.record_id(r), "message": self.text(r)[0], "created_time": graph_timestamp(created)}


class InstagramMedia(_BrandPosts):
    name = "instagram/media"
    every_days = 3

    def record_id(self, r: int) -> str:
        return str(_IG_MEDIA_BASE + r)

    def number_of(self, media_id: str) -> int | None:
        if not media_id.isdigit():
            return None
        r = int(media_id) - _IG_MEDIA_BASE
        return r if 0 <= r < self.size() else None

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        rng = record_random(self.seed, self.name, r)
        comments: _Comments = self.data.streams["instagram/media_comments"]  # type: ignore[assignment]
        shortcode = "".join(_BASE62[rng.randrange(62)] for _ in range(11))
        return {
            "id": self.record_id(r),
            "caption": self.text(r)[0],
            "media_type": ("IMAGE", "IMAGE", "VIDEO", "CAROUSEL_ALBUM")[rng.randrange(4)],
            "permalink": f"https://www.instagram.com/p/{shortcode}/",
            "timestamp": graph_timestamp(created),
            "like_count": rng.randrange(20, 2000),
            "comments_count": len(comments.children_of(r)),
        }


class FacebookPostComments(_Comments):
    name = "facebook/post_comments"
    per_person = COMMENTS_PER_PERSON["facebook/post_comments"]
    network = "facebook"

    def record_id(self, r: int) -> str:
        return f"{_FB_POST_BASE + int(self.parent[r])}_{_FB_COMMENT_BASE + r}"

    def id_rank(self, r: np.ndarray) -> np.ndarray | None:
        # Graph comment ids start with their post's id, so ids sort by post first.
        return self.parent[r].astype(np.int64) * max(1, self.size()) + r

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "facebook")
        return {
            "id": self.record_id(r),
            "message": self.text(r)[0],
            "created_time": graph_timestamp(created),
            "from": {"id": person.facebook_id, "name": f"{view.first_name} {person.last_name}"},
            "post_id": self.parents.record_id(int(self.parent[r])),
        }


class InstagramMediaComments(_Comments):
    name = "instagram/media_comments"
    per_person = COMMENTS_PER_PERSON["instagram/media_comments"]
    network = "instagram"

    def record_id(self, r: int) -> str:
        return str(_IG_COMMENT_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        rng = record_random(self.seed, self.name, r)
        return {
            "id": self.record_id(r),
            "text": self.text(r)[0],
            "timestamp": graph_timestamp(created),
            "username": person.instagram_username,
            "like_count": rng.randrange(0, 40),
            "media_id": self.parents.record_id(int(self.parent[r])),
        }


def _facts(data: Any) -> dict[str, Any]:
    """The Page, its lead form and ads, and the Instagram account: ids derived from the seed."""
    seed = data.config.seed
    return {
        "facebook_page_id": str(110_000_000_000_000 + key_of(seed, "page") % 10**12),
        # One lead form: the Graph emulation serves a form's leads from the whole stream.
        "facebook_lead_form_ids": (str(900_000_000_000_000 + key_of(seed, "form", 0) % 10**12),),
        "facebook_ad_ids": tuple(str(23_850_000_000_000_000 + key_of(seed, "ad", i) % 10**12) for i in range(3)),
        "instagram_user_id": str(17_841_400_000_000_000 + key_of(seed, "ig") % 10**12),
    }


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------



def _pacer_settings(scale: float) -> dict:
    """Graph's rolling hour, which the usage headers report only as a percentage."""
    return {"window_seconds": 3600.0 / scale}


VENDOR = EmulatedVendor(
    position=40,
    api=Graph,
    mounts=(
        Mount(
            "facebook",
            "facebook",
            credentials={
                "access_token": FACEBOOK_ACCESS_TOKEN,
                "app_id": FACEBOOK_APP_ID,
                "app_secret": FACEBOOK_APP_SECRET,
            },
            account_options=lambda data: {
                "page_id": str(data.facebook_page_id),
                "lead_form_ids": ",".join(data.facebook_lead_form_ids),
            },
            person_texts=("facebook/post_comments",),
        ),
        Mount(
            "instagram",
            "instagram",
            credentials={"access_token": FACEBOOK_ACCESS_TOKEN, "app_secret": FACEBOOK_APP_SECRET},
            account_options=lambda data: {"user_id": str(data.instagram_user_id)},
            person_texts=("instagram/media_comments",),
        ),
    ),
    accepts={
        "facebook_app_id": FACEBOOK_APP_ID,
        "facebook_app_secret": FACEBOOK_APP_SECRET,
        "facebook_access_token": FACEBOOK_ACCESS_TOKEN,
        # Long-lived tokens from fb_exchange_token last about 60 days (Graph reports expires_in 5183944).
        "facebook_exchanged_token_seconds": 5183944.0,
        # The app setting "Require App Secret": calls without appsecret_proof are refused (code 100).
        # Off by default so a token alone works, as on an app without the setting; a proof that is
        # sent is always checked.
        "facebook_require_appsecret_proof": False,
        # The permissions the Graph token was granted; None: every one the platform needs. A token
        # without one gets Graph's permission error for the edges that need it (codes 10, 100, 200).
        "facebook_permissions": None,
    },
    quotas={"facebook_app_calls_per_hour": 4800, "facebook_object_calls_per_hour": 4800},
    public={
        "FACEBOOK_APP_ID": FACEBOOK_APP_ID,
        "FACEBOOK_APP_SECRET": FACEBOOK_APP_SECRET,
        "FACEBOOK_ACCESS_TOKEN": FACEBOOK_ACCESS_TOKEN,
    },
    pacer_settings={"facebook": _pacer_settings, "instagram": _pacer_settings},
    webhooks=(
        WebhookSender(
            "facebook",
            secrets={
                "CDP_FACEBOOK_APP_SECRET": "sandbox-facebook-app-secret",
                "CDP_FACEBOOK_WEBHOOK_VERIFY_TOKEN": "sandbox-facebook-verify-token",
            },
            sign=_webhook_sign("CDP_FACEBOOK_APP_SECRET"),
            streams=("facebook/leads",),
            event=_lead_event,
            body=_webhook_body("page"),
        ),
        WebhookSender(
            "instagram",
            secrets={
                "CDP_INSTAGRAM_APP_SECRET": "sandbox-instagram-app-secret",
                "CDP_INSTAGRAM_WEBHOOK_VERIFY_TOKEN": "sandbox-instagram-verify-token",
            },
            sign=_webhook_sign("CDP_INSTAGRAM_APP_SECRET"),
            streams=("instagram/media_comments",),
            event=_comment_event,
            body=_webhook_body("instagram"),
        ),
    ),
    builders=(
        StreamBuilder("facebook/leads", lambda data, built: FacebookLeads(data)),
        StreamBuilder("facebook/page_posts", lambda data, built: FacebookPagePosts(data), texts=True),
        StreamBuilder(
            "facebook/post_comments",
            lambda data, built: FacebookPostComments(data, built["facebook/page_posts"]),
            texts=False,
        ),
        StreamBuilder("instagram/media", lambda data, built: InstagramMedia(data), texts=True),
        StreamBuilder(
            "instagram/media_comments",
            lambda data, built: InstagramMediaComments(data, built["instagram/media"]),
            texts=False,
        ),
    ),
    immutable_streams=frozenset(
        {"facebook/leads", "facebook/page_posts", "facebook/post_comments", "instagram/media", "instagram/media_comments"}
    ),
    identity_rows=(
        IdentityRows("facebook/leads", _identity_lead),
        IdentityRows("facebook/post_comments", _identity_facebook_comment),
        IdentityRows("instagram/media_comments", _identity_instagram_comment),
    ),
    identity_keys=_identity_keys,
    facts=_facts,
    # Lead forms and profiles typed by the persons themselves (no work address, rarely an address).
    noise_profiles={"facebook": SourceProfile(0.0, 0.2, 1.0, 1.0, 0.30, 0.05, 0.20, 0.08, 0.20, ("name",))},
)
