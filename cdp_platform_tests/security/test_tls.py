"""TLS verification on every vendor call: a certificate from an unknown CA is refused, with a
message that says what to configure, unless that CA is configured through CDP_CA_BUNDLE."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import re
import ssl
from pathlib import Path

import pytest

from cdp_platform.http import VendorClient
from cdp_platform.http.tls import TlsVerificationError
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox.app import create_app
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.credentials import SANDBOX_CREDENTIALS
from cdp_platform.sandbox.in_process import SANDBOX_PREFIX
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.wiring import sandbox_server
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform.sources import SOURCES, vendor_resource
from cdp_platform.sources.partitions import partition_window
from cdp_platform.sources.raw_assets import extract_source
from cdp_platform.sources.stream import Window
from cdp_platform_tests.security.support import TlsFiles, sandbox_environ, sandbox_stats, serve_https

PACKAGE = Path(__file__).resolve().parents[2] / "cdp_platform"
PARTITION = "2026-11-20"
# Every secret the sandbox credentials hold (client and app ids are identifiers, not secrets).
SECRETS = {
    value
    for roles in SANDBOX_CREDENTIALS.values()
    for role, value in roles.items()
    if role not in ("client_id", "app_id")
}


@pytest.fixture(scope="module")
def https_sandbox(tls_files: TlsFiles):
    config = SandboxConfig(persons=150, seed=7, today=datetime.date(2026, 11, 26))
    data = SandboxData(config)
    app = create_app(config, faults="none", rate_limits=False, data=data)
    with serve_https(app, tls_files) as root:
        yield root, data


def _requests_seen(root: str, tls: TlsFiles) -> dict[str, int]:
    """The sandbox's own count of requests per vendor."""
    stats = sandbox_stats(root, tls)
    return {vendor: counts.get("total", 0) for vendor, counts in stats["requests"].items()}


def _extract_first_stream(
    source: str, root: str, data, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **extra: str
):
    """One real extraction of the source's first stream, with the resource the platform builds."""
    environ, secret_env = sandbox_environ(root, data, SANDBOX_CREDENTIALS)
    for name, value in secret_env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings({**environ, "CDP_LAKE_ROOT": str(tmp_path / "lake"), **extra})
    start, end = partition_window(PARTITION)
    stream = SOURCES[source].STREAMS[0]
    # A context manager: Dagster initializes a resource with a nested resource (the in-process
    # server field) that way, whether or not it is set.
    with vendor_resource(settings, settings.vendors[source]).process_config_and_initialize_cm() as resource:
        (outcome,) = asyncio.run(
            extract_source(resource, [stream], Window(PARTITION, start, end), LocalLake(tmp_path / "lake"))
        )
    return resource, outcome


@pytest.mark.parametrize("source", list(SANDBOX_PREFIX))
def test_a_vendor_with_an_unknown_ca_is_refused_with_the_setting_to_configure(
    source, https_sandbox, tls_files, monkeypatch, tmp_path, caplog
):
    root, data = https_sandbox
    before = _requests_seen(root, tls_files)
    caplog.set_level(logging.DEBUG)

    resource, outcome = _extract_first_stream(source, root, data, monkeypatch, tmp_path)

    error = outcome.error
    assert isinstance(error, TlsVerificationError), repr(error)
    message = str(error)
    assert message.startswith(
        f"{resource.http_vendor}: TLS certificate verification failed for https://127.0.0.1:"
    )
    assert "unable to get local issuer certificate" in message
    assert "CDP_CA_BUNDLE" in message
    # Refused at the handshake, once: nothing was sent, and retrying cannot help.
    assert error.attempts == 1 and outcome.stats["retries"] == 0
    sandbox_vendor = SANDBOX_PREFIX[source]
    assert _requests_seen(root, tls_files).get(sandbox_vendor, 0) == before.get(sandbox_vendor, 0)
    # Neither the error, its request description nor anything logged carries a credential.
    described = json.dumps(error.request)
    assert error.request["url"].startswith(f"{root}/")
    for secret in SECRETS:
        assert secret not in message and secret not in described and secret not in caplog.text


