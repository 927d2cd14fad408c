"""Settings: working local defaults, and wrong values that fail naming the variable and the fix."""

from pathlib import Path

import pytest

from cdp_platform.settings import (
    VENDOR_CREDENTIALS,
    VENDOR_OPTIONS,
    VENDORS,
    SettingsError,
    check_settings,
    env_var_name,
    load_settings,
)

PROJECT = Path(__file__).resolve().parents[1]


def test_local_defaults_need_no_environment():
    settings = load_settings({})
    assert settings.env == "local"
    assert settings.lake_root == ".cdp/lake"
    assert settings.warehouse_path == Path(".cdp/warehouse.duckdb")
    assert set(settings.vendors) == set(VENDORS)
    assert all(v.uses_sandbox for v in settings.vendors.values())
    assert settings.vendors["hubspot"].credential_vars == {"access_token": "CDP_HUBSPOT_ACCESS_TOKEN"}


def test_sandbox_settings_and_their_errors():
    sandbox = load_settings({"CDP_SANDBOX_PERSONS": "500", "CDP_SANDBOX_FAULTS": "storm"}).sandbox
    assert (sandbox.persons, sandbox.seed, sandbox.faults, sandbox.today) == (500, 7, "storm", None)
    with pytest.raises(SettingsError, match="CDP_SANDBOX_FAULTS='chaos' is not a fault profile"):
        load_settings({"CDP_SANDBOX_FAULTS": "chaos"})
    with pytest.raises(SettingsError, match="CDP_SANDBOX_PERSONS='many' is not a whole number"):
        load_settings({"CDP_SANDBOX_PERSONS": "many"})


def test_a_base_url_needs_the_account_identifiers():
    with pytest.raises(SettingsError, match="CDP_TWITTER_USER_ID is not set: with CDP_TWITTER_BASE_URL set"):
        load_settings({"CDP_TWITTER_BASE_URL": "http://127.0.0.1:8500/twitter"})


def test_unknown_environment_names_the_variable():
    with pytest.raises(SettingsError, match=r"CDP_ENV='staging' .* one of local, production"):
        load_settings({"CDP_ENV": "staging"})


def test_production_never_falls_back_to_the_sandbox():
    with pytest.raises(SettingsError, match="CDP_LAKE_ROOT is not set"):
        load_settings({"CDP_ENV": "production"})
    with pytest.raises(SettingsError, match="CDP_SALESFORCE_BASE_URL is not set"):
        load_settings({"CDP_ENV": "production", "CDP_LAKE_ROOT": "s3://b/p"})


def test_production_with_everything_set():
    environ = {"CDP_ENV": "production", "CDP_LAKE_ROOT": "s3://cdp-lake/prod/"}
    for vendor in VENDORS:
        environ[env_var_name(vendor, "base_url")] = f"https://{vendor}.example.com/"
    environ.update(
        CDP_GOOGLE_ANALYTICS_PROPERTY_ID="123",
        CDP_FACEBOOK_PAGE_ID="1",
        CDP_FACEBOOK_LEAD_FORM_IDS="2,3",
        CDP_INSTAGRAM_USER_ID="4",
        CDP_TWITTER_USER_ID="5",
    )
    with pytest.raises(
        SettingsError, match="CDP_SALESFORCE_CLIENT_ID is not set: set it to the connected app's consumer key"
    ):
        load_settings(environ)
    for vendor, roles in VENDOR_CREDENTIALS.items():
        environ.update(
            {
                env_var_name(vendor, role): "secret"
                for role in roles
                if vendor != "facebook" or role == "access_token"
            }
        )
    settings = load_settings(environ)
    assert settings.vendors["facebook"].credentials_present == {"access_token"}
    assert settings.s3_bucket == "cdp-lake" and settings.s3_prefix == "prod"
    assert settings.vendors["hubspot"].base_url == "https://hubspot.example.com"
    assert not settings.vendors["twitter"].uses_sandbox


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CDP_LAKE_ROOT": "s3://"}, "names no bucket"),
        ({"CDP_LAKE_ROOT": "gs://bucket/x"}, "unsupported scheme"),
        ({"CDP_WAREHOUSE_PATH": "warehouse.db"}, "CDP_WAREHOUSE_PATH='warehouse.db' must be a DuckDB file"),
        ({"CDP_HUBSPOT_BASE_URL": "api.hubapi.com"}, "CDP_HUBSPOT_BASE_URL='api.hubapi.com' is not an http"),
    ],
)
def test_wrong_values_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_existing_folder_that_takes_no_files_fails_at_start_up():
    """The folder exists, so only the write probe can tell: /proc takes no new file from anyone,
    root included (a folder of mode 0500 would not stop root, and these tests often run as root)."""
    settings = load_settings({"CDP_LAKE_ROOT": "/proc"})
    with pytest.raises(SettingsError, match=r"CDP_LAKE_ROOT: the folder '/proc' is not writable"):
        check_settings(settings)


def test_lake_path_that_is_a_file_fails_at_start_up(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = load_settings({"CDP_LAKE_ROOT": str(blocker / "lake")})
    with pytest.raises(SettingsError, match=r"CDP_LAKE_ROOT: the folder .* is not writable"):
        check_settings(settings)


def test_missing_bucket_fails_at_start_up(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = load_settings({"CDP_LAKE_ROOT": "s3://no-such-bucket/x", "CDP_S3_ENDPOINT_URL": s3_endpoint})
    with pytest.raises(SettingsError, match="CDP_LAKE_ROOT: the bucket 'no-such-bucket' does not exist"):
        check_settings(settings)


def test_unreachable_s3_endpoint_fails_at_start_up(monkeypatch):
    from cdp_platform_tests.support.services import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = load_settings(
        {"CDP_LAKE_ROOT": "s3://bucket/x", "CDP_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(SettingsError, match=r"CDP_S3_ENDPOINT_URL: the S3 endpoint .* cannot be reached"):
        check_settings(settings)


def test_env_example_documents_every_variable():
    """Every variable settings.py reads is in .env.example, so users can find them all."""
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (PROJECT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    source = (PROJECT / "cdp_platform" / "settings.py").read_text()
    import re

    read_directly = set(re.findall(r'"(CDP_[A-Z_]+)"', source))
    derived = {
        env_var_name(vendor, role)
        for vendor, settings in load_settings({}).vendors.items()
        for role in [
            "base_url",
            *settings.credential_vars,
            *VENDOR_OPTIONS[vendor],
            *(f"{entity}_handle_fields" for entity in settings.handle_fields),
        ]
    }
    assert read_directly | derived <= documented, sorted((read_directly | derived) - documented)
