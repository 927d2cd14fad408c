"""Google Analytics 4 Data API ``runReport`` as the sandbox serves it.

The stored rows are one per visitor per day. A report asking for both ``date`` and
``customUser:ga_client_id`` is those rows one to one, paged by offset straight over the window; a
report asking for fewer dimensions is aggregated over the date range, as GA4 does. Quota is spent in
tokens per property per hour and per day, reported in ``propertyQuota`` when asked.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import EmulatedVendor, IdentityRows, Mount, StreamBuilder
from cdp_platform.sandbox.population import DAY_MS, key_of, record_random, uniforms
from cdp_platform.sandbox.ratelimit import Usage
from cdp_platform.sandbox.records import SandboxData, _dt, _Index, _PersonStream, _Stream
from cdp_platform.sandbox.vendors.common import (
    UTC,
    SandboxState,
    apply_drift,
    apply_malformed,
    json_response,
    ordered_position,
    plan_of,
)

GA4_ACCESS_TOKEN = "ya29.sandbox-ga4-access-token"  # noqa: S105 - public sandbox credential

PREFIX = "/ga4"
STREAM = "google_analytics/user_daily_activity"
DIMENSIONS = ("date", "customUser:crm_contact_id", "customUser:ga_client_id", "sessionSourceMedium")
ROW_KEY = frozenset({"date", "customUser:ga_client_id"})  # dimensions that make a stored row unique
METRIC_TYPES = {
    "sessions": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "screenPageViews": "TYPE_INTEGER",
    "conversions": "TYPE_INTEGER",
    "purchaseRevenue": "TYPE_CURRENCY",
}
MAX_LIMIT = 250_000
DEFAULT_LIMIT = 10_000
UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid "
    "authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def google_error(
    status: int, code_name: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(
        {"error": {"code": status, "message": message, "status": code_name}}, status, headers
    )


class ReportError(ValueError):
    """An INVALID_ARGUMENT the API would return for this request body."""


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


class GA4:
    """Routes and behaviour of the emulated GA4 property."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.property_id = str(state.data.ga4_property_id)

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1beta/properties/{property_id}:runReport", self.run_report, methods=["POST"])]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith("/v1beta/")

    def _date(self, text: object) -> datetime.date:
        """GA4's date forms, relative to the sandbox's ``today`` (not the wall clock)."""
        today = self.state.config.today
        invalid = ReportError(f"Invalid date: {text}. Use YYYY-MM-DD, NdaysAgo, yesterday or today.")
        if not isinstance(text, str):
            raise invalid
        if text == "today":
            return today
        if text == "yesterday":
            return today - datetime.timedelta(days=1)
        if match := re.fullmatch(r"(\d+)daysAgo", text):
            return today - datetime.timedelta(days=int(match.group(1)))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise invalid
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise invalid from None

    def _quota(self, cost: int) -> tuple[Usage, Usage]:
        settings = self.state.limiter.settings
        hour = self.state.limiter.acquire(
            "ga4/hour",
            self.property_id,
            limit=settings.ga4_tokens_per_hour,
            nominal_seconds=3600,
            rolling=False,
            cost=cost,
        )
        day = self.state.limiter.acquire(
            "ga4/day",
            self.property_id,
            limit=settings.ga4_tokens_per_day,
            nominal_seconds=86400,
            rolling=False,
            cost=cost if hour.allowed else 0,
        )
        return hour, day

    async def run_report(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.state.credentials.ga4_access_token:
            return google_error(
                401,
                "UNAUTHENTICATED",
                UNAUTHENTICATED,
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        if request.path_params["property_id"] != self.property_id:
            return google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property. To learn more about "
                "Property ID, see https://developers.google.com/analytics/devguides/reporting/data/"
                "v1/property-id.",
            )
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ReportError("Invalid JSON payload received. Expected an object.")
            report = self._parse(body)
        except json.JSONDecodeError as exc:
            return google_error(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc.msg}.")
        except ReportError as exc:
            return google_error(400, "INVALID_ARGUMENT", str(exc))
        dimensions, metrics, start, end, offset, limit = report
        cost = 10 + limit // 25_000
        hour, day = self._quota(cost)
        if not hour.allowed or not day.allowed:
            period = "hour" if not hour.allowed else "day"
            self.state.stats.add("throttled", "ga4", f"tokens_per_{period}")
            return google_error(
                429,
                "RESOURCE_EXHAUSTED",
                f"Exhausted property tokens per {period} for a project per property. These quota "
                f"tokens will return in under an {period}. To learn more, see "
                "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas",
            )
        rows, row_count = await self.state.build_page(
            lambda: self._rows(dimensions, metrics, start, end, offset, limit)
        )
        plan = plan_of(request)
        rows = apply_malformed(rows, plan, _corrupt)
        rows = apply_drift(rows, plan, _drift)
        payload: dict = {
            "dimensionHeaders": [{"name": name} for name in dimensions],
            "metricHeaders": [{"name": name, "type": METRIC_TYPES[name]} for name in metrics],
        }
        if rows:
            payload["rows"] = rows
        if row_count:
            payload["rowCount"] = row_count
        payload["metadata"] = {"currencyCode": "USD", "timeZone": "Etc/UTC"}
        if body.get("returnPropertyQuota"):
            payload["propertyQuota"] = {
                "tokensPerDay": {"consumed": cost, "remaining": day.remaining},
                "tokensPerHour": {"consumed": cost, "remaining": hour.remaining},
                "concurrentRequests": {"consumed": 0, "remaining": 10},
                "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
                "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
                "tokensPerProjectPerHour": {
                    "consumed": cost,
                    "remaining": max(0, hour.remaining * 35 // 100),
                },
            }
        payload["kind"] = "analyticsData#runReport"
        return json_response(payload)

    def _parse(self, body: dict) -> tuple[list[str], list[str], datetime.date, datetime.date, int, int]:
        for unsupported in ("dimensionFilter", "metricFilter", "orderBys", "cohortSpec", "comparisons"):
            if body.get(unsupported):
                raise ReportError(f"The sandbox does not support {unsupported}.")
        dimensions = [d.get("name") if isinstance(d, dict) else d for d in body.get("dimensions") or []]
        metrics = [m.get("name") if isinstance(m, dict) else m for m in body.get("metrics") or []]
        for name in dimensions:
            if name not in DIMENSIONS:
                raise ReportError(
                    f"Field {name} is not a valid dimension. For a list of valid dimensions and "
                    "metrics, see https://developers.google.com/analytics/devguides/reporting/data/"
                    "v1/api-schema "
                )
        for name in metrics:
            if name not in METRIC_TYPES:
                raise ReportError(
                    f"Field {name} is not a valid metric. For a list of valid dimensions and metrics, "
                    "see https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema "
                )
        if not metrics and not dimensions:
            raise ReportError("At least one dimension or metric is required.")
        if len(set(dimensions)) != len(dimensions) or len(set(metrics)) != len(metrics):
            raise ReportError("Duplicate dimension or metric names in the request.")
        ranges = body.get("dateRanges") or [{"startDate": "28daysAgo", "endDate": "yesterday"}]
        if len(ranges) != 1 or not isinstance(ranges[0], dict):
            raise ReportError("The sandbox supports exactly one dateRange.")
        start, end = self._date(ranges[0].get("startDate")), self._date(ranges[0].get("endDate"))
        if start > end:
            raise ReportError(f"Invalid date range: startDate {start} is after endDate {end}.")
        try:
            offset = int(body.get("offset", 0) or 0)
            limit = int(body.get("limit", DEFAULT_LIMIT) or DEFAULT_LIMIT)
        except (TypeError, ValueError):
            raise ReportError("offset and limit must be integers.") from None
        if offset < 0 or limit < 0:
            raise ReportError("offset and limit must not be negative.")
        if limit > MAX_LIMIT:
            raise ReportError(f"limit {limit} must be less than or equal to {MAX_LIMIT}.")
        return dimensions, metrics, start, end, offset, limit

    def _rows(
        self,
        dimensions: Sequence[str],
        metrics: Sequence[str],
        start: datetime.date,
        end: datetime.date,
        offset: int,
        limit: int,
    ) -> tuple[list[dict], int]:
        data = self.state.data
        positions = data.window(
            STREAM,
            datetime.datetime.combine(start, datetime.time(), tzinfo=UTC),
            datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), tzinfo=UTC),
        )
        if set(dimensions) >= ROW_KEY:
            rows = []
            for index in range(offset, min(len(positions), offset + limit)):
                stored = data.record(STREAM, ordered_position(positions, index, False))
                rows.append(_row(stored["dimensions"], stored["metrics"], dimensions, metrics))
            return rows, len(positions)
        groups: dict[tuple[str, ...], list[float]] = {}
        for index in range(len(positions)):
            stored = data.record(STREAM, ordered_position(positions, index, False))
            key = tuple(stored["dimensions"][name] for name in dimensions)
            sums = groups.setdefault(key, [0.0] * len(metrics))
            for i, name in enumerate(metrics):
                sums[i] += float(stored["metrics"][name])
        rows = [
            {
                "dimensionValues": [{"value": v} for v in key],
                "metricValues": [{"value": _format_number(total)} for total in sums],
            }
            for key, sums in list(groups.items())[offset : offset + limit]
        ]
        return rows, len(groups)

    # ---- faults --------------------------------------------------------------------------------

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        return google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Exhausted concurrent requests quota for a project per property. To learn more, see "
            "https://developers.google.com/analytics/devguides/reporting/data/v1/quotas",
            {"Retry-After": "0"} if retry_after_zero else None,
        )

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """Never: the sandbox's token here is static, with no renewal a client could answer it with."""
        return None

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        return google_error(500, "INTERNAL", "Internal error encountered.")


