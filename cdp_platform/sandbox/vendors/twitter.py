"""Twitter / X API v2 mentions timeline and recent search, as the sandbox serves them.

Both list the brand account's mentions newest first. Each endpoint has its own fixed fifteen-minute
window reported in ``x-rate-limit-*`` headers on every response. A small, seed-chosen share of
authors is "suspended": expanding them yields HTTP 200 with both ``data`` and a partial ``errors``
entry, as the real API does for users it can no longer return.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import EmulatedVendor, IdentityRows, Mount, StreamBuilder, WebhookSender
from cdp_platform.sandbox.population import key_of, record_random, source_view, uniforms
from cdp_platform.sandbox.ratelimit import Usage
from cdp_platform.sandbox.records import SandboxData, _dt, _floor, _Stream
from cdp_platform.sandbox.texts import BRAND_HANDLE, social_text
from cdp_platform.sandbox.vendors.candidates import profile_keys
from cdp_platform.sandbox.vendors.common import (
    SandboxState,
    apply_drift,
    apply_malformed,
    decode_cursor,
    encode_cursor,
    fingerprint,
    json_response,
    make_page,
    ordered_position,
    other_date_format,
    parse_timestamp,
    plan_of,
)
from cdp_platform.sandbox.vendors.names import decorated_name

TWITTER_BEARER_TOKEN = "AAAAAAAAAAAAAAAAAAAAAsandboxTwitterBearerToken"  # noqa: S105 - public sandbox credential

STREAM = "twitter/mentions"
TWEET_FIELDS = frozenset(
    {
        "attachments",
        "author_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "public_metrics",
        "possibly_sensitive",
        "referenced_tweets",
        "reply_settings",
        "source",
        "text",
        "withheld",
    }
)
USER_FIELDS = frozenset(
    {
        "created_at",
        "description",
        "entities",
        "id",
        "location",
        "name",
        "pinned_tweet_id",
        "profile_image_url",
        "protected",
        "public_metrics",
        "url",
        "username",
        "verified",
        "withheld",
    }
)
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
SUSPENDED_SHARE = 0.03
RECENT_DAYS = 7
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"


def invalid_request(message: str, parameter: str, value: str, headers: dict[str, str]) -> Response:
    return json_response(
        {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        },
        400,
        headers,
    )


def problem(status: int, title: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(
        {"title": title, "type": "about:blank", "status": status, "detail": title}, status, headers
    )


def _iso(value: str) -> datetime.datetime | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})", value):
        return None
    return parse_timestamp(value)


class Twitter:
    """Routes and behaviour of the emulated X API v2 for one brand account."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.user_id = str(state.data.twitter_user_id)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/2/users/{user_id}/mentions", self.mentions, methods=["GET"]),
            Route("/2/tweets/search/recent", self.search_recent, methods=["GET"]),
        ]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith("/2/")

    def _headers(self, usage: Usage) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(usage.limit),
            "x-rate-limit-remaining": str(usage.remaining),
            "x-rate-limit-reset": str(math.ceil(usage.reset_at)),
        }

    def _gate(self, request: Request, endpoint: str, limit: int) -> tuple[dict[str, str], Response | None]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.state.credentials.twitter_bearer_token:
            return {}, problem(401, "Unauthorized")
        usage = self.state.limiter.acquire(
            f"twitter/{endpoint}", "app", limit=limit, nominal_seconds=900, rolling=False
        )
        headers = self._headers(usage)
        if not usage.allowed:
            self.state.stats.add("throttled", "twitter", endpoint)
            return headers, problem(429, "Too Many Requests", headers)
        return headers, None

    async def mentions(self, request: Request) -> Response:
        headers, error = self._gate(
            request, "mentions", self.state.limiter.settings.twitter_mentions_per_15_minutes
        )
        if error is not None:
            return error
        user_id = request.path_params["user_id"]
        if not user_id.isdigit():
            return invalid_request(
                f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$",
                "id",
                user_id,
                headers,
            )
        if user_id != self.user_id:
            return json_response(
                {
                    "errors": [
                        {
                            "value": user_id,
                            "detail": f"Could not find user with id: [{user_id}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "id",
                            "resource_id": user_id,
                            "type": NOT_FOUND_TYPE,
                        }
                    ]
                },
                headers=headers,
            )
        return await self.state.build_page(
            lambda: self._timeline(
                request,
                headers,
                min_results=5,
                default_results=10,
                token_params=("pagination_token",),
                recent_only=False,
            )
        )

    async def search_recent(self, request: Request) -> Response:
        headers, error = self._gate(
            request, "search_recent", self.state.limiter.settings.twitter_search_recent_per_15_minutes
        )
        if error is not None:
            return error
        if not request.query_params.get("query"):
            return invalid_request("The `query` query parameter can not be empty", "query", "", headers)
        return await self.state.build_page(
            lambda: self._timeline(
                request,
                headers,
                min_results=10,
                default_results=10,
                token_params=("next_token", "pagination_token"),
                recent_only=True,
            )
        )

    def _timeline(
        self,
        request: Request,
        headers: dict[str, str],
        *,
        min_results: int,
        default_results: int,
        token_params: Sequence[str],
        recent_only: bool,
    ) -> Response:
        params = request.query_params
        data = self.state.data
        now = self.state.data_now
        earliest = now - datetime.timedelta(days=RECENT_DAYS) if recent_only else None
        for unsupported in ("since_id", "until_id", "exclude"):
            if unsupported in params:
                return invalid_request(
                    f"The sandbox does not support `{unsupported}`; use start_time/end_time",
                    unsupported,
                    params[unsupported],
                    headers,
                )
        start = earliest
        end = now
        for name in ("start_time", "end_time"):
            if name in params:
                moment = _iso(params[name])
                if moment is None:
                    return invalid_request(
                        f"Invalid '{name}':'{params[name]}'. '{name}' must be a valid RFC 3339 "
                        "date-time (YYYY-MM-DDTHH:mm:ssZ)",
                        name,
                        params[name],
                        headers,
                    )
                if earliest is not None and moment < earliest:
                    return invalid_request(
                        f"Invalid '{name}':'{params[name]}'. '{name}' must be on or after "
                        f"{earliest.strftime('%Y-%m-%dT%H:%MZ')}",
                        name,
                        params[name],
                        headers,
                    )
                if name == "start_time":
                    start = moment
                else:
                    end = min(end, moment)
        text = params.get("max_results", str(default_results))
        if not text.isdigit() or not min_results <= int(text) <= 100:
            return invalid_request(
                f"The `max_results` query parameter value [{text}] is not between {min_results} and 100",
                "max_results",
                text,
                headers,
            )
        tweet_fields = [f for f in params.get("tweet.fields", "").split(",") if f]
        user_fields = [f for f in params.get("user.fields", "").split(",") if f]
        expansions = [e for e in params.get("expansions", "").split(",") if e]
        for name, values, allowed in (
            ("tweet.fields", tweet_fields, TWEET_FIELDS),
            ("user.fields", user_fields, USER_FIELDS),
            ("expansions", expansions, frozenset({"author_id"})),
        ):
            for value in values:
                if value not in allowed:
                    return invalid_request(
                        f"The `{name}` query parameter value [{value}] is not one of "
                        f"[{','.join(sorted(allowed))}]",
                        name,
                        value,
                        headers,
                    )
        query_hash = fingerprint(request.url.path, params.get("query", ""), start, end)
        offset = 0
        for name in token_params:
            if params.get(name):
                decoded = decode_cursor(params[name], query_hash)
                if decoded is None:
                    return invalid_request(
                        f"The `{name}` query parameter value [{params[name]}] is not valid",
                        name,
                        params[name],
                        headers,
                    )
                offset = decoded
        if start is None:
            positions = data.window(STREAM, datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC), end)
        else:
            positions = data.window(STREAM, start, end) if start < end else ()
        plan = plan_of(request)
        page = make_page(len(positions), offset, int(text), plan)
        wanted = set(DEFAULT_TWEET_FIELDS) | set(tweet_fields)
        full = [data.record(STREAM, ordered_position(positions, i, True)) for i in page.indices()]
        tweets = [{k: v for k, v in record.items() if k in wanted} for record in full]
        payload: dict = {}
        if tweets:
            payload["data"] = apply_drift(apply_malformed(tweets, plan, _corrupt), plan, _drift)
            if "author_id" in expansions:
                users, errors = self._authors(full, user_fields)
                if users:
                    payload["includes"] = {"users": users}
                if errors:
                    payload["errors"] = errors
        meta: dict = {}
        if tweets:
            meta["newest_id"], meta["oldest_id"] = tweets[0].get("id"), tweets[-1].get("id")
        meta["result_count"] = len(tweets)
        if page.next_start is not None:
            meta["next_token"] = encode_cursor(page.next_start, query_hash)
        payload["meta"] = meta
        return json_response(payload, headers=headers)

    def _suspended(self, author_id: str) -> bool:
        digest = hashlib.blake2b(
            f"{self.state.config.seed}|suspended|{author_id}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2**64 < SUSPENDED_SHARE

    def _authors(self, tweets: Sequence[dict], user_fields: Sequence[str]) -> tuple[list[dict], list[dict]]:
        users: list[dict] = []
        errors: list[dict] = []
        seen: set[str] = set()
        wanted = {"id", "name", "username", *user_fields}
        data = self.state.data
        for tweet in tweets:
            author = tweet.get("author_id")
            if author is None or author in seen:
                continue
            seen.add(author)
            user = None if self._suspended(str(author)) else data.twitter_user(str(author))
            if user is None:
                errors.append(
                    {
                        "value": author,
                        "detail": f"Could not find user with id: [{author}].",
                        "title": "Not Found Error",
                        "resource_type": "user",
                        "parameter": "author_id",
                        "resource_id": author,
                        "type": NOT_FOUND_TYPE,
                    }
                )
                continue
            shown = {**user, "name": decorated_name(self.state.config.seed, str(author), user["name"])}
            users.append({k: v for k, v in shown.items() if k in wanted})
        return users, errors

    # ---- faults --------------------------------------------------------------------------------

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        now = self.state.now
        reset = math.floor(now) - 1 if retry_after_zero else math.ceil(now) + 1
        settings = self.state.limiter.settings
        limit = (
            settings.twitter_search_recent_per_15_minutes
            if scope["path"].endswith("/search/recent")
            else settings.twitter_mentions_per_15_minutes
        )
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        }
        if retry_after_zero:
            headers["Retry-After"] = "0"
        if plan.pick("twitter/429_body", 2) == 0:
            return plain_rate_limit(headers)
        return problem(429, "Too Many Requests", headers)

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """Never: the sandbox's token here is static, with no renewal a client could answer it with."""
        return None

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        return problem(500, "Internal Server Error")


