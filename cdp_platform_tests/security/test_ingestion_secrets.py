"""A full raw ingestion, over verified TLS onto an S3 lake, leaves no secret and no unencrypted object.

One module-scoped run materializes all six sources for two daily partitions through Dagster, with
an instance whose event log also takes the library's and httpx's log records (DEBUG), against the
sandbox served over HTTPS (its CA configured through CDP_CA_BUNDLE) with faults on: throttles, 5xx
and cut connections (retries), malformed records (dead letters, a failed check), an expired
Salesforce session (401, then a token refresh) and an expired Facebook token (error 190, then an
exchange with the app secret). Every credential has a distinctive value. The lake is a versioned
bucket on moto's S3 server, so every object ever written is still there to inspect afterwards: the
partitions, the dead letters, and the checkpoints and page spools that a successful run deletes.

Then every event of the instance (messages, metadata, check results, errors) and its run records,
every file of the instance folder, every Python log record of the run (DEBUG and up, written to a
file), every version of every lake object (Parquet decoded to text as well as its raw bytes) and
the warehouse file if any are searched for every secret, in the forms it can take on the wire and
in files (as is, URL-encoded, JSON-escaped, base64, Basic auth), and for the tokens the vendors
issued during the run. A canary planted in each channel proves the search finds what is there.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import re
import secrets as pysecrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from cdp_platform.io.checkpoints import LakeCheckpointStore
from cdp_platform.io.dead_letters import write_dead_letters
from cdp_platform.io.lake import S3Lake
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.io.resources import io_resources
from cdp_platform.sandbox.app import create_app
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import SandboxCredentials, TokenSigner
from cdp_platform.sandbox.faults import TRANSPORT_KINDS, FaultProfile
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.graph import EXCHANGED_TOKEN_PREFIX
from cdp_platform.sandbox.vendors.salesforce import TOKEN_PREFIX as SALESFORCE_TOKEN_PREFIX
from cdp_platform.settings import load_settings
from cdp_platform.sources import raw_definitions
from cdp_platform.sources.registry import source_names
from cdp_platform_tests.security.support import (
    Needles,
    SalesforceSessionExpiry,
    SearchReport,
    TlsFiles,
    basic_auth_forms,
    process_state_reset,
    sandbox_environ,
    sandbox_stats,
    secret_forms,
    serve_https,
)

pytestmark = pytest.mark.slow

PERSONS = 600
SEED = 7
TODAY = datetime.date(2026, 11, 26)
# A week of history and short pages (two records on Graph, whose windows are split per parent post
# or form and hold few records each; five elsewhere): every vendor's window runs to several pages, so
# next links and cursors are checkpointed (and searched) for Graph, HubSpot and Salesforce.
SPAN_DAYS = 7
PAGE_MAX = 5
GRAPH_PAGE_MAX = 2
PARTITIONS = ["2026-11-20", "2026-11-21"]
SESSION_SECONDS = 600.0
GRAPH_TOKEN_SECONDS = 86400.0
LAKE_PREFIX = "cdp"

TRANSPORT = {
    "rate_limited": 0.08,
    "retry_after_zero": 0.04,
    "http_500": 0.03,
    "http_503": 0.03,
    "cut_connection": 0.03,
}
DATA = {
    "duplicate_record": 0.05,
    "repeated_cursor": 0.03,
    "self_link": 0.03,
    "schema_drift": 0.05,
    "empty_last_page": 0.05,
}


def _profile(
    name: str, transport: dict[str, float], malformed: float, page_max: int = PAGE_MAX
) -> FaultProfile:
    """At most two faulted answers in a row per request, so retries stay short."""
    rates = {**transport, **DATA, "malformed_record": malformed}
    return FaultProfile(name, rates, burst_max=2, max_consecutive_faults=2, page_max=page_max)


# Throttles, 5xx and cut connections everywhere but Salesforce, whose session expiry is then the
# only failure its requests see (so no wait can outlast a refreshed session). A damaged record on
# every page (a quarter of them lose their id and become dead letters), fewer on Graph pages, whose
# parents are asked again when damaged.
FAULTS = {
    "salesforce": _profile("data_only", {}, 1.0),
    "hubspot": _profile("storm", TRANSPORT, 1.0),
    "ga4": _profile("storm", TRANSPORT, 1.0),
    "facebook": _profile("storm", TRANSPORT, 0.3, GRAPH_PAGE_MAX),
    "instagram": _profile("storm", TRANSPORT, 0.3, GRAPH_PAGE_MAX),
    "twitter": _profile("storm", TRANSPORT, 1.0),
}


@dataclass
class KnownSecrets:
    """Distinctive credential values, with the characters that change under URL and JSON encoding."""

    tag: str = field(default_factory=lambda: pysecrets.token_hex(5))

    def __post_init__(self) -> None:
        t = self.tag
        self.salesforce_client_id = f"sf-client-id-{t}"  # an identifier, not a secret
        self.salesforce_client_secret = f"SfClientSecret+{t}/Zz=="
        self.salesforce_refresh_token = f"5Aep861{t}.Refresh!Token~{t}"
        self.hubspot_token = f"pat-na1-{t}-4e1b-hubspot-secret"
        self.ga4_token = f"ya29.a0Secret_{t}-ga4+token"
        self.facebook_app_id = "100000000000042"  # an identifier, not a secret
        self.facebook_app_secret = f"fbAppSecret{t}9c1e"
        self.instagram_token = f"EAAInstagramSecret{t}ZDZD"
        self.twitter_token = f"AAAAAAAAAAAAAAAAAAAAA{t}%2BTwitterSecret%3D{t}"
        self.stripe_key = f"sk_test_51Stripe{t}Secret0Key"
        self.aws_secret_key = f"aws/Secret+Key{t}EXAMPLE"
        self.sandbox = SandboxCredentials(
            salesforce_client_id=self.salesforce_client_id,
            salesforce_client_secret=self.salesforce_client_secret,
            salesforce_refresh_token=self.salesforce_refresh_token,
            salesforce_session_seconds=SESSION_SECONDS,
            hubspot_private_app_token=self.hubspot_token,
            ga4_access_token=self.ga4_token,
            facebook_app_id=self.facebook_app_id,
            facebook_app_secret=self.facebook_app_secret,
            facebook_access_token=self.instagram_token,
            facebook_exchanged_token_seconds=GRAPH_TOKEN_SECONDS,
            twitter_bearer_token=self.twitter_token,
            stripe_secret_key=self.stripe_key,
        )
        # A Page token the sandbox issued two days ago and that has expired since: Graph answers
        # error 190 and the client must exchange it with the app id and secret.
        issued_ms = int((time.time() - 2 * GRAPH_TOKEN_SECONDS) * 1000)
        self.facebook_expired_token = TokenSigner(SEED, self.sandbox).issue(
            "graph", EXCHANGED_TOKEN_PREFIX, issued_ms
        )

    def credentials(self) -> dict[str, dict[str, str]]:
        return {
            "salesforce": {
                "client_id": self.salesforce_client_id,
                "client_secret": self.salesforce_client_secret,
                "refresh_token": self.salesforce_refresh_token,
            },
            "hubspot": {"access_token": self.hubspot_token},
            "google_analytics": {"access_token": self.ga4_token},
            "facebook": {
                "access_token": self.facebook_expired_token,
                "app_id": self.facebook_app_id,
                "app_secret": self.facebook_app_secret,
            },
            "instagram": {"access_token": self.instagram_token},
            "twitter": {"bearer_token": self.twitter_token},
            "stripe": {"api_key": self.stripe_key},
        }

    def needles(self, canary: str) -> Needles:
        needles = Needles(canary=canary.encode())
        for name in (
            "salesforce_client_secret",
            "salesforce_refresh_token",
            "hubspot_token",
            "ga4_token",
            "facebook_app_secret",
            "facebook_expired_token",
            "instagram_token",
            "stripe_key",
            "twitter_token",
            "aws_secret_key",
        ):
            needles.add(name, secret_forms(getattr(self, name)))
        needles.add(
            "salesforce basic auth",
            basic_auth_forms(self.salesforce_client_id, self.salesforce_client_secret),
        )
        needles.add("facebook basic auth", basic_auth_forms(self.facebook_app_id, self.facebook_app_secret))
        # Tokens the vendors issued during the run (sessions, exchanged Page tokens), by their shape.
        needles.patterns["issued salesforce session"] = re.compile(
            re.escape(SALESFORCE_TOKEN_PREFIX.split("!")[1]).encode() + rb"\d{10,}\.[A-Za-z0-9_-]{8}"
        )
        needles.patterns["issued graph token"] = re.compile(
            re.escape(EXCHANGED_TOKEN_PREFIX).encode() + rb"\d{10,}"
        )
        return needles


@dataclass
class IngestionRun:
    secrets: KnownSecrets
    canary: str
    instance_dir: Path
    log_file: Path
    warehouse: Path
    results: list[dg.ExecuteInProcessResult]
    event_texts: list[tuple[str, bytes]]
    s3: object
    bucket: str
    sandbox_stats: dict
    salesforce_tokens: int


@pytest.fixture(scope="module")
def ingestion(tmp_path_factory, tls_files: TlsFiles, s3_endpoint: str):
    tmp = Path(tmp_path_factory.mktemp("secrets"))
    known = KnownSecrets()
    canary = f"cdp-canary-{uuid.uuid4().hex}"
    config = SandboxConfig(persons=PERSONS, seed=SEED, today=TODAY, span_days=SPAN_DAYS)
    data = SandboxData(config)
    expiry = SalesforceSessionExpiry(None, SESSION_SECONDS)
    app = create_app(
        config,
        faults=FAULTS,
        rate_limits=False,
        credentials=known.sandbox,
        data=data,
        clock=expiry.clock,
    )
    expiry.app = app
    bucket = f"secrets-{uuid.uuid4().hex[:12]}"
    log_file = tmp / "python.log"
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    # Everything at DEBUG, except the S3 client's and S3 server's own traces (every signing step
    # and hook of every request: nine tenths of the volume, and what made the run slow); they never
    # see a vendor credential, and their INFO and above is still captured.
    quiet = {
        name: logging.getLogger(name) for name in ("botocore", "boto3", "s3transfer", "urllib3", "werkzeug")
    }
    quiet_levels = {name: logger.level for name, logger in quiet.items()}

    with pytest.MonkeyPatch.context() as monkeypatch, serve_https(expiry, tls_files) as base:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECRETSTEST")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", known.aws_secret_key)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

        environ, secret_env = sandbox_environ(base, data, known.credentials())
        for name, value in secret_env.items():
            monkeypatch.setenv(name, value)
        warehouse = tmp / "warehouse.duckdb"
        settings = load_settings(
            {
                **environ,
                "CDP_LAKE_ROOT": f"s3://{bucket}/{LAKE_PREFIX}",
                "CDP_S3_ENDPOINT_URL": s3_endpoint,
                "CDP_WAREHOUSE_PATH": str(warehouse),
                "CDP_CA_BUNDLE": str(tls_files.ca_pem),
                "CDP_HTTP_TIMEOUT_SECONDS": "10",
            }
        )
        defs = dg.Definitions.merge(
            dg.Definitions(resources=io_resources(settings)), raw_definitions(settings)
        )
        raw_assets = list(defs.assets)

        @dg.asset(name="security_canary")
        def canary_asset(context) -> dg.MaterializeResult:
            context.log.info(f"planted {canary}")
            return dg.MaterializeResult(metadata={"planted": canary})

        instance_dir = tmp / "dagster_home"
        instance_dir.mkdir()
        # The library's and httpx's log records become Dagster events as well, as an operator would
        # set it up to see them in the UI. An in-memory instance: the SQLite one costs 30 to 70 ms
        # per event on this machine (half a minute for this run) and holds the same serialized
        # events that are searched below.
        python_logs = {"managed_python_loggers": ["cdp_platform", "httpx"], "python_log_level": "DEBUG"}
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        for logger in quiet.values():
            logger.setLevel(logging.INFO)
        try:
            instance = dg.DagsterInstance.ephemeral(
                tempdir=str(instance_dir), settings={"python_logs": python_logs}
            )
            with instance:
                results = [
                    dg.materialize(
                        raw_assets,
                        partition_key=partition,
                        resources=defs.resources,
                        instance=instance,
                        raise_on_error=False,
                    )
                    for partition in PARTITIONS
                ]
                results.append(dg.materialize([canary_asset], instance=instance))
                logging.getLogger("cdp_platform_tests.canary").info("planted %s", canary)
                event_texts = [
                    (f"{record.run_id}/{index}", serialize_value(record).encode())
                    for result in results
                    for index, record in enumerate(instance.all_logs(result.run_id))
                ]
                event_texts += [
                    (f"run {result.run_id}", serialize_value(instance.get_run_by_id(result.run_id)).encode())
                    for result in results
                ]
            # Canaries in the lake, written by the platform's own writers, one per kind of object.
            lake = S3Lake(bucket, LAKE_PREFIX, endpoint_url=s3_endpoint)
            write_frame(lake, "raw/canary/planted/2026-11-20.parquet", pl.DataFrame({"payload": [canary]}))
            LakeCheckpointStore(lake).save("_checkpoints/raw/canary/planted/2026-11-20/all", {"next": canary})
            write_dead_letters(lake, "canary", "planted", "2026-11-20", [{"error": canary}])
            stats = sandbox_stats(base, tls_files)
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)
            for name, logger in quiet.items():
                logger.setLevel(quiet_levels[name])
            handler.close()
            process_state_reset()

        yield IngestionRun(
            secrets=known,
            canary=canary,
            instance_dir=instance_dir,
            log_file=log_file,
            warehouse=warehouse,
            results=results,
            event_texts=event_texts,
            s3=s3,
            bucket=bucket,
            sandbox_stats=stats,
            salesforce_tokens=expiry.tokens,
        )


def _versions(run: IngestionRun) -> list[dict]:
    paginator = run.s3.get_paginator("list_object_versions")
    return [
        version
        for page in paginator.paginate(Bucket=run.bucket, Prefix=f"{LAKE_PREFIX}/")
        for version in page.get("Versions", [])
    ]


def _category(key: str) -> str:
    relative = key.removeprefix(f"{LAKE_PREFIX}/")
    if relative.startswith("_checkpoints/"):
        return "lake/checkpoints"
    if relative.startswith("dead_letter/"):
        return "lake/dead_letters"
    if relative.startswith("raw/"):
        return "lake/raw"
    if relative.startswith("_cache/"):
        return "lake/cache"
    return "lake/other"


def _next_links_checkpointed(run: IngestionRun) -> dict[str, int]:
    """Per source, how many checkpoint versions hold a next link or cursor (``next_url``, ``after``):
    a page that was not the last one, whose successor's address was written to the lake."""

    def has_next(state: object) -> bool:
        if isinstance(state, dict):
            return any(
                (key in ("next_url", "after") and value) or has_next(value) for key, value in state.items()
            )
        return isinstance(state, list) and any(has_next(item) for item in state)

    counts: dict[str, int] = {}
    for version in _versions(run):
        key = version["Key"]
        if _category(key) != "lake/checkpoints" or not key.endswith("/state.json"):
            continue
        body = run.s3.get_object(Bucket=run.bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        if has_next(json.loads(body)):
            source = key.removeprefix(f"{LAKE_PREFIX}/_checkpoints/raw/").split("/")[0]
            counts[source] = counts.get(source, 0) + 1
    return counts


def test_the_ingestion_went_through_retries_refreshes_and_dead_letters(ingestion):
    """The run is worth searching: it succeeded, and the failure paths it must keep secrets out of
    really happened."""
    raw_runs = ingestion.results[: len(PARTITIONS)]
    for result in raw_runs:
        failures = [e.event_specific_data.error.message for e in result.get_step_failure_events()]
        assert result.success, failures
    materialized = {
        event.asset_key.to_user_string()
        for result in raw_runs
        for event in result.get_asset_materialization_events()
    }
    assert {key.split("/")[1] for key in materialized} == set(source_names()), materialized
    faults = ingestion.sandbox_stats["faults"]
    transport = sum(n for kinds in faults.values() for kind, n in kinds.items() if kind in TRANSPORT_KINDS)
    assert transport > 5, faults
    assert sum(kinds.get("malformed_record", 0) for kinds in faults.values()) > 0, faults
    # One stale session and one refresh per run.
    assert ingestion.salesforce_tokens == 2 * len(PARTITIONS)
    checks = [evaluation for result in raw_runs for evaluation in result.get_asset_check_evaluations()]
    assert any(not check.passed for check in checks), (
        f"no dead letters, the failed-check path was not run: {faults}"
    )
    log = ingestion.log_file.read_text()
    assert "retrying in" in log
    assert "credential renewed" in log
    stats = ingestion.sandbox_stats["requests"]
    assert stats["facebook"]["total"] > 0 and stats["salesforce"]["total"] > 0


def test_every_object_written_to_the_s3_lake_is_encrypted_at_rest(ingestion):
    versions = _versions(ingestion)
    by_category: dict[str, int] = {}
    unencrypted = []
    for version in versions:
        head = ingestion.s3.head_object(
            Bucket=ingestion.bucket, Key=version["Key"], VersionId=version["VersionId"]
        )
        category = _category(version["Key"])
        by_category[category] = by_category.get(category, 0) + 1
        if head.get("ServerSideEncryption") != "AES256":
            unencrypted.append(version["Key"])
    assert unencrypted == []
    # Everything the platform writes was there to check: partitions, page spools and cursors
    # (deleted after success, kept as versions), dead letters, the comment streams' parent listings
    # cached for a later run of the day (ids and counts, no personal data; encrypted all the same).
    assert by_category.get("lake/raw", 0) >= 6 * len(PARTITIONS)
    assert by_category.get("lake/dead_letters", 0) > 1
    keys = [version["Key"] for version in versions]
    assert any(key.endswith("/state.json") for key in keys)
    assert any("/pages/" in key and key.endswith(".parquet") for key in keys)
    assert by_category.get("lake/cache", 0) > 0
    assert set(by_category) <= {"lake/raw", "lake/dead_letters", "lake/checkpoints", "lake/cache"}, by_category
    # The endpoint does tell an unencrypted object apart, so the check above could fail.
    ingestion.s3.put_object(Bucket=ingestion.bucket, Key="control/plain", Body=b"x")
    assert "ServerSideEncryption" not in ingestion.s3.head_object(
        Bucket=ingestion.bucket, Key="control/plain"
    )


def _parquet_text(data: bytes) -> bytes:
    frame = pl.read_parquet(io.BytesIO(data))
    return frame.write_ndjson().encode() if frame.height else b""


def test_no_secret_in_events_logs_lake_checkpoints_or_dead_letters(ingestion):
    # Next links were checkpointed for every vendor that pages by link or cursor (Graph echoes the
    # token in its next links): the search below covers the states a stripped link is stored in.
    # (Measured: facebook 3, instagram 2, hubspot 5, salesforce 13 on this population.)
    checkpointed = _next_links_checkpointed(ingestion)
    assert all(
        checkpointed.get(source, 0) >= 1 for source in ("facebook", "instagram", "hubspot", "salesforce")
    ), checkpointed
    needles = ingestion.secrets.needles(ingestion.canary)
    report = SearchReport()
    for where, text in ingestion.event_texts:
        report.search("event_log", where, text, needles)
    for path in sorted(p for p in ingestion.instance_dir.rglob("*") if p.is_file()):
        report.search(
            "instance_files", str(path.relative_to(ingestion.instance_dir)), path.read_bytes(), needles
        )
    report.search("python_logs", ingestion.log_file.name, ingestion.log_file.read_bytes(), needles)
    for version in _versions(ingestion):
        key = version["Key"]
        body = ingestion.s3.get_object(Bucket=ingestion.bucket, Key=key, VersionId=version["VersionId"])[
            "Body"
        ].read()
        where = f"{key}@{version['VersionId'][:8]}"
        report.search(_category(key), where, body, needles)
        if key.endswith(".parquet"):
            report.search(_category(key), f"{where} (decoded)", _parquet_text(body), needles)
    if ingestion.warehouse.exists():
        report.search("warehouse", ingestion.warehouse.name, ingestion.warehouse.read_bytes(), needles)

    assert report.leaks == [], "\n".join(report.leaks[:20])
    # The search covered every channel, with real content in each ...
    assert report.looked["event_log"] > 200
    assert report.looked["lake/raw"] >= 2 * 6 * len(PARTITIONS)
    assert report.looked["lake/checkpoints"] > 10
    assert report.looked["lake/dead_letters"] > 1
    assert report.bytes_searched["python_logs"] > 10_000
    # ... and finds what is there: the canary planted in each of them.
    assert report.canary_found >= {
        "event_log",
        "python_logs",
        "lake/raw",
        "lake/checkpoints",
        "lake/dead_letters",
    }, report.canary_found