def _row(
    stored_dimensions: dict, stored_metrics: dict, dimensions: Sequence[str], metrics: Sequence[str]
) -> dict:
    return {
        "dimensionValues": [{"value": str(stored_dimensions[name])} for name in dimensions],
        "metricValues": [{"value": str(stored_metrics[name])} for name in metrics],
    }


def _corrupt(row: dict, variant: str) -> dict | None:
    values = row["dimensionValues"]
    if variant == "missing_id" and values:
        return {**row, "dimensionValues": [{"value": ""}, *values[1:]]}
    if variant == "other_date_format":
        for i, cell in enumerate(values):
            text = cell["value"]
            if isinstance(text, str) and len(text) == 8 and text.isdigit():
                changed = {"value": f"{text[:4]}-{text[4:6]}-{text[6:]}"}
                return {**row, "dimensionValues": [*values[:i], changed, *values[i + 1 :]]}
        return None
    if variant == "wrong_type" and row["metricValues"]:
        first, *rest = row["metricValues"]
        try:
            return {**row, "metricValues": [{"value": float(first["value"])}, *rest]}
        except ValueError:
            return None
    return None


def _drift(row: dict) -> dict | None:
    """Metric values served as JSON numbers instead of GA4's strings."""
    try:
        return {**row, "metricValues": [{"value": float(cell["value"])} for cell in row["metricValues"]]}
    except (TypeError, ValueError):
        return None