def plain_rate_limit(headers: dict[str, str]) -> Response:
    """The 429 of older API deployments: ``Rate limit exceeded`` as text/plain, not a problem JSON
    (still answered by some v2 endpoints; issue 17). The x-rate-limit-* headers are the same."""
    return Response("Rate limit exceeded\n", status_code=429, headers=headers, media_type="text/plain")


def _corrupt(tweet: dict, variant: str) -> dict | None:
    if variant == "missing_id":
        return {k: v for k, v in tweet.items() if k != "id"} if "id" in tweet else None
    if variant == "other_date_format" and isinstance(tweet.get("created_at"), str):
        return {**tweet, "created_at": other_date_format(tweet["created_at"])}
    if variant == "wrong_type" and isinstance(tweet.get("id"), str) and tweet["id"].isdigit():
        return {**tweet, "id": int(tweet["id"])}
    return None


def _drift(tweet: dict) -> dict | None:
    """Public metrics served as strings instead of integers."""
    metrics = tweet.get("public_metrics")
    if isinstance(metrics, dict) and metrics:
        return {**tweet, "public_metrics": {k: str(v) for k, v in metrics.items()}}
    return None


# ---- webhooks: new mentions, as the Account Activity API posts them ----------------------------------


def webhook_event(data, stream: str, position: int, record_id: str, at_ms: int) -> tuple[str, dict]:
    record = data.record(stream, position)
    return record_id, {
        "id_str": record_id,
        "text": record["text"],
        "timestamp_ms": str(at_ms),
        "created_at": record["created_at"],
        "user": {"id_str": record["author_id"]},
    }


