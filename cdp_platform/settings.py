"""The one place that reads the environment.

Every other module receives a :class:`Settings` (or the resources built from it) instead of
reading ``os.environ`` itself, so that the whole configuration surface is visible here and in
``.env.example``, and so that a wrong value fails once, at start-up, with a message naming the
variable and the fix.

Secrets are never read here as values: a vendor credential is described by the name of its
environment variable and handed to Dagster as an ``EnvVar``, which Dagster resolves at run time
and keeps out of the UI and the run config.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("local", "production")


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message names the variable and the fix."""


@dataclass(frozen=True)
class VendorSettings:
    """Where one vendor lives and which environment variables hold its credentials.

    ``base_url`` is ``None`` when the vendor is served by the bundled sandbox in process.
    ``credential_vars`` maps the credential's role (``access_token``, ``client_secret``...) to the
    name of the environment variable that holds it; values are resolved later through ``EnvVar``.
    ``options`` are non-secret, vendor-specific identifiers (a GA4 property id, a Facebook page id).
    """

    name: str
    base_url: str | None
    credential_vars: Mapping[str, str]
    options: Mapping[str, str] = field(default_factory=dict)
    credentials_present: frozenset[str] = frozenset()
    page_size: int | None = None
    timeout_seconds: float = 30.0

    @property
    def uses_sandbox(self) -> bool:
        return self.base_url is None


# The credential roles each vendor needs, in the order a user sets them up. The variable name is
# always CDP_<VENDOR>_<ROLE>, so the README and .env.example can be generated from this table.
VENDOR_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "salesforce": ("client_id", "client_secret", "refresh_token"),
    "hubspot": ("access_token",),
    "google_analytics": ("access_token",),
    "facebook": ("access_token", "app_id", "app_secret"),  # app id and secret are optional
    "instagram": ("access_token", "app_secret"),  # the app secret is optional (appsecret_proof)
    "twitter": ("bearer_token",),
    "stripe": ("api_key",),
}

# Non-secret account identifiers per vendor. Against the in-process sandbox they come from the
# sandbox itself; against any base URL (a real vendor, or the sandbox on a port) they must be set.
VENDOR_OPTIONS: dict[str, tuple[str, ...]] = {
    "salesforce": (),
    "hubspot": (),
    "google_analytics": ("property_id",),
    "facebook": ("page_id", "lead_form_ids"),
    "instagram": ("user_id",),
    "twitter": ("user_id",),
    "stripe": (),
}

SANDBOX_FAULT_PROFILES = ("none", "storm", "tempest")

# What to set each credential to, for the message of a missing one.
CREDENTIAL_FIXES: dict[tuple[str, str], str] = {
    ("salesforce", "client_id"): "set it to the connected app's consumer key",
    ("salesforce", "client_secret"): "set it to the connected app's consumer secret",
    ("salesforce", "refresh_token"): "set it to an OAuth refresh token of the integration user "
    "(connected app scopes api and refresh_token)",
    ("hubspot", "access_token"): "set it to the private app's access token "
    "(scopes crm.objects.contacts.read, crm.objects.companies.read, crm.objects.deals.read)",
    ("google_analytics", "access_token"): "set it to an OAuth2 access token with scope analytics.readonly",
    ("facebook", "access_token"): "set it to a Page access token (leads_retrieval, pages_read_engagement)",
    ("instagram", "access_token"): "set it to a token with instagram_basic and instagram_manage_comments",
    ("twitter", "bearer_token"): "set it to the app's bearer token (app-only authentication)",
    ("stripe", "api_key"): "set it to a restricted key (rk_live_...) with read access to customers, "
    "charges, refunds and events, or the secret key",
}


def missing_credential(vendor: str, role: str) -> str:
    """The one message for a credential that is unset or empty, wherever it is noticed."""
    return (
        f"{env_var_name(vendor, role)} is not set: {CREDENTIAL_FIXES[(vendor, role)]} "
        f"(see README, 'Connecting the vendors'); unset {env_var_name(vendor, 'base_url')} to use the sandbox instead."
    )


OPTIONAL_CREDENTIALS = frozenset(
    {("facebook", "app_id"), ("facebook", "app_secret"), ("instagram", "app_secret")}
)

VENDORS: tuple[str, ...] = tuple(VENDOR_CREDENTIALS)