@pytest.mark.parametrize("source", list(SANDBOX_PREFIX))
def test_the_same_vendor_is_reached_once_its_ca_is_configured(
    source, https_sandbox, tls_files, monkeypatch, tmp_path
):
    root, data = https_sandbox
    before = _requests_seen(root, tls_files)

    resource, outcome = _extract_first_stream(
        source, root, data, monkeypatch, tmp_path, CDP_CA_BUNDLE=str(tls_files.ca_pem)
    )

    assert resource.ca_bundle == str(tls_files.ca_pem.resolve())
    assert outcome.error is None and outcome.complete, repr(outcome.error)
    assert outcome.rows is not None
    sandbox_vendor = SANDBOX_PREFIX[source]
    assert _requests_seen(root, tls_files)[sandbox_vendor] > before.get(sandbox_vendor, 0)


def test_ca_bundle_setting_is_checked_when_settings_load(tmp_path, tls_files):
    with pytest.raises(SettingsError, match=r"CDP_CA_BUNDLE=.*missing\.pem.*no such file"):
        load_settings({"CDP_CA_BUNDLE": str(tmp_path / "missing.pem")})
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("this is not a certificate\n")
    with pytest.raises(SettingsError, match=r"CDP_CA_BUNDLE=.*not\.pem"):
        load_settings({"CDP_CA_BUNDLE": str(not_pem)})
    assert load_settings({}).ca_bundle is None
    settings = load_settings({"CDP_CA_BUNDLE": str(tls_files.ca_pem)})
    assert settings.ca_bundle == str(tls_files.ca_pem.resolve())
    # Every vendor resource carries it, the sandbox ones too (they ignore it: no network).
    server = sandbox_server(settings)
    for name, vendor in settings.vendors.items():
        assert vendor_resource(settings, vendor, server).ca_bundle == settings.ca_bundle, name


def test_verification_cannot_be_turned_off():
    with pytest.raises(ValueError, match="CDP_CA_BUNDLE"):
        VendorClient("hubspot", "https://127.0.0.1:1", verify=False)
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="CDP_CA_BUNDLE"):
        VendorClient("hubspot", "https://127.0.0.1:1", verify=unverified)


def test_no_code_switches_certificate_verification_off():
    """A guard against the usual ways verification gets disabled slipping into the package."""
    patterns = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
        r"|PYTHONHTTPSVERIFY|InsecureRequestWarning"
    )
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if patterns.search(line)
    ]
    assert len(list(PACKAGE.rglob("*.py"))) > 50
    assert offenders == []


def test_an_untrusted_certificate_fails_the_raw_asset_once_without_retries(
    https_sandbox, tls_files, monkeypatch, tmp_path
):
    """The raw assets retry a failed step (twice, 10 s then 20 s later) because a cut connection or
    a 5xx storm often passes. A certificate the platform does not trust does not: the step fails at
    once, without the retries, and says which setting to fix."""
    import dagster as dg

    from cdp_platform.definitions import build_definitions

    root, data = https_sandbox
    environ, secret_env = sandbox_environ(root, data, SANDBOX_CREDENTIALS)
    for name, value in secret_env.items():
        monkeypatch.setenv(name, value)
    environ = {
        **environ,
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"),
    }
    defs = build_definitions(load_settings(environ))
    raw_twitter = next(
        a for a in defs.assets if getattr(a, "node_def", None) and a.node_def.name == "raw_twitter"
    )
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [raw_twitter],
        partition_key=PARTITION,
        resources=defs.resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    events = instance.all_logs(result.run_id)
    kinds = [e.dagster_event.event_type_value for e in events if e.dagster_event]
    assert kinds.count("STEP_FAILURE") == 1
    assert "STEP_UP_FOR_RETRY" not in kinds and "STEP_RESTARTED" not in kinds
    failure = next(
        e.dagster_event
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"
    )
    description = failure.step_failure_data.user_failure_data.description
    assert "a retry cannot fix" in description and "CDP_CA_BUNDLE" in description