def webhook_sign(body: bytes, url: str, secrets: Mapping[str, str], now: float) -> dict[str, str]:
    """``x-twitter-webhooks-signature``: base64 HMAC-SHA256 of the body with the consumer secret."""
    digest = hmac.new(secrets["CDP_TWITTER_CONSUMER_SECRET"].encode(), body, hashlib.sha256).digest()
    return {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode()}


def _pacer_settings(scale: float) -> dict:
    """The fifteen-minute windows (their lengths; limits and resets come in the headers)."""
    return {
        "limits": {key: (450, 900.0 / scale) for key in ("/2/users/:id/mentions", "/2/tweets/search/recent")},
        "default_limit": (180, 900.0 / scale),
        "reset_margin": 0.25 / scale,
    }


# ---- its part of the truth: its records as identity candidates ---------------------------------------

def _identity_mention(data: Any, record: dict[str, Any]) -> dict[str, str | None] | None:
    # The API sends the author's profile in includes.users (expansions=author_id).
    user = data.twitter_user(record["author_id"])
    if user is None:
        return None
    return {"record_id": record["id"], "full_name": user.get("name"), "twitter_handle": user.get("username")}


def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    """An author per user id, over all their mentions."""
    return [profile_keys(data, STREAM, "twitter:authors:", lambda record: record.get("author_id"))]


