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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdp_platform.sources.declaration import SourceDeclaration

ENVIRONMENTS = ("local", "production")
# Where the warehouse lives: one DuckDB file (the default), or a DuckLake (catalog in PostgreSQL,
# tables as Parquet files in a folder or S3) that many workers on many machines write at once.
WAREHOUSE_KINDS = ("file", "ducklake")
DUCKLAKE_CATALOG_VAR = "CDP_DUCKLAKE_CATALOG"
DUCKLAKE_DATA_PATH_VAR = "CDP_DUCKLAKE_DATA_PATH"
DUCKLAKE_RETENTION_VAR = "CDP_DUCKLAKE_SNAPSHOT_RETENTION_DAYS"
# A week of time travel: long enough to look at (or restore from) last week's profile after a bad
# run, short enough that the maintenance job keeps the bucket from growing without bound.
DUCKLAKE_RETENTION_DAYS_DEFAULT = 7


class SettingsError(ValueError):
    """A configuration value is missing or wrong; the message names the variable and the fix."""


@dataclass(frozen=True)
class VendorSettings:
    """Where one vendor lives and which environment variables hold its credentials.

    ``base_url`` is ``None`` when the vendor is served by the bundled sandbox in process.
    ``credential_vars`` maps the credential's role (``access_token``, ``client_secret``...) to the
    name of the environment variable that holds it; values are resolved later through ``EnvVar``.
    ``options`` are non-secret, vendor-specific identifiers (an analytics property id, a social page id).
    ``handle_fields``: per entity carrying the people's handles (a CRM's contacts), which of the
    account's fields holds which network's handle (``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS``, see
    :mod:`cdp_platform.cleansed.handles`): entity -> identifier column -> field name.
    """

    name: str
    base_url: str | None
    credential_vars: Mapping[str, str]
    options: Mapping[str, str] = field(default_factory=dict)
    credentials_present: frozenset[str] = frozenset()
    page_size: int | None = None
    timeout_seconds: float = 30.0
    handle_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def uses_sandbox(self) -> bool:
        return self.base_url is None


SANDBOX_FAULT_PROFILES = ("none", "storm", "tempest")


def source_declarations() -> Mapping[str, SourceDeclaration]:
    """Every source's declaration (``cdp_platform/sources/<source>/declaration.py``), by name.

    The per-source variables (``CDP_<SOURCE>_BASE_URL``, ``_PAGE_SIZE``, each credential role and
    account option) come from these, so a new source's folder is all its settings need. Imported
    when first asked for: the sources package imports this module.
    """
    from cdp_platform.sources.registry import declarations

    return declarations()


def env_var_name(vendor: str, role: str) -> str:
    return f"CDP_{vendor.upper()}_{role.upper()}"


def missing_credential(vendor: str, role: str) -> str:
    """The one message for a credential that is unset or empty, wherever it is noticed."""
    declaration = source_declarations()[vendor]
    fix = declaration.credential(role).fix
    if declaration.base_url is not None:  # declared in a YAML file: no sandbox serves it
        return f"{env_var_name(vendor, role)} is not set: {fix} (see README, 'Declaring a source in YAML')."
    return (
        f"{env_var_name(vendor, role)} is not set: {fix} "
        f"(see README, 'Connecting the vendors'); unset {env_var_name(vendor, 'base_url')} to use the sandbox instead."
    )