def env_var_name(vendor: str, role: str) -> str:
    return f"CDP_{vendor.upper()}_{role.upper()}"


@dataclass(frozen=True)
class SandboxSettings:
    """The in-process sandbox used for every vendor without a base URL.

    ``today`` is ``None`` for "the current UTC date", so a long-running ``dagster dev`` keeps
    seeing fresh days; tests pin it for reproducible data.
    """

    persons: int = 2000
    seed: int = 7
    faults: str = "none"
    today: datetime.date | None = None
    span_days: int = 730


@dataclass(frozen=True)
class Settings:
    """The platform's configuration, read from the environment by :func:`load_settings`."""

    env: str
    lake_root: str
    s3_endpoint_url: str | None
    s3_region: str
    warehouse_path: Path
    dbt_target: str
    default_phone_region: str
    partitions_start: str
    sandbox: SandboxSettings
    vendors: Mapping[str, VendorSettings]
    # Operations. The alert webhook URL embeds its own secret (a Slack webhook's path is the
    # credential), so only its presence is kept here; the sensor resolves it through ``EnvVar``.
    alert_webhook_set: bool = False
    # OTLP/HTTP base URL (``/v1/traces`` is appended); ``None`` turns request tracing off entirely.
    otlp_endpoint: str | None = None
    # How old a profile mart may get before its freshness policy and check fail (hours): the marts
    # are rebuilt daily once the day's sources are in, so a day plus the ingestion hour's slack.
    mart_max_age_hours: int = 26
    # A PEM file of CAs trusted for vendor TLS in addition to the default store (absolute path);
    # ``None``: the default store only. Verification itself cannot be turned off.
    ca_bundle: str | None = None
    # The HMAC key of the privacy layer (keyed hashes in the suppression list and erasure audit log)
    # is a secret: only its presence is kept here; it is resolved at run time through ``EnvVar``.
    privacy_hmac_key_set: bool = False
    # The pseudonymized marts' own DuckDB file (CDP_PSEUDONYMIZED_WAREHOUSE_PATH); ``None``: the
    # default beside the warehouse (see ``pseudonymized_warehouse_path``).
    pseudonymized_warehouse: Path | None = None

    @property
    def pseudonymized_warehouse_path(self) -> Path:
        """Where the pseudonymized marts are written: a file of its own, so it can be handed out alone."""
        return self.pseudonymized_warehouse or self.warehouse_path.parent / "pseudonymized.duckdb"

    @property
    def lake_on_s3(self) -> bool:
        return self.lake_root.startswith("s3://")

    @property
    def s3_bucket(self) -> str:
        return self.lake_root.removeprefix("s3://").split("/", 1)[0]

    @property
    def s3_prefix(self) -> str:
        parts = self.lake_root.removeprefix("s3://").split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 else ""


