"""dbt-duckdb plugin of the ``ducklake`` profile target: opens the DuckLake as the platform does.

dbt-duckdb builds its own DuckDB connection; this plugin gives it what
:func:`cdp_platform.io.warehouse.connect_warehouse` gives every other writer: DuckLake's extensions
loaded from their PyPI packages (offline), the S3 credentials of the standard AWS chain, and the
DuckLake attached as ``lake`` with the platform's options (``DATA_PATH``, no data inlining). It
runs before dbt-duckdb's own ``attach`` list, whose ``lake`` entry in ``dbt/profiles.yml`` is then
a no-op that only tells dbt-duckdb the database is a DuckLake.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from cdp_platform.io.warehouse import lake_attach_sql, prepare_lake_connection
from cdp_platform.settings import load_settings


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # The same settings Dagster reads (CDP_WAREHOUSE, CDP_DUCKLAKE_*, CDP_S3_*): dagster-dbt
        # runs dbt with the code location's environment.
        target = load_settings().warehouse
        if not target.is_lake:
            raise RuntimeError(
                "the dbt target 'ducklake' needs CDP_WAREHOUSE=ducklake (with CDP_DUCKLAKE_CATALOG and "
                "CDP_DUCKLAKE_DATA_PATH); for the DuckDB file use the 'local' or 'production' target"
            )
        self.target = target

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        prepare_lake_connection(conn, self.target)
        conn.execute(lake_attach_sql(self.target))