def __getattr__(name: str) -> object:
    """Views of the declarations under the names callers and tests have always used: the
    credential roles (``VENDOR_CREDENTIALS``), account options (``VENDOR_OPTIONS``), optional
    credentials and the source names, in the registry's order."""
    if name == "VENDOR_CREDENTIALS":
        return {n: d.credential_roles for n, d in source_declarations().items()}
    if name == "VENDOR_OPTIONS":
        return {n: d.option_names for n, d in source_declarations().items()}
    if name == "OPTIONAL_CREDENTIALS":
        return frozenset((n, r) for n, d in source_declarations().items() for r in d.optional_roles)
    if name == "VENDORS":
        return tuple(source_declarations())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    # The in-process sandbox's quota windows are divided by this, and the pacers told the scaled
    # lengths of the windows a vendor does not report (an hour, 15 minutes, a search API's second):
    # a local minute stands for a vendor's hour, so a newcomer's first load exercises every pacer
    # without waiting on it in real time. 1: the vendors' own clock.
    time_scale: float = 60.0

    def history_start(self) -> datetime.date:
        """The first day of the sandbox's history (it creates and changes records from then on)."""
        today = self.today or datetime.datetime.now(datetime.UTC).date()
        return today - datetime.timedelta(days=self.span_days)


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
    # ``file`` (``warehouse_path``) or ``ducklake`` (the three fields below; see
    # :class:`cdp_platform.io.warehouse.WarehouseTarget`, the one place that opens either).
    warehouse_kind: str = "file"
    # A libpq connection string of the DuckLake catalog database, without its password: libpq
    # reads that from ``PGPASSWORD`` (or ``~/.pgpass``), so it never enters a string we build or log.
    ducklake_catalog: str | None = None
    # Where DuckLake writes its Parquet files: ``s3://bucket/prefix/`` or an absolute folder path.
    ducklake_data_path: str | None = None
    ducklake_snapshot_retention_days: int = DUCKLAKE_RETENTION_DAYS_DEFAULT
    # CDP_SOURCES_DIR: the folder of YAML source files whose sources this process knows beside the
    # shipped ones (see ``cdp_platform.sources.yaml_source``); None: the shipped ones only.
    sources_dir: Path | None = None

    @property
    def warehouse(self):
        """The warehouse to open (:func:`cdp_platform.io.warehouse.connect_warehouse`)."""
        from cdp_platform.io.warehouse import WarehouseTarget

        return WarehouseTarget(
            kind=self.warehouse_kind,
            path=str(self.warehouse_path),
            ducklake_catalog=self.ducklake_catalog,
            ducklake_data_path=self.ducklake_data_path,
            s3_endpoint_url=self.s3_endpoint_url,
            s3_region=self.s3_region,
        )

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
    read ``CDP_CA_BUNDLE``, which must be a usable PEM file before any client is built, and the
    source files of ``CDP_SOURCES_DIR``, whose sources have settings of their own).

    Use :func:`check_settings` at start-up to also check that the lake and warehouse are usable.
    """
    environ = os.environ if environ is None else environ
    env = _get(environ, "CDP_ENV", "local")
    if env not in ENVIRONMENTS:
        raise SettingsError(
            f"CDP_ENV={env!r} is not a known environment: set CDP_ENV to one of {', '.join(ENVIRONMENTS)}."
        )
    production = env == "production"
    sources_dir = _sources_dir(environ)

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

    sandbox = _sandbox_settings(environ)
    partitions_start = _get(environ, "CDP_PARTITIONS_START")
    if partitions_start is not None:
        try:
            datetime.date.fromisoformat(partitions_start)
        except ValueError:
            raise SettingsError(
                f"CDP_PARTITIONS_START={partitions_start!r} is not a date: use YYYY-MM-DD (the first day to ingest)."
            ) from None
    elif not production and not any(_get(environ, env_var_name(v, "base_url")) for v in source_declarations()):
        # Every vendor is the bundled sandbox: the partitions are its history, so a short history
        # (CDP_SANDBOX_SPAN_DAYS=10) is a short backfill, with no date to work out.
        partitions_start = sandbox.history_start().isoformat()
    else:
        partitions_start = DEFAULT_PARTITIONS_START

    timeout_seconds = float(_int(environ, "CDP_HTTP_TIMEOUT_SECONDS", 30, 1))
    vendors: dict[str, VendorSettings] = {}
    for vendor, declaration in source_declarations().items():
        roles = declaration.credential_roles
        base_url = _get(environ, env_var_name(vendor, "base_url")) or declaration.base_url
        if base_url is None and production:
            raise SettingsError(
                f"{env_var_name(vendor, 'base_url')} is not set: production never falls back to the "
                f"bundled sandbox; set it to the vendor's API base URL (see README, 'Connecting the vendors')."
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"{env_var_name(vendor, 'base_url')}={base_url!r} is not an http(s) URL.")
        options = {role: _get(environ, env_var_name(vendor, role)) for role in declaration.option_names}
        missing = [role for role, value in options.items() if value is None]
        if missing and base_url is not None:
            raise SettingsError(
                f"{env_var_name(vendor, missing[0])} is not set: with {env_var_name(vendor, 'base_url')} "
                f"set, give the {vendor} {missing[0].replace('_', ' ')} of the account to ingest."
            )
        present = frozenset(role for role in roles if _get(environ, env_var_name(vendor, role)) is not None)
        required_missing = [r for r in roles if r not in present and r not in declaration.optional_roles]
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
            handle_fields=_handle_fields(environ, vendor, sandboxed=base_url is None),
        )
    _configure_handles(vendors)

    return Settings(
        env=env,
        lake_root=lake_root.rstrip("/") if lake_root.startswith("s3://") else lake_root,
        s3_endpoint_url=_get(environ, "CDP_S3_ENDPOINT_URL"),
        s3_region=_get(environ, "CDP_S3_REGION", "us-east-1") or "us-east-1",
        warehouse_path=warehouse_path,
        dbt_target=_dbt_target(environ),
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
        **_warehouse_kind(environ),
        sources_dir=sources_dir,
    )


# The first partition when a real vendor is configured and CDP_PARTITIONS_START is not set.
DEFAULT_PARTITIONS_START = "2024-11-01"
ALERT_WEBHOOK_VAR = "CDP_ALERT_WEBHOOK_URL"
PRIVACY_HMAC_KEY_VAR = "CDP_PRIVACY_HMAC_KEY"
PSEUDONYMIZED_WAREHOUSE_VAR = "CDP_PSEUDONYMIZED_WAREHOUSE_PATH"
OTLP_ENDPOINT_VAR = "OTEL_EXPORTER_OTLP_ENDPOINT"


def _sources_dir(environ: Mapping[str, str]) -> Path | None:
    """``CDP_SOURCES_DIR``, its YAML sources loaded into the registry (in place of any loaded by
    earlier settings), so that every list of sources derived from the registry holds them. A wrong
    file stops here with its name, line and fix (``SourceFileError`` is a ``SettingsError``)."""
    from cdp_platform.sources.registry import configure

    text = _get(environ, "CDP_SOURCES_DIR")
    # Absolute, so a run's worker started elsewhere reads the same files.
    folder = Path(text).expanduser().resolve() if text else None
    configure(folder)
    return folder


def _handle_fields(environ: Mapping[str, str], vendor: str, sandboxed: bool) -> dict[str, dict[str, str]]:
    """``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS`` of each of the source's entities that carry handles.
    Unset for a source the bundled sandbox serves: the sandbox's account's fields, as it declares
    them (its emulated accounts have these fields; a real account says which it has)."""
    # Imported when used: the entities live in the sources' folders, which import this module.
    from cdp_platform.cleansed.handles import handle_carriers, handle_fields_var, parse_handle_fields

    fields: dict[str, dict[str, str]] = {}
    for entity in handle_carriers(vendor):
        variable = handle_fields_var(vendor, entity)
        text = _get(environ, variable)
        if text is None and sandboxed:
            # Only a vendor without a base URL gets here, which production forbids: a production
            # process never imports the emulator.
            from cdp_platform.sandbox.plugins import source_mounts

            mount = source_mounts().get(vendor)
            text = mount.handle_fields.get(entity) if mount is not None else None
        fields[entity] = parse_handle_fields(variable, text)
    return fields


def _configure_handles(vendors: Mapping[str, VendorSettings]) -> None:
    """The cleansed entities of this process read the handle fields these settings map."""
    from cdp_platform.cleansed.handles import configure

    configure(
        {
            (name, entity): mapping
            for name, vendor in vendors.items()
            for entity, mapping in vendor.handle_fields.items()
        }
    )


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


def _dbt_target(environ: Mapping[str, str]) -> str:
    """dbt's profile target: ``ducklake`` goes with the DuckLake warehouse and only with it."""
    lake = (_get(environ, "CDP_WAREHOUSE", "file") or "file") == "ducklake"
    target = _get(environ, "CDP_DBT_TARGET", "ducklake" if lake else "local") or "local"
    if lake != (target == "ducklake"):
        raise SettingsError(
            f"CDP_DBT_TARGET={target!r} does not match CDP_WAREHOUSE={'ducklake' if lake else 'file'}: dbt must "
            "write the warehouse Dagster writes; use the 'ducklake' target with CDP_WAREHOUSE=ducklake, "
            "'local' or 'production' with the DuckDB file (or unset CDP_DBT_TARGET)."
        )
    return target


