"""One crafted warehouse, built once per module by materializing the whole profile through Dagster."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from cdp_platform.profile import prepare_manifest, profile_definitions
from cdp_platform.settings import Settings, load_settings
from cdp_platform_tests.profile import warehouse


@dg.asset(key="identity_map", deps=["int_identity_candidates"], group_name="profile")
def identity_map(warehouse_db: DuckDBResource) -> None:
    """Stands in for the identity asset: the crafted resolution of the candidates dbt built."""
    with warehouse_db.get_connection() as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "select record_id from intermediate.int_identity_candidates order by record_id"
            ).fetchall()
        ]
        warehouse.write_table(connection, "identity", "identity_map", warehouse.identity_map_frame(ids))


@dg.asset(key="interaction_sentiment", deps=["int_interactions_unioned"], group_name="profile")
def interaction_sentiment(warehouse_db: DuckDBResource) -> None:
    with warehouse_db.get_connection() as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "select interaction_id from intermediate.int_interactions_unioned where text is not null"
            ).fetchall()
        ]
        warehouse.write_table(
            connection, "predictive", "interaction_sentiment", warehouse.sentiment_frame(ids)
        )


@dg.asset(key="client_scores", deps=["int_client_purchases"], group_name="profile")
def client_scores(warehouse_db: DuckDBResource) -> None:
    with warehouse_db.get_connection() as connection:
        clients = [
            row[0]
            for row in connection.execute(
                "select distinct client_id from intermediate.int_client_purchases where client_id is not null order by 1"
            ).fetchall()
        ]
        warehouse.write_table(connection, "predictive", "client_scores", warehouse.scores_frame(clients))


PYTHON_ASSETS = [identity_map, interaction_sentiment, client_scores]


@dataclass
class BuiltProfile:
    path: Path
    settings: Settings
    defs: dg.Definitions
    result: dg.ExecuteInProcessResult
    seconds: float

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def dicts(self, sql: str) -> list[dict]:
        with duckdb.connect(str(self.path), read_only=True) as connection:
            cursor = connection.execute(sql)
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def assets(self, name: str) -> dg.AssetsDefinition:
        return next(
            a for a in self.defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == name
        )

    def resources(self) -> dict:
        return {
            "dbt": self.defs.resources["dbt"],
            "warehouse_db": DuckDBResource(database=str(self.path)),
            # The dbt steps read each built model's row count and columns back from it.
            "warehouse": DuckDBResource(database=str(self.path)),
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltProfile]:
    """The crafted cleansed tables, then every unpartitioned dbt model and the three Python assets
    in one run: Dagster runs the dbt multi-asset on both sides of identity_map in one job."""
    prepare_manifest()
    path = tmp_path_factory.mktemp("profile") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        warehouse.write_cleansed(connection)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_WAREHOUSE_PATH", str(path))
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
        settings = load_settings({"CDP_WAREHOUSE_PATH": str(path), "CDP_PARTITIONS_START": "2025-01-01"})
        defs = profile_definitions(settings)
        models = next(a for a in defs.assets if a.node_def.name == "profile_dbt_models")
        profile = BuiltProfile(path, settings, defs, None, 0.0)  # type: ignore[arg-type]
        started = time.perf_counter()
        profile.result = dg.materialize([models, *PYTHON_ASSETS], resources=profile.resources())
        profile.seconds = time.perf_counter() - started
        yield profile