# ---- its part of the truth: its records as identity candidates ---------------------------------------

_GA_NOT_SET = "(not set)"


def _identity_row(data: Any, record: dict[str, Any]) -> dict[str, str | None] | None:
    dimensions = record["dimensions"]
    crm_id = dimensions.get("customUser:crm_contact_id")
    if not crm_id or crm_id == _GA_NOT_SET:
        return None
    client_id = dimensions["customUser:ga_client_id"]
    return {"record_id": f"{dimensions['date']}:{client_id}", "crm_id": crm_id, "ga_client_id": client_id}


def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    """One candidate per browser cookie: ``google_analytics:visitors:<client id>``."""
    positions = np.arange(data.count(STREAM))
    visitors = [record_id.split(":", 1)[1] for record_id in data.record_ids(STREAM, positions)]
    return [(["google_analytics:visitors:" + visitor for visitor in visitors], data.person_index(STREAM, positions).tolist())]


# ---- the records it serves (built by cdp_platform.sandbox.records.SandboxData) ------------------------

GA_LOGIN_SHARE = 0.55  # of a known visitor's days on which they were logged in


_SOURCE_MEDIUMS = (
    "google / organic",
    "(direct) / (none)",
    "newsletter / email",
    "facebook / social",
    "google / cpc",
)