def _warehouse_kind(environ: Mapping[str, str]) -> dict:
    kind = _get(environ, "CDP_WAREHOUSE", "file") or "file"
    if kind not in WAREHOUSE_KINDS:
        raise SettingsError(
            f"CDP_WAREHOUSE={kind!r} is not a warehouse kind: use one of {', '.join(WAREHOUSE_KINDS)} "
            "(file: one DuckDB file at CDP_WAREHOUSE_PATH; ducklake: a DuckLake on PostgreSQL and S3)."
        )
    retention = _int(environ, DUCKLAKE_RETENTION_VAR, DUCKLAKE_RETENTION_DAYS_DEFAULT, 1)
    if kind == "file":
        return {"warehouse_kind": kind, "ducklake_snapshot_retention_days": retention}
    catalog = _get(environ, DUCKLAKE_CATALOG_VAR)
    if catalog is None:
        raise SettingsError(
            f"{DUCKLAKE_CATALOG_VAR} is not set: with CDP_WAREHOUSE=ducklake set it to the libpq connection "
            "string of the catalog database, e.g. 'dbname=cdp_lake host=db.internal user=cdp' "
            "(the password goes in PGPASSWORD)."
        )
    if "password" in catalog.lower():
        # The value is not echoed: it holds a secret.
        raise SettingsError(
            f"{DUCKLAKE_CATALOG_VAR} contains a password: remove it and set PGPASSWORD (or ~/.pgpass) "
            "instead, so the password is never part of a logged connection string."
        )
    if "dbname=" not in catalog:
        raise SettingsError(
            f"{DUCKLAKE_CATALOG_VAR}={catalog!r} names no database: add dbname=<catalog database>."
        )
    data_path = _get(environ, DUCKLAKE_DATA_PATH_VAR)
    if data_path is None:
        raise SettingsError(
            f"{DUCKLAKE_DATA_PATH_VAR} is not set: with CDP_WAREHOUSE=ducklake set it to s3://<bucket>/<prefix> "
            "(or, for one machine, an absolute folder path) where the tables' Parquet files go."
        )
    if data_path.startswith("s3://"):
        if not data_path.removeprefix("s3://").split("/", 1)[0]:
            raise SettingsError(
                f"{DUCKLAKE_DATA_PATH_VAR}={data_path!r} names no bucket: use s3://<bucket>/<prefix>."
            )
    elif "://" in data_path:
        raise SettingsError(
            f"{DUCKLAKE_DATA_PATH_VAR}={data_path!r} uses an unsupported scheme: use s3://<bucket>/<prefix> or a folder."
        )
    else:
        # Absolute, so every worker and dbt (which runs inside dbt/) name the same folder.
        data_path = str(Path(data_path).expanduser().resolve())
    return {
        "warehouse_kind": kind,
        "ducklake_catalog": catalog,
        "ducklake_data_path": data_path.rstrip("/") + "/",
        "ducklake_snapshot_retention_days": retention,
    }


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
        time_scale=_time_scale(environ),
    )


