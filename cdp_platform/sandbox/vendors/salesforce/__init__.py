"""Salesforce REST API v62.0 as the sandbox serves it: OAuth token, SOQL query with locators, Bulk 2.0.

Query locators and Bulk job ids carry their own query (compressed) and offset, so following
``nextRecordsUrl`` or polling a job needs no server-side state. Every API response carries
``Sforce-Limit-Info``; the daily request count is a fixed window on the (scaled) clock.
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from cdp_platform.sandbox.faults import FaultPlan
from cdp_platform.sandbox.plugins import EmulatedVendor, IdentityRows, Mount, PurchaseRecords, StreamBuilder
from cdp_platform.sandbox.population import (
    DAY_MS,
    SourceProfile,
    company_name,
    record_random,
    source_view,
    uniforms,
)
from cdp_platform.sandbox.purchases import SYSTEM_CRM
from cdp_platform.sandbox.records import (
    _BASE62,
    _TITLES,
    DUPLICATE_SHARE,
    _company,
    _DealStream,
    _dt,
    _floor,
    _PersonStream,
    _Stream,
)
from cdp_platform.sandbox.vendors.candidates import record_keys
from cdp_platform.sandbox.vendors.common import (
    UTC,
    SandboxState,
    apply_drift,
    apply_malformed,
    drift_first_number,
    json_response,
    make_page,
    ordered_position,
    other_date_format,
    plan_of,
    read_form,
    vendor_base,
)
from cdp_platform.sandbox.vendors.salesforce.soql import SoqlError, SoqlQuery, malformed, parse_soql

# The credentials the sandbox accepts by default (public: they unlock only synthetic data).
SALESFORCE_CLIENT_ID = "sandbox-salesforce-client-id"
SALESFORCE_CLIENT_SECRET = "sandbox-salesforce-client-secret"  # noqa: S105 - public sandbox credential
SALESFORCE_REFRESH_TOKEN = "sandbox-salesforce-refresh-token"  # noqa: S105
SALESFORCE_USERNAME = "integration@sandbox.cdp.example"
SALESFORCE_PASSWORD = "sandbox-salesforce-password"  # noqa: S105

PREFIX = "/salesforce"
ORG_ID = "00DSB0000000001AAA"
USER_ID = "005SB0000000001AAA"
TOKEN_PREFIX = "00DSB0000000001!AQ"  # noqa: S105 - a prefix, not a secret
OBJECT_STREAMS = {
    "account": ("Account", "salesforce/accounts"),
    "contact": ("Contact", "salesforce/contacts"),
    "lead": ("Lead", "salesforce/leads"),
    "opportunity": ("Opportunity", "salesforce/opportunities"),
}
TIME_FIELDS = frozenset({"systemmodstamp", "lastmodifieddate"})
DEFAULT_BATCH = 2000
BULK_DEFAULT_MAX_RECORDS = 50_000
BULK_NOMINAL_SECONDS = 2.0  # how long a query job stays InProgress (before time_scale)
FAR_PAST = datetime.datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime.datetime(9999, 1, 1, tzinfo=UTC)


def sf_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response([{"message": message, "errorCode": code}], status, headers)


def _pack(payload: dict) -> str:
    raw = zlib.compress(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(token: str) -> dict | None:
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        payload = json.loads(raw)
    except (ValueError, zlib.error, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class PlannedQuery:
    """A parsed SOQL query resolved against the sandbox: which positions, which fields, which order."""

    query: SoqlQuery
    sobject: str
    stream: str
    positions: Sequence[int]
    total: int
    descending: bool
    projection: tuple[tuple[str, tuple[str, ...] | None], ...]  # (field, sub-fields of a lookup)


class Salesforce:
    """Routes and behaviour of the emulated Salesforce org."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._catalog: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {}

    # ---- routing -------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/services/oauth2/token", self.token, methods=["POST"]),
            Route("/services/data/{version}/query", self.query, methods=["GET"]),
            Route("/services/data/{version}/query/{locator}", self.query_more, methods=["GET"]),
            Route("/services/data/{version}/jobs/query", self.create_job, methods=["POST"]),
            Route("/services/data/{version}/jobs/query/{job_id}", self.job_info, methods=["GET"]),
            Route("/services/data/{version}/jobs/query/{job_id}/results", self.job_results, methods=["GET"]),
        ]

    @staticmethod
    def is_data_path(path: str) -> bool:
        return path.startswith("/services/data/")

    # ---- quota and auth ------------------------------------------------------------------------

    def _usage_header(self, charge: bool) -> tuple[dict[str, str], bool]:
        usage = self.state.limiter.acquire(
            "salesforce/daily",
            "org",
            limit=self.state.limiter.settings.salesforce_requests_per_day,
            nominal_seconds=86400,
            rolling=False,
            cost=1 if charge else 0,
        )
        return {"Sforce-Limit-Info": f"api-usage={usage.used}/{usage.limit}"}, usage.allowed

    def _session_issued(self, request: Request) -> int | None:
        """When the session the request carries was issued (ms), or None if it carries none of ours."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in {"bearer", "oauth"}:
            return None
        return self.state.signer.issued_ms("salesforce", TOKEN_PREFIX, token.strip())

    def _authorize(self, request: Request) -> tuple[dict[str, str], Response | None]:
        """Check the session, then spend one daily API request; return headers and any error."""
        issued = self._session_issued(request)
        expired = issued is not None and (
            self.state.now * 1000 - issued > self.state.credentials.salesforce_session_seconds * 1000
        )
        if issued is None or expired:
            headers, _ = self._usage_header(charge=False)
            return headers, sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid", headers)
        headers, allowed = self._usage_header(charge=True)
        if not allowed:
            self.state.stats.add("throttled", "salesforce", "REQUEST_LIMIT_EXCEEDED")
            return headers, sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers)
        return headers, None

    async def token(self, request: Request) -> Response:
        form = await read_form(request)
        creds = self.state.credentials
        grant = form.get("grant_type", "")
        client_ok = form.get("client_id") == creds.salesforce_client_id
        secret_ok = form.get("client_secret") == creds.salesforce_client_secret
        if grant == "refresh_token":
            ok = (
                client_ok
                and form.get("refresh_token") == creds.salesforce_refresh_token
                and ("client_secret" not in form or secret_ok)
            )
            failure = "expired access/refresh token"
        elif grant == "client_credentials":
            ok, failure = client_ok and secret_ok, "invalid client credentials"
        elif grant == "password":
            ok = (
                client_ok
                and secret_ok
                and form.get("username") == creds.salesforce_username
                and (form.get("password") == creds.salesforce_password)
            )
            failure = "authentication failure"
        else:
            return json_response(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400
            )
        if not ok:
            return json_response({"error": "invalid_grant", "error_description": failure}, 400)
        issued_ms = int(self.state.now * 1000)
        base = vendor_base(request, PREFIX)
        identity = f"{base}/id/{ORG_ID}/{USER_ID}"
        payload = {
            "access_token": self.state.signer.issue("salesforce", TOKEN_PREFIX, issued_ms),
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": str(issued_ms),
            "signature": self.state.signer.signature(identity, str(issued_ms)),
        }
        if grant == "refresh_token":
            payload["scope"] = "api refresh_token"
        return json_response(payload)

    # ---- SOQL ----------------------------------------------------------------------------------

    def _fields_of(self, stream: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Field names of an object (lowercase → canonical) and of its lookups, from sample records."""
        if stream not in self._catalog:
            data = self.state.data
            positions = data.all_positions(stream)
            fields: dict[str, str] = {}
            lookups: dict[str, dict[str, str]] = {}
            for index in range(min(len(positions), 200)):
                record = data.record(stream, int(positions[index]))
                for key, value in record.items():
                    if key == "attributes":
                        continue
                    fields.setdefault(key.lower(), key)
                    if isinstance(value, dict):
                        sub = lookups.setdefault(key.lower(), {})
                        sub.update({k.lower(): k for k in value if k != "attributes"})
            self._catalog[stream] = (fields, lookups)
        return self._catalog[stream]

    def plan_query(self, query: SoqlQuery) -> PlannedQuery:
        resolved = OBJECT_STREAMS.get(query.sobject.lower())
        if resolved is None:
            raise malformed(
                query.text,
                query.sobject_column,
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please reference "
                "your WSDL or the describe call for the appropriate names.",
                "INVALID_TYPE",
            )
        sobject, stream = resolved
        fields, lookups = self._fields_of(stream)

        def unknown(name: str, column: int, entity: str) -> SoqlError:
            return malformed(
                query.text,
                column,
                f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
                "field, be sure to append the '__c' after the custom field name. Please reference your "
                "WSDL or the describe call for the appropriate names.",
                "INVALID_FIELD",
            )

        projection: list[tuple[str, tuple[str, ...] | None]] = []
        by_lookup: dict[str, list[str]] = {}
        for selected in query.fields:
            head, _, rest = selected.name.partition(".")
            if not rest:
                if head.lower() not in fields or head.lower() in lookups:
                    raise unknown(head, selected.column, sobject)
                projection.append((fields[head.lower()], None))
                continue
            sub = lookups.get(head.lower())
            if sub is None or "." in rest:
                raise malformed(
                    query.text,
                    selected.column,
                    f"Didn't understand relationship '{head}' in field path. If you are attempting to "
                    "use a custom relationship, be sure to append the '__r' after the custom "
                    "relationship name. Please reference your WSDL or the describe call for the "
                    "appropriate names.",
                    "INVALID_FIELD",
                )
            if rest.lower() not in sub:
                raise unknown(rest, selected.column, head)
            canonical = fields[head.lower()]
            if canonical not in by_lookup:
                by_lookup[canonical] = []
                projection.append((canonical, ()))
            by_lookup[canonical].append(sub[rest.lower()])
        projection = [
            (name, tuple(by_lookup[name]) if subs is not None else None) for name, subs in projection
        ]

        start, end = FAR_PAST, FAR_FUTURE
        for condition in query.conditions:
            name = condition.field.lower()
            if name == "isdeleted" and condition.op == "=" and condition.value is False:
                continue
            if name not in TIME_FIELDS:
                raise malformed(
                    query.text,
                    condition.column,
                    "the sandbox filters only on SystemModstamp or LastModifiedDate (and IsDeleted = false)",
                )
            value = condition.value
            if not isinstance(value, datetime.datetime):
                raise malformed(
                    query.text,
                    condition.column,
                    f"value of filter criterion for field '{condition.field}' must be of type dateTime "
                    "and should not be enclosed in quotes",
                    "INVALID_FIELD",
                )
            tick = datetime.timedelta(microseconds=1)
            if condition.op == ">=":
                start = max(start, value)
            elif condition.op == ">":
                start = max(start, value + tick)
            elif condition.op == "<":
                end = min(end, value)
            elif condition.op == "<=":
                end = min(end, value + tick)
            elif condition.op == "=":
                start, end = max(start, value), min(end, value + tick)
            else:
                raise malformed(
                    query.text, condition.column, "the sandbox supports =, <, <=, >, >= on datetimes"
                )

        descending = False
        if query.order_by:
            names = [name.lower() for name, _ in query.order_by]
            directions = {desc for _, desc in query.order_by}
            if names[0] not in TIME_FIELDS or len(directions) > 1 or any(n != "id" for n in names[1:]):
                raise malformed(
                    query.text,
                    query.sobject_column,
                    "the sandbox orders only by SystemModstamp or LastModifiedDate, optionally then Id, "
                    "in one direction",
                )
            descending = directions.pop()

        data = self.state.data
        if start == FAR_PAST and end == FAR_FUTURE:
            positions = data.all_positions(stream)
        elif start >= end:
            positions = ()
        else:
            positions = data.window(stream, start, end)
        total = len(positions) if query.limit is None else min(len(positions), query.limit)
        return PlannedQuery(query, sobject, stream, positions, total, descending, tuple(projection))

    @staticmethod
    def project(record: dict, projection: Sequence[tuple[str, tuple[str, ...] | None]]) -> dict:
        out = {"attributes": record["attributes"]}
        for name, subs in projection:
            value = record.get(name)
            if subs is None:
                out[name] = value
            elif value is None:
                out[name] = None
            else:
                out[name] = parent_lookup(value, subs)
        return out

    @staticmethod
    def batch_size(request: Request, default: int) -> int:
        options = request.headers.get("sforce-query-options", "")
        for part in options.split(","):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "batchsize" and value.strip().isdigit():
                return max(200, min(2000, int(value.strip())))
        return default

    def _query_page(
        self, request: Request, version: str, soql: str, batch: int, start: int, headers: dict[str, str]
    ) -> Response:
        try:
            planned = self.plan_query(parse_soql(soql))
        except SoqlError as error:
            return sf_error(400, error.error_code, error.message, headers)
        if planned.query.count:
            return json_response({"totalSize": planned.total, "done": True, "records": []}, headers=headers)
        plan = plan_of(request)
        # Salesforce has no cursor besides its next URL, so a self link is a locator for this same page.
        page = make_page(planned.total, start, batch, plan, repeat_kinds=("repeated_cursor", "self_link"))
        records = [
            self.project(
                self.state.data.record(
                    planned.stream, ordered_position(planned.positions, i, planned.descending)
                ),
                planned.projection,
            )
            for i in page.indices()
        ]
        records = apply_malformed(records, plan, _corrupt)
        records = apply_drift(records, plan, lambda r: drift_first_number(r, frozenset({"attributes"})))
        payload: dict = {"totalSize": planned.total, "done": page.next_start is None}
        if page.next_start is not None:
            locator = "01g" + _pack({"q": soql, "b": batch})
            payload["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{page.next_start}"
        payload["records"] = records
        return json_response(payload, headers=headers)

    async def query(self, request: Request) -> Response:
        headers, error = self._authorize(request)
        if error is not None:
            return error
        soql = request.query_params.get("q")
        if not soql:
            return sf_error(400, "MALFORMED_QUERY", "A query string has to be specified", headers)
        batch = self.batch_size(request, DEFAULT_BATCH)
        version = request.path_params["version"]
        return await self.state.build_page(
            lambda: self._query_page(request, version, soql, batch, 0, headers)
        )

    async def query_more(self, request: Request) -> Response:
        headers, error = self._authorize(request)
        if error is not None:
            return error
        locator = request.path_params["locator"]
        body, _, offset = locator.rpartition("-")
        payload = _unpack(body[3:]) if body.startswith("01g") and offset.isdigit() else None
        if payload is None or not isinstance(payload.get("q"), str):
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator", headers)
        batch = self.batch_size(request, int(payload.get("b", DEFAULT_BATCH)))
        version, soql, start = request.path_params["version"], payload["q"], int(offset)
        return await self.state.build_page(
            lambda: self._query_page(request, version, soql, batch, start, headers)
        )

    # ---- Bulk API 2.0 --------------------------------------------------------------------------

    def _job(self, job_id: str) -> dict | None:
        payload = _unpack(job_id[3:]) if job_id.startswith("750") else None
        if payload is None or not isinstance(payload.get("q"), str) or not isinstance(payload.get("t"), int):
            return None
        return payload

    def _job_info(self, job_id: str, job: dict, planned: PlannedQuery, polled: bool) -> dict:
        created = _sf_time(job["t"] / 1000)
        ready_at = job["t"] / 1000 + self.state.limiter.scaled(BULK_NOMINAL_SECONDS)
        complete = self.state.now >= ready_at
        info = {
            "id": job_id,
            "operation": job.get("op", "query"),
            "object": planned.sobject,
            "createdById": USER_ID,
            "createdDate": created,
            "systemModstamp": _sf_time(ready_at) if complete else created,
            "state": ("JobComplete" if complete else "InProgress") if polled else "UploadComplete",
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": 62.0,
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if polled:
            info.update(
                {
                    "jobType": "V2Query",
                    "numberRecordsProcessed": planned.total if complete else 0,
                    "retries": 0,
                    "totalProcessingTime": int(ready_at * 1000 - job["t"]) if complete else 0,
                }
            )
        return info

    async def create_job(self, request: Request) -> Response:
        headers, error = self._authorize(request)
        if error is not None:
            return error
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return sf_error(400, "JSON_PARSER_ERROR", "Unexpected character in request body", headers)
        operation = body.get("operation") if isinstance(body, dict) else None
        soql = body.get("query") if isinstance(body, dict) else None
        if operation not in {"query", "queryAll"} or not isinstance(soql, str):
            return sf_error(
                400,
                "INVALIDJOB",
                "InvalidJob : operation must be query or queryAll and query is required",
                headers,
            )
        try:
            planned = self.plan_query(parse_soql(soql))
        except SoqlError as error:
            return sf_error(400, error.error_code, error.message, headers)
        if planned.query.count:
            return sf_error(400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0", headers)
        job = {"q": soql, "t": int(self.state.now * 1000), "op": operation}
        job_id = "750" + _pack(job)
        return json_response(self._job_info(job_id, job, planned, polled=False), headers=headers)

    def _load_job(self, job_id: str, headers: dict[str, str]) -> tuple[dict, PlannedQuery] | Response:
        job = self._job(job_id)
        if job is None:
            return sf_error(404, "NOT_FOUND", "The requested resource does not exist", headers)
        return job, self.plan_query(parse_soql(job["q"]))

    async def job_info(self, request: Request) -> Response:
        headers, error = self._authorize(request)
        if error is not None:
            return error
        loaded = self._load_job(request.path_params["job_id"], headers)
        if isinstance(loaded, Response):
            return loaded
        job, planned = loaded
        return json_response(
            self._job_info(request.path_params["job_id"], job, planned, polled=True), headers=headers
        )

    async def job_results(self, request: Request) -> Response:
        headers, error = self._authorize(request)
        if error is not None:
            return error
        job_id = request.path_params["job_id"]
        loaded = self._load_job(job_id, headers)
        if isinstance(loaded, Response):
            return loaded
        job, planned = loaded
        if self._job_info(job_id, job, planned, polled=True)["state"] != "JobComplete":
            return sf_error(400, "INVALIDJOBSTATE", "Job is not in JobComplete state yet", headers)
        params = request.query_params
        max_text = params.get("maxRecords", str(BULK_DEFAULT_MAX_RECORDS))
        start = _decode_locator(params.get("locator"))
        if not max_text.isdigit() or int(max_text) < 1 or start is None:
            return sf_error(
                400,
                "INVALIDLOCATOR" if start is None else "INVALID_PARAM",
                "invalid locator" if start is None else "maxRecords must be a positive integer",
                headers,
            )
        page = make_page(planned.total, start, int(max_text), None)
        headers = {
            **headers,
            "Sforce-Locator": _encode_locator(page.next_start) if page.next_start is not None else "null",
            "Sforce-NumberOfRecords": str(page.stop - page.start),
        }
        return StreamingResponse(
            self._csv_rows(planned, page.indices()), headers=headers, media_type="text/csv; charset=UTF-8"
        )

    def _csv_rows(self, planned: PlannedQuery, indices: range) -> Iterator[bytes]:
        """CSV in chunks of a few hundred rows, so a 50,000-row page never sits in memory at once."""
        columns = [field.name for field in planned.query.fields]
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(columns)
        for count, index in enumerate(indices, start=1):
            record = self.state.data.record(
                planned.stream, ordered_position(planned.positions, index, planned.descending)
            )
            projected = self.project(record, planned.projection)
            writer.writerow([_csv_value(projected, column) for column in columns])
            if count % 500 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    # ---- faults --------------------------------------------------------------------------------

    def throttled(self, scope: Scope, plan: FaultPlan, retry_after_zero: bool) -> Response:
        """Salesforce answers per-request overload with 503 SERVER_UNAVAILABLE, never with 429.

        Its 403 REQUEST_LIMIT_EXCEEDED means the daily budget is spent (the real limiter above), so a
        transient burst must not borrow that code: a client rightly stops its run on it.
        """
        headers, _ = self._usage_header(charge=False)
        if retry_after_zero:
            headers["Retry-After"] = "0"
        return sf_error(
            503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please retry.", headers
        )

    def expired(self, scope: Scope, plan: FaultPlan) -> Response | None:
        """401 INVALID_SESSION_ID for a live session, as when an admin revokes it or it times out
        early; the client's refresh token gets it a new one."""
        if self._session_issued(Request(scope)) is None:
            return None
        headers, _ = self._usage_header(charge=False)
        return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid", headers)

    def server_error(self, scope: Scope, plan: FaultPlan) -> Response:
        headers, _ = self._usage_header(charge=False)
        return sf_error(
            500,
            "UNKNOWN_EXCEPTION",
            f"An unexpected error occurred. Please include this ErrorId if you contact support: "
            f"{plan.token('errorid')[:10]}-{plan.token('errorid2')[:5]} ({plan.attempt})",
            headers,
        )


def _sf_time(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str | None) -> int | None:
    if locator is None or locator == "":
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _csv_value(record: dict, column: str) -> str:
    value: object = record
    for part in column.split("."):
        if not isinstance(value, dict):
            value = None
            break
        lowered = {k.lower(): v for k, v in value.items()}
        value = lowered.get(part.lower())
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") and value[10] == "T":
        return value[:23] + "Z"
    return str(value)


def _corrupt(record: dict, variant: str) -> dict | None:
    if variant == "missing_id":
        return {k: v for k, v in record.items() if k != "Id"} if "Id" in record else None
    if variant == "bad_email":
        return (
            {**record, "Email": record["Email"].replace("@", " at ")}
            if isinstance(record.get("Email"), str)
            else None
        )
    for key in ("SystemModstamp", "LastModifiedDate", "CreatedDate"):
        if isinstance(record.get(key), str):
            if variant == "other_date_format":
                return {**record, key: other_date_format(record[key])}
            stamp = datetime.datetime.strptime(record[key][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            return {**record, key: int(stamp.timestamp() * 1000)}
    return None


def parent_lookup(value: dict, fields: Sequence[str]) -> dict:
    """A parent lookup as the query answer nests it: the selected fields, then ``attributes``
    (restforce's saved query answer, spec/fixtures/sobject/query_success_response.json, issue 17:
    Salesforce puts a nested parent's ``attributes`` after its fields, unlike a top-level record's)."""
    return {**{f: value.get(f) for f in fields}, "attributes": value.get("attributes")}


# ---- its part of the truth: its records as identity candidates ---------------------------------------

def _identity_contact(_: Any, record: dict[str, Any]) -> dict[str, str | None]:
    return {
        "record_id": record["Id"],
        "first_name": record.get("FirstName"),
        "last_name": record.get("LastName"),
        "full_name": record.get("Name"),
        "email": record.get("Email"),
        "phone": record.get("Phone"),
        "date_of_birth": record.get("Birthdate"),
        "street": record.get("MailingStreet"),
        "city": record.get("MailingCity"),
        "postcode": record.get("MailingPostalCode"),
        "country": record.get("MailingCountry"),
        "crm_id": record["Id"],
        "twitter_handle": record.get("Twitter_Handle__c"),
        "instagram_username": record.get("Instagram_Username__c"),
    }


def _identity_lead(_: Any, record: dict[str, Any]) -> dict[str, str | None]:
    return {
        "record_id": record["Id"],
        "first_name": record.get("FirstName"),
        "last_name": record.get("LastName"),
        "full_name": record.get("Name"),
        "email": record.get("Email"),
        "phone": record.get("Phone"),
        "street": record.get("Street"),
        "city": record.get("City"),
        "postcode": record.get("PostalCode"),
        "country": record.get("Country"),
        "crm_id": record["Id"],
        "twitter_handle": record.get("Twitter_Handle__c"),
    }


def _identity_keys(data: Any) -> list[tuple[list[str], Any]]:
    return [record_keys(data, "salesforce/contacts"), record_keys(data, "salesforce/leads")]


# ---- the records it serves (built by cdp_platform.sandbox.records.SandboxData) ------------------------

SF_API = "/services/data/v62.0/sobjects"


_SF_PREFIX = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006"}


_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Advertisement")


_OPEN_STAGES = (("Prospecting", 10), ("Qualification", 20), ("Negotiation/Review", 80))


_ORDER_KINDS = ("Online order", "Store order", "Catalog order")


def sf_timestamp(ms: int) -> str:
    """Salesforce: ``2026-11-25T13:07:00.000+0000``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def salesforce_id(object_type: str, number: int) -> str:
    """An 18-character Salesforce id with its real case-safety suffix, ordered like ``number``."""
    body = ""
    value = number
    for _ in range(7):
        value, digit = divmod(value, 62)
        body = _BASE62[digit] + body
    short = f"{_SF_PREFIX[object_type]}8d000{body}"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(short[chunk * 5 : chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += _SF_SUFFIX[bits]
    return short + suffix


def _sf_ref(object_type: str, record_id: str) -> dict[str, str]:
    return {"type": object_type, "url": f"{SF_API}/{object_type}/{record_id}"}


class SalesforceAccounts(_Stream):
    name = "salesforce/accounts"

    def size(self) -> int:
        return self.pop.companies

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Companies mostly predate their contacts: creation is weighted towards the start.
        span = self.end_ms - 1 - self.start_ms
        created = self.start_ms + (uniforms(self.key("created"), r) ** 2 * span).astype(np.int64)
        return self.mutable_times(r, created)

    def record_id(self, r: int) -> str:
        return salesforce_id("Account", r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        company = _company(self.seed, r)
        rid = self.record_id(r)
        updated = modified > created
        return {
            "attributes": _sf_ref("Account", rid),
            "Id": rid,
            "IsDeleted": False,
            "Name": company["name"],
            "Type": "Customer - Direct" if updated else "Prospect",
            "Industry": company["industry"][0],
            "BillingCity": company["city"],
            "BillingCountry": company["country"],
            "Phone": company["phone"],
            "Website": f"https://www.{company['domain']}",
            "NumberOfEmployees": company["employees"] + (7 if updated else 0),
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


class SalesforceContacts(_PersonStream):
    name = "salesforce/contacts"
    share = 0.45
    duplicate_share = DUPLICATE_SHARE

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.mutable_times(r, self.created_times(r))

    def record_id(self, r: int) -> str:
        return salesforce_id("Contact", r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "salesforce", self.copy_of(r))
        rid = self.record_id(r)
        account_id = salesforce_id("Account", person.company_index)
        rng = record_random(self.seed, self.name, r, int(modified > created))
        return {
            "attributes": _sf_ref("Contact", rid),
            "Id": rid,
            "IsDeleted": False,
            "AccountId": account_id,
            "Account": {
                "attributes": _sf_ref("Account", account_id),
                "Name": company_name(self.seed, person.company_index),
            },
            "FirstName": view.first_name,
            "LastName": view.last_name,
            "Name": f"{view.first_name} {view.last_name}",
            "Email": view.email,
            "Phone": view.phone,
            "Birthdate": view.birth_date.isoformat() if view.birth_date else None,
            "MailingStreet": view.street,
            "MailingCity": view.city,
            "MailingPostalCode": view.postcode,
            "MailingCountry": view.country,
            "Title": _TITLES[rng.randrange(len(_TITLES))],
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "HasOptedOutOfEmail": rng.random() < 0.1,
            "Twitter_Handle__c": view.twitter,
            "Instagram_Username__c": view.instagram,
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


class SalesforceLeads(_PersonStream):
    name = "salesforce/leads"
    share = 0.25

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A lead is captured around the time the person first shows up, sometimes a little before.
        persons = self.persons[r]
        acquired = self.pop.acquired_ms(persons)
        before = np.minimum(20 * DAY_MS, acquired - self.start_ms)
        created = _floor(
            acquired - (uniforms(self.key("created"), r) * before).astype(np.int64), self.precision_ms
        )
        return created, created

    def record_id(self, r: int) -> str:
        return salesforce_id("Lead", r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "salesforce_lead")
        rng = record_random(self.seed, self.name, r)
        rid = self.record_id(r)
        return {
            "attributes": _sf_ref("Lead", rid),
            "Id": rid,
            "IsDeleted": False,
            "FirstName": view.first_name,
            "LastName": view.last_name,
            "Name": f"{view.first_name} {view.last_name}",
            "Company": company_name(self.seed, person.company_index)
            if rng.random() < 0.7
            else "[not provided]",
            "Title": _TITLES[rng.randrange(len(_TITLES))],
            "Email": view.email,
            "Phone": view.phone,
            "Street": view.street,
            "City": view.city,
            "PostalCode": view.postcode,
            "Country": view.country,
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "Status": "Open - Not Contacted",
            "IsConverted": False,
            # Its own draws (leads never change, so one answer per lead), leaving the other fields as they were.
            "HasOptedOutOfEmail": record_random(self.seed, self.name, "email_optout", r).random() < 0.1,
            "Twitter_Handle__c": view.twitter,
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(created),
            "SystemModstamp": sf_timestamp(created),
        }


class SalesforceOpportunities(_DealStream):
    name = "salesforce/opportunities"
    system = SYSTEM_CRM

    def record_id(self, r: int) -> str:
        return salesforce_id("Opportunity", r)

    def record(self, r: int) -> dict[str, Any]:
        person_index, created, modified, close, stage, amount, repeat = self.deal(r)
        person = self.pop.person(person_index)
        rid = self.record_id(r)
        account_id = salesforce_id("Account", person.company_index)
        contact_r = self.contacts.main_record(person_index)
        if stage == 0:
            stage_name, probability = "Closed Won", 100
        elif stage == 1:
            stage_name, probability = "Closed Lost", 0
        else:
            stage_name, probability = _OPEN_STAGES[stage - 2]
        rng = record_random(self.seed, self.name, r)
        return {
            "attributes": _sf_ref("Opportunity", rid),
            "Id": rid,
            "IsDeleted": False,
            "Name": f"{person.last_name} - {_ORDER_KINDS[rng.randrange(len(_ORDER_KINDS))]}",
            "AccountId": account_id,
            "Account": {
                "attributes": _sf_ref("Account", account_id),
                "Name": company_name(self.seed, person.company_index),
            },
            "ContactId": salesforce_id("Contact", contact_r) if contact_r is not None else None,
            "Amount": amount,
            "CloseDate": _dt(close).date().isoformat(),
            "StageName": stage_name,
            "Probability": probability,
            "IsClosed": stage in (0, 1),
            "IsWon": stage == 0,
            "Type": "Existing Customer - Upgrade" if repeat else "New Customer",
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


# ---- the sandbox plug-in (cdp_platform.sandbox.plugins) --------------------------------------------

VENDOR = EmulatedVendor(
    position=10,
    api=Salesforce,
    mounts=(
        Mount(
            "salesforce",
            "salesforce",
            credentials={
                "client_id": SALESFORCE_CLIENT_ID,
                "client_secret": SALESFORCE_CLIENT_SECRET,
                "refresh_token": SALESFORCE_REFRESH_TOKEN,
            },
            # The emulated org's custom fields: both handles on Contact, the Twitter one on Lead.
            handle_fields={
                "contacts": "twitter_handle=Twitter_Handle__c,instagram_username=Instagram_Username__c",
                "leads": "twitter_handle=Twitter_Handle__c",
            },
        ),
    ),
    accepts={
        "salesforce_client_id": SALESFORCE_CLIENT_ID,
        "salesforce_client_secret": SALESFORCE_CLIENT_SECRET,
        "salesforce_refresh_token": SALESFORCE_REFRESH_TOKEN,
        "salesforce_username": SALESFORCE_USERNAME,
        "salesforce_password": SALESFORCE_PASSWORD,
        # Salesforce's default session timeout is two hours; tests shorten it to watch a client refresh.
        "salesforce_session_seconds": 7200.0,
    },
    quotas={"salesforce_requests_per_day": 15000},
    public={
        "SALESFORCE_CLIENT_ID": SALESFORCE_CLIENT_ID,
        "SALESFORCE_CLIENT_SECRET": SALESFORCE_CLIENT_SECRET,
        "SALESFORCE_REFRESH_TOKEN": SALESFORCE_REFRESH_TOKEN,
        "SALESFORCE_USERNAME": SALESFORCE_USERNAME,
        "SALESFORCE_PASSWORD": SALESFORCE_PASSWORD,
    },
    builders=(
        StreamBuilder("salesforce/accounts", lambda data, built: SalesforceAccounts(data)),
        StreamBuilder(
            "salesforce/contacts", lambda data, built: SalesforceContacts(data), customers_of=SYSTEM_CRM
        ),
        StreamBuilder("salesforce/leads", lambda data, built: SalesforceLeads(data)),
        StreamBuilder(
            "salesforce/opportunities",
            lambda data, built: SalesforceOpportunities(data, built["salesforce/contacts"]),
        ),
    ),
    immutable_streams=frozenset({"salesforce/leads"}),
    purchases=(
        PurchaseRecords(
            SYSTEM_CRM,
            "salesforce/opportunities",
            lambda data, number: data.streams["salesforce/opportunities"].record_id(number),
        ),
    ),
    identity_rows=(
        IdentityRows("salesforce/contacts", _identity_contact),
        IdentityRows("salesforce/leads", _identity_lead),
    ),
    identity_keys=_identity_keys,
    # How its users type a person: contacts by sales reps (often the work address), leads by the
    # persons themselves on web forms.
    noise_profiles={
        "salesforce": SourceProfile(0.6, 0.15, 0.2, 0.5, 0.15, 0.03, 0.10, 0.03, 0.15, ("name", "code", "alias")),
        "salesforce_lead": SourceProfile(0.5, 0.3, 0.3, 1.0, 0.25, 0.05, 0.15, 0.05, 0.15, ("name", "code", "alias")),
    },
)
