"""The warehouse: the one place that opens it, its IO manager for polars DataFrames, and its pools.

Two kinds, chosen by the settings alone (``CDP_WAREHOUSE``), behind one function,
:func:`connect_warehouse`, which every writer and reader uses (the IO manager, the ``warehouse``
resource, the erasure, the ``cdp`` CLI; dbt through the same code in :mod:`cdp_platform.io.dbt_plugin`):

- ``file`` (default): one DuckDB file. DuckDB allows one writing process per file, so every asset
  that writes it is in the :data:`WAREHOUSE_POOL` Dagster pool, whose limit of 1 (the instance's
  ``dagster.yaml``) serializes writers across runs: concurrent runs queue instead of failing.
- ``ducklake``: a DuckLake, attached as :data:`LAKE_CATALOG` and made the default catalog
  (``USE``), so every ``schema.table`` the assets name resolves in it unchanged. Its catalog
  (schemas, snapshots, file lists) is a PostgreSQL database, its tables Parquet files in S3 or a
  folder; many DuckDB processes on many machines commit to it with ACID transactions. The single
  slot then gives way to one pool per table (:func:`with_warehouse_pools`): two steps never write
  one table at once, different tables are written at the same time, and a commit that still
  conflicts (two writers of one schema, an erasure beside a writer) is retried (:func:`retry_conflicts`).

Partition handling is Dagster's own (``dagster-duckdb``'s DbIOManager): an asset with a
``partition_expr`` metadata entry has exactly its partition's rows deleted and re-inserted on
every materialization, here in one transaction, so a re-run replaces its slice and never doubles it,
and a retried conflict never leaves a slice half written.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import duckdb
import polars as pl
from dagster._core.definitions.metadata import TableMetadataSet
from dagster._core.errors import DagsterInvalidMetadata
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBResource
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager
from dagster_duckdb_polars import DuckDBPolarsTypeHandler
from pydantic import Field

from cdp_platform.io.lake_io_manager import declared_schema, table_schema

log = logging.getLogger(__name__)

WAREHOUSE_POOL = "duckdb_writer"
# The name the DuckLake is attached under in every connection (and dbt's ``database``).
LAKE_CATALOG = "lake"
# A conflicting commit is tried again this many times in all, after a short, growing pause.
CONFLICT_ATTEMPTS = 8

T = TypeVar("T")


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened; the message names the setting or the service to fix."""


@dataclass(frozen=True)
class WarehouseTarget:
    """What :func:`connect_warehouse` opens: built from the settings (``Settings.warehouse``).

    No secret is held here: the catalog's password is libpq's ``PGPASSWORD`` and S3 credentials
    come from the standard AWS chain when a connection is opened.
    """

    kind: str = "file"
    path: str = ".cdp/warehouse.duckdb"
    ducklake_catalog: str | None = None
    ducklake_data_path: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    @property
    def is_lake(self) -> bool:
        return self.kind == "ducklake"

    def describe(self) -> str:
        """For messages: the file, or the catalog and data path (no password is ever in them)."""
        if self.is_lake:
            return f"DuckLake (catalog {self.ducklake_catalog!r}, data {self.ducklake_data_path})"
        return self.path


def extension_file(package: str) -> str:
    """The ``.duckdb_extension`` file inside a ``duckdb-extension-*`` PyPI package.

    ``LOAD ducklake`` by name looks for the extension on the web, which production hosts (and this
    project's machines) may not reach; the file shipped in the installed package loads offline.
    """
    import importlib

    module = importlib.import_module(package)
    files = sorted(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))
    if not files:
        raise WarehouseError(f"the package {package} holds no .duckdb_extension file: reinstall it")
    return str(files[-1])


LAKE_EXTENSIONS = (
    "duckdb_extension_httpfs",
    "duckdb_extension_postgres_scanner",
    "duckdb_extension_ducklake",
)


def prepare_lake_connection(connection: duckdb.DuckDBPyConnection, target: WarehouseTarget) -> None:
    """Load DuckLake's extensions from their packages and give DuckDB the S3 credentials.

    Shared by :func:`connect_warehouse` and dbt's plugin, so both reach the lake the same way.
    """
    for package in LAKE_EXTENSIONS:
        connection.execute(f"LOAD '{extension_file(package)}'")
    if (target.ducklake_data_path or "").startswith("s3://"):
        connection.execute(_s3_secret_sql(target))