def _time_scale(environ: Mapping[str, str]) -> float:
    text = _get(environ, "CDP_SANDBOX_TIME_SCALE", "60") or "60"
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"CDP_SANDBOX_TIME_SCALE={text!r} is not a number.") from None
    if not 1 <= value <= 3600:
        raise SettingsError(
            f"CDP_SANDBOX_TIME_SCALE={text} must be between 1 (the vendors' real quota windows) and 3600."
        )
    return value


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
    if settings.warehouse_kind == "file":
        _check_writable_folder(settings.warehouse_path.parent, "CDP_WAREHOUSE_PATH")
    elif settings.ducklake_data_path and not settings.ducklake_data_path.startswith("s3://"):
        _check_writable_folder(Path(settings.ducklake_data_path), DUCKLAKE_DATA_PATH_VAR)
    _check_writable_folder(settings.pseudonymized_warehouse_path.parent, PSEUDONYMIZED_WAREHOUSE_VAR)
    if settings.env == "production" and not settings.privacy_hmac_key_set:
        # Checked at start-up rather than in load_settings so that configuration can be inspected
        # without the secret; a production code location never loads without it.
        raise SettingsError(
            f"{PRIVACY_HMAC_KEY_VAR} is not set: production needs a stable secret key (at least 32 "
            "characters) for the keyed hashes of the suppression list and the erasure audit log."
        )
