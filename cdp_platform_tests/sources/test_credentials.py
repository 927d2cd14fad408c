"""Connecting a vendor without its credential fails with the variable and the fix, nothing else.

Issue 17: with ``CDP_SALESFORCE_BASE_URL`` set and no credentials, a materialization ended in a
40-line traceback of ``3 validation errors for SalesforceResource``. Now the load stops naming the
first unset variable; a credential that resolves empty in the run's environment stops the run the
same way, without a retry.
"""

from __future__ import annotations

import dagster as dg
import pytest

from cdp_platform.settings import (
    OPTIONAL_CREDENTIALS,
    VENDOR_CREDENTIALS,
    VENDOR_OPTIONS,
    SettingsError,
    env_var_name,
    load_settings,
)
from cdp_platform.sources import RESOURCE_CLASSES, SOURCES, resource_key
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.sources.raw_assets import build_raw_assets
from cdp_platform.sources.vendor import MissingCredential

REQUIRED = [
    (vendor, role)
    for vendor, roles in VENDOR_CREDENTIALS.items()
    for role in roles
    if (vendor, role) not in OPTIONAL_CREDENTIALS
]


def _connected(vendor: str) -> dict[str, str]:
    """Everything a user sets for ``vendor`` except credentials."""
    environ = {env_var_name(vendor, "base_url"): f"https://{vendor}.example.com"}
    environ.update({env_var_name(vendor, option): "123" for option in VENDOR_OPTIONS[vendor]})
    return environ


@pytest.mark.parametrize(("vendor", "role"), REQUIRED)
@pytest.mark.parametrize("env", ["local", "production"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_unset_or_empty_credential_stops_the_load_naming_it(vendor, role, env, value):
    environ = {**_connected(vendor), "CDP_ENV": env}
    if env == "production":
        environ["CDP_LAKE_ROOT"] = "s3://lake/prod"
        for other in VENDOR_CREDENTIALS:
            if other != vendor:  # every other vendor fully set, so this one is the only problem
                environ.update(_connected(other))
                environ.update({env_var_name(other, r): "x" for r in VENDOR_CREDENTIALS[other]})
    environ.update({env_var_name(vendor, r): "x" for r in VENDOR_CREDENTIALS[vendor] if r != role})
    if value is not None:
        environ[env_var_name(vendor, role)] = value
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    message = str(raised.value)
    assert message.startswith(f"{env_var_name(vendor, role)} is not set: set it to ")
    assert "validation error" not in message and "\n" not in message


@pytest.mark.parametrize(("vendor", "role"), REQUIRED)
def test_an_empty_credential_at_run_time_names_the_variable(vendor, role):
    credentials = {r: "x" for r in VENDOR_CREDENTIALS[vendor] if r != role}
    resource = RESOURCE_CLASSES[vendor](base_url=f"https://{vendor}.example.com", **credentials, **{role: ""})
    with pytest.raises(MissingCredential, match=f"^{env_var_name(vendor, role)} is not set: set it to "):
        resource.require_credentials()
    with pytest.raises(MissingCredential):
        resource.client()
    # Unset entirely: the resource still builds (no validation traceback) and names it the same way.
    unset = RESOURCE_CLASSES[vendor](base_url=f"https://{vendor}.example.com", **credentials)
    with pytest.raises(MissingCredential, match=f"^{env_var_name(vendor, role)} is not set"):
        unset.require_credentials()


def test_the_run_fails_with_the_message_alone_and_is_not_retried(tmp_path, monkeypatch):
    """The Salesforce client id set at load, empty in the run's environment (an EnvVar)."""
    monkeypatch.setenv("CDP_SALESFORCE_CLIENT_ID", "")
    from cdp_platform.io.resources import io_resources

    settings = load_settings(
        {"CDP_LAKE_ROOT": str(tmp_path / "lake"), "CDP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb")}
    )
    resource = RESOURCE_CLASSES["salesforce"](
        base_url="https://login.salesforce.com",
        client_id=dg.EnvVar("CDP_SALESFORCE_CLIENT_ID"),
        client_secret="x",
        refresh_token="y",
    )
    assets = build_raw_assets(
        "salesforce",
        SOURCES["salesforce"].STREAMS,
        resource_key("salesforce"),
        daily_partitions("2026-11-01"),
    )
    result = dg.materialize(
        [assets],
        partition_key="2026-11-20",
        resources={**io_resources(settings), resource_key("salesforce"): resource},
        raise_on_error=False,
    )
    failures = result.get_step_failure_events()
    assert not result.success and len(failures) == 1
    error = failures[0].event_specific_data.error
    assert error.message.strip().endswith(
        "Failure: CDP_SALESFORCE_CLIENT_ID is not set: set it to the connected app's consumer key "
        "(see README, 'Connecting the vendors'); unset CDP_SALESFORCE_BASE_URL to use the sandbox instead."
    )
    assert "validation error" not in error.to_string()
    assert len([e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]) == 0


def test_the_dagster_command_line_prints_the_message_and_nothing_else(tmp_path):
    """The issue's repro: ``dagster asset materialize`` with the base URL set and no credential."""
    from click.testing import CliRunner
    from dagster._cli import cli

    environ = {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SALESFORCE_BASE_URL": "https://login.salesforce.com",
        "DAGSTER_HOME": str(tmp_path),
    }
    arguments = [
        "asset",
        "materialize",
        "--select",
        "raw/salesforce/contacts",
        "-m",
        "cdp_platform.definitions",
    ]
    result = CliRunner().invoke(cli, [*arguments, "--partition", "2026-11-20"], env=environ)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1] == (
        "Error: CDP_SALESFORCE_CLIENT_ID is not set: set it to the connected app's consumer key "
        "(see README, 'Connecting the vendors'); unset CDP_SALESFORCE_BASE_URL to use the sandbox instead."
    )
    assert "Traceback" not in result.output and "validation error" not in result.output


def test_the_instagram_app_secret_is_optional_and_signs_calls_when_set(monkeypatch):
    import httpx

    from cdp_platform.sources import vendor_resource
    from cdp_platform.sources.graph_auth import appsecret_proof

    environ = {**_connected("instagram"), "CDP_INSTAGRAM_ACCESS_TOKEN": "ig-token"}
    assert "app_secret" not in load_settings(environ).vendors["instagram"].credentials_present
    environ["CDP_INSTAGRAM_APP_SECRET"] = "ig-app-secret"
    settings = load_settings(environ)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    resource = vendor_resource(settings, settings.vendors["instagram"])
    request = httpx.Request("GET", "https://graph.facebook.com/v21.0/123/media")
    resource.model_copy(update={"access_token": "ig-token", "app_secret": "ig-app-secret"}).auth().apply(
        request
    )
    assert request.url.params["appsecret_proof"] == appsecret_proof("ig-token", "ig-app-secret")
    assert isinstance(resource.app_secret, dg.EnvVar) and resource.app_secret == "CDP_INSTAGRAM_APP_SECRET"