def _s3_secret_sql(target: WarehouseTarget) -> str:
    """A temporary DuckDB secret from boto3's credential chain (environment, profile, instance
    role): the same credentials the raw lake uses. Kept in memory only, never logged."""
    import boto3

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise WarehouseError(
            "no AWS credentials for the DuckLake data path: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or give the host an IAM role (README, 'Production: DuckLake')"
        )
    frozen = credentials.get_frozen_credentials()

    def quoted(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    options = [
        "TYPE s3",
        f"KEY_ID {quoted(frozen.access_key)}",
        f"SECRET {quoted(frozen.secret_key)}",
        f"REGION {quoted(target.s3_region)}",
    ]
    if frozen.token:
        options.append(f"SESSION_TOKEN {quoted(frozen.token)}")
    if target.s3_endpoint_url:
        scheme, _, host = target.s3_endpoint_url.partition("://")
        options += [
            f"ENDPOINT {quoted(host.rstrip('/'))}",
            "URL_STYLE 'path'",
            f"USE_SSL {str(scheme == 'https').lower()}",
        ]
    return f"CREATE OR REPLACE TEMPORARY SECRET cdp_lake_s3 ({', '.join(options)})"


def lake_attach_sql(target: WarehouseTarget) -> str:
    """The ATTACH of the DuckLake. Data inlining is off: DuckLake would otherwise keep small
    inserts as rows of the PostgreSQL catalog, where neither the bucket's lifecycle, the erasure's
    file rewrite nor a search of the Parquet files would see them; every row is in a Parquet file."""
    catalog = (target.ducklake_catalog or "").replace("'", "''")
    data = (target.ducklake_data_path or "").replace("'", "''")
    return (
        f"ATTACH IF NOT EXISTS 'ducklake:postgres:{catalog}' AS {LAKE_CATALOG} "
        f"(DATA_PATH '{data}', DATA_INLINING_ROW_LIMIT 0)"
    )


def connect_warehouse(target: WarehouseTarget, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse: the DuckDB file, or a connection to this process's DuckDB
    with the DuckLake attached, made the default catalog. Raises ``duckdb.IOException`` when another
    process holds the file (callers say who), :class:`WarehouseError` when the lake cannot be
    reached. Closing it closes only this connection.

    ``read_only`` applies to the file; a DuckLake reader simply writes nothing.
    """
    if not target.is_lake:
        return duckdb.connect(target.path, read_only=read_only)
    connection = _lake_database(target).cursor()
    connection.execute(f"USE {LAKE_CATALOG}")
    return connection


# One in-memory DuckDB per process and lake, with the extensions loaded and the lake attached;
# each caller gets a connection of its own to it (its own transactions). Loading the three
# extensions and attaching costs about 2 s, paid once per process instead of once per step output.
_LAKES: dict[WarehouseTarget, tuple[int, float, duckdb.DuckDBPyConnection]] = {}
_LAKES_LOCK = threading.Lock()
# Temporary S3 credentials (an instance role's) expire: the secret is refreshed this often.
_SECRET_REFRESH_SECONDS = 600.0


def _lake_database(target: WarehouseTarget) -> duckdb.DuckDBPyConnection:
    with _LAKES_LOCK:
        pid, refreshed, database = _LAKES.get(target, (None, 0.0, None))
        if database is not None and pid != os.getpid():
            database = None  # inherited through fork (a Celery or multiprocess child): not ours to use
        if database is None:
            database = duckdb.connect(config={"custom_user_agent": "cdp_platform"})
            try:
                prepare_lake_connection(database, target)
                _attach(database, target)
            except duckdb.Error as exc:
                database.close()
                raise WarehouseError(
                    f"cannot open the {target.describe()}: {exc}. Check CDP_DUCKLAKE_CATALOG (and PGPASSWORD), "
                    "CDP_DUCKLAKE_DATA_PATH and the S3 credentials."
                ) from None
            refreshed = time.monotonic()
        elif (target.ducklake_data_path or "").startswith("s3://") and (
            time.monotonic() - refreshed > _SECRET_REFRESH_SECONDS
        ):
            database.execute(_s3_secret_sql(target))
            refreshed = time.monotonic()
        _LAKES[target] = (os.getpid(), refreshed, database)
        return database


def _attach(database: duckdb.DuckDBPyConnection, target: WarehouseTarget, attempts: int = 5) -> None:
    """ATTACH, tried again when another process was creating the catalog's tables at the same
    moment (the first writers of a new lake race to initialize it; one wins, the others then
    find the catalog ready)."""
    for attempt in range(1, attempts + 1):
        try:
            database.execute(lake_attach_sql(target))
            return
        except duckdb.Error as exc:
            text = str(exc)
            racing = (
                "Failed to initialize DuckLake" in text or "already exists" in text or "duplicate key" in text
            )
            if not racing or attempt == attempts:
                raise
            log.warning(
                "DuckLake catalog being initialized by another process (attempt %d): retrying", attempt
            )
            time.sleep(0.5 * attempt)


def is_lake_connection(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``connection``'s default catalog is a DuckLake (where a few DuckDB features, such as
    CHECK constraints, do not exist and history must be expired to forget)."""
    return bool(
        connection.execute(
            "select count(*) from duckdb_databases() where database_name = current_database() and type = 'ducklake'"
        ).fetchone()[0]
    )


_CHECK = re.compile(r",?\s*check \((?:[^()]|\([^()]*\))*\)", re.IGNORECASE)
_KEY = re.compile(r"\s+(?:primary key|unique)\b", re.IGNORECASE)


def execute_ddl(connection: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run a CREATE TABLE written for DuckDB on either kind. DuckLake has no CHECK, PRIMARY KEY or
    UNIQUE constraints, so on it they are left out: the platform's writers check the same rules in
    Python before a row is written (the constraints remain a second guard on the file)."""
    if is_lake_connection(connection):
        statement = _KEY.sub("", _CHECK.sub("", statement))
    connection.execute(statement)


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit that lost a race to another writer (nothing of it was written)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("conflict" in text or "concurrent" in text)


def retry_conflicts(fn: Callable[[], T], what: str, attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run ``fn`` (one whole transaction) until it commits without a conflict, at most ``attempts``
    times. Each conflict is logged; the last one is raised, so a write is never silently lost."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == attempts:
                raise
            pause = min(0.2 * 2 ** (attempt - 1), 5.0)
            log.warning(
                "%s: transaction conflict with another writer (attempt %d of %d), retrying in %.1f s: %s",
                what,
                attempt,
                attempts,
                pause,
                exc,
            )
            time.sleep(pause)
    raise AssertionError("unreachable")


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    connection.execute("begin transaction")
    try:
        yield connection
    except BaseException:
        connection.execute("rollback")
        raise
    connection.execute("commit")


class WarehouseResource(DuckDBResource):
    """``DuckDBResource`` whose connection is :func:`connect_warehouse`'s, for either kind.

    ``database`` keeps the file path (the file kind's warehouse); the ``ducklake_*`` fields, set
    from the settings, make it the DuckLake instead.
    """

    kind: str = Field(default="file", description="file or ducklake (CDP_WAREHOUSE)")
    ducklake_catalog: str | None = None
    ducklake_data_path: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    @property
    def target(self) -> WarehouseTarget:
        return WarehouseTarget(
            kind=self.kind,
            path=self.database,
            ducklake_catalog=self.ducklake_catalog,
            ducklake_data_path=self.ducklake_data_path,
            s3_endpoint_url=self.s3_endpoint_url,
            s3_region=self.s3_region,
        )

    @classmethod
    def from_target(cls, target: WarehouseTarget) -> WarehouseResource:
        return cls(**_target_fields(target))

    @contextmanager
    def get_connection(self):
        target = self.target
        if target.is_lake:
            connection = connect_warehouse(target)
        else:
            # The stock resource's backoff while another process briefly holds the file.
            from dagster._utils.backoff import backoff

            connection = backoff(
                fn=connect_warehouse,
                retry_on=(RuntimeError, duckdb.IOException),
                args=[target],
                max_retries=10,
            )
        try:
            yield connection
        finally:
            connection.close()


def _target_fields(target: WarehouseTarget) -> dict[str, Any]:
    return {
        "database": target.path,
        "kind": target.kind,
        "ducklake_catalog": target.ducklake_catalog,
        "ducklake_data_path": target.ducklake_data_path,
        "s3_endpoint_url": target.s3_endpoint_url,
        "s3_region": target.s3_region,
    }


class WarehousePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """The stock handler, except that an empty frame still creates (or keeps) its table.

    The stock handler skips empty frames entirely, so a day without records would leave no table
    and every downstream query would fail on a missing relation. An empty partition is a fact
    (nothing changed that day), not an error.
    """

    def handle_output(
        self, context: dg.OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection
    ) -> dict[str, Any]:
        obj_arrow = obj.to_arrow()  # noqa: F841  (DuckDB resolves the Python variable by name)
        connection.execute(f'create schema if not exists "{table_slice.schema}"')
        connection.execute(
            f'create table if not exists "{table_slice.schema}"."{table_slice.table}" as '
            "select * from obj_arrow limit 0"
        )
        existing = {
            row[0]
            for row in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [table_slice.schema, table_slice.table],
            ).fetchall()
        }
        # A column the vendor started sending is added rather than failing the insert; the drift
        # check of the cleansed layer reports it.
        for name, duck_type, *_ in connection.execute("describe select * from obj_arrow").fetchall():
            if name not in existing:
                connection.execute(
                    f'alter table "{table_slice.schema}"."{table_slice.table}" add column "{name}" {duck_type}'
                )
        if obj.height:
            connection.execute(
                f'insert into "{table_slice.schema}"."{table_slice.table}" by name select * from obj_arrow'
            )
        # Returned, not added: the IO manager adds it once the transaction has committed (a
        # conflicting commit runs this again).
        return {
            "dagster/row_count": dg.MetadataValue.int(obj.height),
            "dagster/column_schema": table_schema(obj, declared_schema(context)),
            "table": dg.MetadataValue.text(f"{table_slice.schema}.{table_slice.table}"),
        }


class _WarehouseClient(DuckDbClient):
    """dagster-duckdb's client, connecting through :func:`connect_warehouse`."""

    @staticmethod
    @contextmanager
    def connect(context, _):
        config = context.resource_config
        target = WarehouseTarget(
            kind=config.get("kind") or "file",
            path=config["database"],
            ducklake_catalog=config.get("ducklake_catalog"),
            ducklake_data_path=config.get("ducklake_data_path"),
            s3_endpoint_url=config.get("s3_endpoint_url"),
            s3_region=config.get("s3_region") or "us-east-1",
        )
        if target.is_lake:
            connection = connect_warehouse(target)
        else:
            from dagster._utils.backoff import backoff

            connection = backoff(
                fn=connect_warehouse,
                retry_on=(RuntimeError, duckdb.IOException),
                args=[target],
                max_retries=10,
            )
        try:
            yield connection
        finally:
            connection.close()


class _TransactionalDbIOManager(DbIOManager):
    """Dagster's DbIOManager, except that a slice's delete and insert are one transaction, retried
    whole on a conflict: readers never see a partition missing, and a lost race is written again."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is None:
            return super().handle_output(context, obj)  # Dagster's own message
        self._check_supported_type(type(obj))
        table_slice = self._get_table_slice(context, context)
        handler = self._resolve_handler(type(obj))

        def write() -> dict[str, Any] | None:
            with self._db_client.connect(context, table_slice) as connection, transaction(connection):
                self._db_client.ensure_schema_exists(context, table_slice, connection)
                self._db_client.delete_table_slice(context, table_slice, connection)
                return handler.handle_output(context, table_slice, obj, connection)

        metadata = retry_conflicts(write, f"writing {table_slice.schema}.{table_slice.table}")
        context.add_output_metadata(
            {**(metadata or {}), "Query": self._db_client.get_select_statement(table_slice)}
        )
        try:
            context.add_output_metadata(
                dict(TableMetadataSet(table_name=self._db_client.get_table_name(table_slice)))
            )
        except DagsterInvalidMetadata:
            pass


class WarehouseIOManager(DuckDBIOManager):
    """The warehouse's IO manager for polars DataFrames, partition-aware through ``partition_expr``.

    ``database`` is the file kind's path; the ``ducklake_*`` fields make it the DuckLake.
    """

    kind: str = Field(default="file", description="file or ducklake (CDP_WAREHOUSE)")
    ducklake_catalog: str | None = None
    ducklake_data_path: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    @classmethod
    def from_target(cls, target: WarehouseTarget) -> WarehouseIOManager:
        return cls(**_target_fields(target))

    def create_io_manager(self, context) -> DbIOManager:
        return _TransactionalDbIOManager(
            db_client=_WarehouseClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [WarehousePolarsTypeHandler()]

    @staticmethod
    def default_load_type() -> type:
        return pl.DataFrame


# --- pools --------------------------------------------------------------------------------------


def table_pool(assets_def: dg.AssetsDefinition) -> str:
    """The pool of one warehouse writer on DuckLake: its table (one asset), or its op (several)."""
    keys = list(assets_def.keys)
    name = ".".join(keys[0].path) if len(keys) == 1 else assets_def.node_def.name
    return f"warehouse/{name}"


def with_warehouse_pools(defs: dg.Definitions, target: WarehouseTarget) -> dg.Definitions:
    """On DuckLake, every asset of the single-slot :data:`WAREHOUSE_POOL` gets a pool of its own
    table instead (:func:`table_pool`); the file kind keeps the single slot. The assets themselves
    name :data:`WAREHOUSE_POOL` and know nothing of the kind.

    With the instance's ``default_limit: 1`` (deploy/dagster.yaml) each table then admits one step
    at a time, across runs and workers, and steps of different tables run together. A Celery
    deployment routes only :data:`WAREHOUSE_POOL` steps to the ``warehouse`` queue, so on DuckLake
    every worker takes warehouse writers.
    """
    if not target.is_lake:
        return defs
    assets = [
        _with_pool(a, table_pool(a))
        if isinstance(a, dg.AssetsDefinition)
        and a.is_executable
        and getattr(a.node_def, "pool", None) == WAREHOUSE_POOL
        else a
        for a in defs.assets or []
    ]
    from dagster_shared.record import copy as copy_record

    return copy_record(defs, assets=assets)


def _with_pool(assets_def: dg.AssetsDefinition, pool: str) -> dg.AssetsDefinition:
    op = copy.copy(assets_def.node_def)
    op._pool = pool
    return assets_def.__class__.dagster_internal_init(**{**assets_def.get_attributes_dict(), "node_def": op})