def _get(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration, without touching the network or the disk (except to
    read ``CDP_CA_BUNDLE``, which must be a usable PEM file before any client is built).

    Use :func:`check_settings` at start-up to also check that the lake and warehouse are usable.
    """
    environ = os.environ if environ is None else environ
    env = _get(environ, "CDP_ENV", "local")
    if env not in ENVIRONMENTS:
        raise SettingsError(
            f"CDP_ENV={env!r} is not a known environment: set CDP_ENV to one of {', '.join(ENVIRONMENTS)}."
        )
    production = env == "production"

    lake_root = _get(environ, "CDP_LAKE_ROOT", None if production else ".cdp/lake")
    if lake_root is None:
        raise SettingsError(
            "CDP_LAKE_ROOT is not set: in production set it to s3://<bucket>/<prefix> "
            "(or a shared folder path)."
        )
    if lake_root.startswith("s3://"):
        if not lake_root.removeprefix("s3://").split("/", 1)[0]:
            raise SettingsError(f"CDP_LAKE_ROOT={lake_root!r} names no bucket: use s3://<bucket>/<prefix>.")
    elif "://" in lake_root:
        raise SettingsError(
            f"CDP_LAKE_ROOT={lake_root!r} uses an unsupported scheme: use a folder path or s3://<bucket>/<prefix>."
        )

    warehouse = _get(environ, "CDP_WAREHOUSE_PATH", ".cdp/warehouse.duckdb")
    warehouse_path = Path(warehouse)
    if warehouse_path.suffix != ".duckdb":
        raise SettingsError(f"CDP_WAREHOUSE_PATH={warehouse!r} must be a DuckDB file ending in .duckdb.")

    partitions_start = _get(environ, "CDP_PARTITIONS_START", "2024-11-01") or "2024-11-01"
    try:
        datetime.date.fromisoformat(partitions_start)
    except ValueError:
        raise SettingsError(
            f"CDP_PARTITIONS_START={partitions_start!r} is not a date: use YYYY-MM-DD (the first day to ingest)."
        ) from None

    sandbox = _sandbox_settings(environ)

    timeout_seconds = float(_int(environ, "CDP_HTTP_TIMEOUT_SECONDS", 30, 1))
    vendors: dict[str, VendorSettings] = {}
    for vendor, roles in VENDOR_CREDENTIALS.items():
        base_url = _get(environ, env_var_name(vendor, "base_url"))
        if base_url is None and production:
            raise SettingsError(
                f"{env_var_name(vendor, 'base_url')} is not set: production never falls back to the "
                f"bundled sandbox; set it to the vendor's API base URL (see README, 'Connecting the vendors')."
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"{env_var_name(vendor, 'base_url')}={base_url!r} is not an http(s) URL.")
        options = {role: _get(environ, env_var_name(vendor, role)) for role in VENDOR_OPTIONS[vendor]}
        missing = [role for role, value in options.items() if value is None]
        if missing and base_url is not None:
            raise SettingsError(
                f"{env_var_name(vendor, missing[0])} is not set: with {env_var_name(vendor, 'base_url')} "
                f"set, give the {vendor} {missing[0].replace('_', ' ')} of the account to ingest."
            )
        present = frozenset(role for role in roles if _get(environ, env_var_name(vendor, role)) is not None)
        required_missing = [r for r in roles if r not in present and (vendor, r) not in OPTIONAL_CREDENTIALS]
        if base_url is not None and required_missing:
            # In every environment: without it the first run would fail deep in the resource's
            # validation, far from the variable to set.
            raise SettingsError(missing_credential(vendor, required_missing[0]))
        page_size_var = env_var_name(vendor, "page_size")
        vendors[vendor] = VendorSettings(
            timeout_seconds=timeout_seconds,
            page_size=_int(environ, page_size_var, 0, 1) if _get(environ, page_size_var) else None,
            name=vendor,
            base_url=base_url.rstrip("/") if base_url else None,
            credential_vars={role: env_var_name(vendor, role) for role in roles},
            options={k: v for k, v in options.items() if v is not None},
            credentials_present=present,
        )

    return Settings(
        env=env,
        lake_root=lake_root.rstrip("/") if lake_root.startswith("s3://") else lake_root,
        s3_endpoint_url=_get(environ, "CDP_S3_ENDPOINT_URL"),
        s3_region=_get(environ, "CDP_S3_REGION", "us-east-1") or "us-east-1",
        warehouse_path=warehouse_path,
        dbt_target=_get(environ, "CDP_DBT_TARGET", "local") or "local",
        default_phone_region=(_get(environ, "CDP_DEFAULT_PHONE_REGION", "US") or "US").upper(),
        partitions_start=partitions_start,
        sandbox=sandbox,
        vendors=vendors,
        alert_webhook_set=_alert_webhook_set(environ),
        otlp_endpoint=_otlp_endpoint(environ),
        mart_max_age_hours=_int(environ, "CDP_MART_MAX_AGE_HOURS", 26, 1),
        ca_bundle=_ca_bundle(environ),
        privacy_hmac_key_set=_get(environ, PRIVACY_HMAC_KEY_VAR) is not None,
        pseudonymized_warehouse=_pseudonymized_warehouse(environ, warehouse_path),
    )


ALERT_WEBHOOK_VAR = "CDP_ALERT_WEBHOOK_URL"
PRIVACY_HMAC_KEY_VAR = "CDP_PRIVACY_HMAC_KEY"
PSEUDONYMIZED_WAREHOUSE_VAR = "CDP_PSEUDONYMIZED_WAREHOUSE_PATH"
OTLP_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"


def _pseudonymized_warehouse(environ: Mapping[str, str], warehouse_path: Path) -> Path | None:
    text = _get(environ, PSEUDONYMIZED_WAREHOUSE_VAR)
    if text is None:
        return None
    path = Path(text)
    if path.suffix != ".duckdb":
        raise SettingsError(
            f"{PSEUDONYMIZED_WAREHOUSE_VAR}={text!r} must be a DuckDB file ending in .duckdb."
        )
    if path.resolve() == warehouse_path.resolve():
        raise SettingsError(
            f"{PSEUDONYMIZED_WAREHOUSE_VAR} names the warehouse itself: the pseudonymized marts need a file "
            "of their own (analysts are given that file, not the personal data); use another path."
        )
    return path


def _alert_webhook_set(environ: Mapping[str, str]) -> bool:
    url = _get(environ, ALERT_WEBHOOK_VAR)
    if url is None:
        return False
    if not url.startswith(("http://", "https://")):
        # The value is not echoed: a webhook URL is a credential.
        raise SettingsError(f"{ALERT_WEBHOOK_VAR} is not an http(s) URL: set it to the webhook's full URL.")
    return True


def _ca_bundle(environ: Mapping[str, str]) -> str | None:
    path = _get(environ, "CDP_CA_BUNDLE")
    if path is None:
        return None
    from cdp_platform.http.tls import CaBundleError, check_ca_bundle

    # Absolute, so a run started from another working directory finds the same file.
    resolved = Path(path).expanduser().resolve()
    try:
        check_ca_bundle(resolved)
    except CaBundleError as exc:
        raise SettingsError(str(exc)) from None
    return str(resolved)


def _otlp_endpoint(environ: Mapping[str, str]) -> str | None:
    endpoint = _get(environ, OTLP_ENDPOINT_VAR)
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise SettingsError(
            f"{OTLP_ENDPOINT_VAR}={endpoint!r} is not an http(s) URL: set the collector's OTLP/HTTP base "
            "URL, e.g. http://127.0.0.1:4318 (traces go to <base>/v1/traces)."
        )
    return endpoint.rstrip("/") if endpoint else None


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = _get(environ, name, str(default)) or str(default)
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number.") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}.")
    return value


def _sandbox_settings(environ: Mapping[str, str]) -> SandboxSettings:
    faults = _get(environ, "CDP_SANDBOX_FAULTS", "none") or "none"
    if faults not in SANDBOX_FAULT_PROFILES:
        raise SettingsError(
            f"CDP_SANDBOX_FAULTS={faults!r} is not a fault profile: use one of {', '.join(SANDBOX_FAULT_PROFILES)}."
        )
    today_text = _get(environ, "CDP_SANDBOX_TODAY")
    try:
        today = datetime.date.fromisoformat(today_text) if today_text else None
    except ValueError:
        raise SettingsError(f"CDP_SANDBOX_TODAY={today_text!r} is not a date: use YYYY-MM-DD.") from None
    return SandboxSettings(
        persons=_int(environ, "CDP_SANDBOX_PERSONS", 2000, 1),
        seed=_int(environ, "CDP_SANDBOX_SEED", 7, 0),
        faults=faults,
        today=today,
        span_days=_int(environ, "CDP_SANDBOX_SPAN_DAYS", 730, 1),
    )


def _check_writable_folder(path: Path, variable: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise SettingsError(
            f"{variable}: the folder {str(path)!r} is not writable ({exc.strerror or exc}); "
            f"point {variable} at a folder this user can write, or fix its permissions."
        ) from None


def check_settings(settings: Settings) -> None:
    """Check at start-up that the lake and the warehouse can be used, failing with the fix.

    Local folders are created if missing. An S3 lake is probed with one ``HeadBucket`` call, so a
    missing bucket or an unreachable endpoint shows up here rather than in the first run.
    """
    if settings.lake_on_s3:
        from cdp_platform.io.lake import S3Lake

        S3Lake.from_settings(settings).check()
    else:
        _check_writable_folder(Path(settings.lake_root), "CDP_LAKE_ROOT")
    _check_writable_folder(settings.warehouse_path.parent, "CDP_WAREHOUSE_PATH")
    _check_writable_folder(settings.pseudonymized_warehouse_path.parent, PSEUDONYMIZED_WAREHOUSE_VAR)
    if settings.env == "production" and not settings.privacy_hmac_key_set:
        # Checked at start-up rather than in load_settings so that configuration can be inspected
        # without the secret; a production code location never loads without it.
        raise SettingsError(
            f"{PRIVACY_HMAC_KEY_VAR} is not set: production needs a stable secret key (at least 32 "
            "characters) for the keyed hashes of the suppression list and the erasure audit log."
        )