class GoogleAnalyticsActivity(_Stream):
    """One row per visitor per active day; the row's time is the start of its day."""

    name = "google_analytics/user_daily_activity"
    precision_ms = DAY_MS

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.size, dtype=np.int64)
        visitors = everyone[uniforms(self.key("visitor"), everyone) < 0.45]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6A4]))
        visits = 1 + rng.poisson(2.0, visitors.size)
        person = np.repeat(visitors, visits)
        first_day = (self.pop.acquired_ms(person) - self.start_ms) // DAY_MS
        days_total = (self.end_ms - self.start_ms) // DAY_MS
        day = first_day + (rng.random(person.size) * (days_total - first_day)).astype(np.int64)
        # One row per (day, visitor), ordered by day then client id: the order windows return.
        # Client keys are a permutation of the visitors (unique, below 10**9), so they pack with the day.
        visitor_keys = self.pop.ga_client_sort_keys(visitors)
        by_key = np.argsort(visitor_keys)
        person_key = visitor_keys[np.searchsorted(visitors, person)]
        combined = np.unique(day * 10**9 + person_key)
        self.day = (combined // 10**9).astype(np.int32)
        found = np.searchsorted(visitor_keys[by_key], combined % 10**9)
        self.persons = visitors[by_key][found].astype(np.int32)

    def size(self) -> int:
        return int(self.day.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = self.start_ms + self.day[np.asarray(r)].astype(np.int64) * DAY_MS
        return at, at

    def build_index(self) -> _Index:
        # Rows are generated in (day, client id) order already, so the index is the identity.
        _, modified = self.times(np.arange(self.size()))
        return _Index(sorted_ms=modified, order=np.arange(self.size(), dtype=np.int32))

    def _date(self, r: int) -> str:
        return _dt(self.start_ms + int(self.day[r]) * DAY_MS).strftime("%Y%m%d")

    def record_id(self, r: int) -> str:
        return f"{self._date(r)}:{self.pop.ga_client_id(int(self.persons[r]))}"

    def record_ids(self, r: np.ndarray) -> list[str]:
        dates = (np.datetime64(_dt(self.start_ms).date(), "D") + self.day[r]).astype(str)
        clients = self.pop.ga_client_ids(self.persons[r].astype(np.int64))
        return [f"{date.replace('-', '')}:{client}" for date, client in zip(dates, clients, strict=True)]

    def record(self, r: int) -> dict[str, Any]:
        person_index = int(self.persons[r])
        day_ms = self.start_ms + int(self.day[r]) * DAY_MS
        rng = record_random(self.seed, self.name, r)
        contacts: _PersonStream = self.data.streams["hubspot/contacts"]  # type: ignore[assignment]
        crm_id = "(not set)"
        contact_r = contacts.main_record(person_index)
        if contact_r is not None and rng.random() < GA_LOGIN_SHARE:
            contact_created, _ = contacts.created_modified(contact_r)
            # Only a visitor who already has an account can log in, so the id appears from then on.
            if contact_created < day_ms + DAY_MS:
                crm_id = contacts.record_id(contact_r)
        sessions = 1 + int(rng.expovariate(0.8))
        engaged = rng.randint(0, sessions)
        views = sessions + rng.randint(0, 6 * sessions)
        bought = self.data.bought_on_day(person_index, day_ms)
        return {
            "dimensions": {
                "date": self._date(r),
                "customUser:crm_contact_id": crm_id,
                "customUser:ga_client_id": self.pop.ga_client_id(person_index),
                "sessionSourceMedium": _SOURCE_MEDIUMS[rng.randrange(len(_SOURCE_MEDIUMS))],
            },
            "metrics": {
                "sessions": str(sessions),
                "engagedSessions": str(engaged),
                "screenPageViews": str(views),
                "conversions": str(len(bought)),
                "purchaseRevenue": _revenue(bought),
            },
        }


def _revenue(amounts_cents: list[int]) -> str:
    total = sum(amounts_cents)
    return "0" if total == 0 else f"{total / 100:.2f}"


def _facts(data: Any) -> dict[str, Any]:
    return {"ga4_property_id": str(300_000_000 + key_of(data.config.seed, "ga4") % 10**8)}


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------

VENDOR = EmulatedVendor(
    position=30,
    api=GA4,
    mounts=(
        Mount(
            "ga4",
            "google_analytics",
            credentials={"access_token": GA4_ACCESS_TOKEN},
            account_options=lambda data: {"property_id": str(data.ga4_property_id)},
        ),
    ),
    accepts={"ga4_access_token": GA4_ACCESS_TOKEN},
    quotas={"ga4_tokens_per_hour": 40000, "ga4_tokens_per_day": 200000},
    public={"GA4_ACCESS_TOKEN": GA4_ACCESS_TOKEN},
    # The hour of tokens the responses report as counts but not as a window length.
    pacer_settings={"ga4": lambda scale: {"hour_seconds": 3600.0 / scale, "hour_margin": 5.0 / scale}},
    builders=(StreamBuilder(STREAM, lambda data, built: GoogleAnalyticsActivity(data)),),
    immutable_streams=frozenset({STREAM}),
    # A logged-in visitor's rows carry the CRM contact id: they link to the CRMs' records.
    identity_rows=(IdentityRows(STREAM, _identity_row, links=True),),
    identity_keys=_identity_keys,
    facts=_facts,
)