# ---- the records it serves (built by cdp_platform.sandbox.records.SandboxData) ------------------------

MENTIONS_PER_PERSON = 0.2


_TWITTER_EPOCH_MS = 1288834974657


def twitter_timestamp(ms: int) -> str:
    """Twitter v2: ``2026-11-25T18:40:40.000Z``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class TwitterMentions(_Stream):
    name = "twitter/mentions"

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.size, dtype=np.int64)
        authors = everyone[self.pop.has_social("twitter", everyone)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x7E7]))
        count = round(MENTIONS_PER_PERSON * self.pop.size) if authors.size else 0
        self.persons = rng.choice(authors, size=count).astype(np.int32) if count else np.zeros(0, np.int32)

    def size(self) -> int:
        return int(self.persons.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.int64)
        span = self.end_ms - 1 - self.start_ms
        at = _floor(self.start_ms + (uniforms(self.key("at"), r) * span).astype(np.int64), self.precision_ms)
        return at, at

    def record_id(self, r: int) -> str:
        return self.record_ids(np.array([r], dtype=np.int64))[0]

    def record_ids(self, r: np.ndarray) -> list[str]:
        # Snowflake layout: the time in the high bits makes ids grow with time, as since_id relies on.
        r = np.asarray(r, dtype=np.int64)
        created, _ = self.times(r)
        return [str(x) for x in (((created - _TWITTER_EPOCH_MS) << 22) | (r & 0x3FFFFF)).tolist()]

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        rid = self.record_id(r)
        rng = record_random(self.seed, self.name, r)
        return {
            "id": rid,
            "text": f"@{BRAND_HANDLE} {social_text(self.seed, self.name, r)[0]}",
            "edit_history_tweet_ids": [rid],
            "author_id": self.pop.twitter_user_id(int(self.persons[r])),
            "created_at": twitter_timestamp(created),
            "lang": "en",
            "public_metrics": {
                "retweet_count": rng.randrange(0, 5),
                "reply_count": rng.randrange(0, 3),
                "like_count": rng.randrange(0, 30),
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": rng.randrange(10, 2000),
            },
        }


def twitter_user(data: Any, author_id: str) -> dict[str, str] | None:
    """The ``includes.users`` entry of a tweet author, or None for an unknown id."""
    index = data.population.person_of_twitter_user(author_id)
    if index is None:
        return None
    person = data.population.person(index)
    view = source_view(data.config.seed, person, "facebook")
    return {
        "id": author_id,
        "name": f"{view.first_name} {person.last_name}",
        "username": person.twitter_handle or "",
    }


def _facts(data: Any) -> dict[str, Any]:
    """The brand's account, and ``data.twitter_user(author_id)``: an author's profile."""
    return {
        "twitter_user_id": str(1_500_000_000_000_000_000 + key_of(data.config.seed, "tw") % 10**12),
        "twitter_username": BRAND_HANDLE,
        "twitter_user": functools.partial(twitter_user, data),
    }


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------

VENDOR = EmulatedVendor(
    position=50,
    api=Twitter,
    mounts=(
        Mount(
            "twitter",
            "twitter",
            credentials={"bearer_token": TWITTER_BEARER_TOKEN},
            account_options=lambda data: {"user_id": str(data.twitter_user_id)},
            person_texts=(STREAM,),
        ),
    ),
    accepts={"twitter_bearer_token": TWITTER_BEARER_TOKEN},
    quotas={"twitter_mentions_per_15_minutes": 450, "twitter_search_recent_per_15_minutes": 450},
    public={"TWITTER_BEARER_TOKEN": TWITTER_BEARER_TOKEN},
    pacer_settings={"twitter": _pacer_settings},
    webhooks=(
        WebhookSender(
            "twitter",
            secrets={"CDP_TWITTER_CONSUMER_SECRET": "sandbox-twitter-consumer-secret"},
            sign=webhook_sign,
            streams=("twitter/mentions",),
            event=webhook_event,
            body=lambda changes, attempt: {
                "for_user_id": "sandbox-brand",
                "tweet_create_events": [change.item for change in changes],
            },
        ),
    ),
    builders=(StreamBuilder(STREAM, lambda data, built: TwitterMentions(data), texts=False),),
    immutable_streams=frozenset({STREAM}),
    identity_rows=(IdentityRows(STREAM, _identity_mention),),
    identity_keys=_identity_keys,
    facts=_facts,
)
