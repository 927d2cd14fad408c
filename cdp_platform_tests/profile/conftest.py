"""One crafted warehouse, built once per test session by materializing the whole profile through
Dagster; each module works on its own copy of it.

Under pytest-xdist the two workers share the build: the first to ask builds it under a file lock in
the session's common temporary folder and records the run's outcome (success, every asset check's
evaluation) beside it; the other opens it. A module's ``built`` is a copy, so a test that writes
(the timeline's partitions) never holds the file another worker reads.
"""

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._serdes import deserialize_value, serialize_value
from dagster_duckdb import DuckDBResource
from filelock import FileLock

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
class BuildOutcome:
    """What the build's run reported: whether it succeeded and every asset check's evaluation."""

    success: bool
    evaluations: list[dg.AssetCheckEvaluation]


@dataclass
class BuiltProfile:
    path: Path
    settings: Settings
    defs: dg.Definitions
    result: BuildOutcome
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


def _settings(path: Path) -> Settings:
    return load_settings({"CDP_WAREHOUSE_PATH": str(path), "CDP_PARTITIONS_START": "2025-01-01"})


def _build(path: Path) -> tuple[BuildOutcome, float]:
    """The crafted cleansed tables, then every unpartitioned dbt model and the three Python assets
    in one run: Dagster runs the dbt multi-asset on both sides of identity_map in one job."""
    with duckdb.connect(str(path)) as connection:
        warehouse.write_cleansed(connection)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_WAREHOUSE_PATH", str(path))
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
        defs = profile_definitions(_settings(path))
        models = next(a for a in defs.assets if a.node_def.name == "profile_dbt_models")
        started = time.perf_counter()
        result = dg.materialize(
            [models, *PYTHON_ASSETS], resources=BuiltProfile(path, None, defs, None, 0.0).resources()
        )  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    return BuildOutcome(result.success, list(result.get_asset_check_evaluations())), seconds


_PRISTINE: dict[str, tuple[Path, BuildOutcome, float]] = {}


def _pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildOutcome, float]:
    """The session's one build: its warehouse file, the run's outcome and its seconds."""
    if "built" in _PRISTINE:
        return _PRISTINE["built"]
    prepare_manifest()
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        path = tmp_path_factory.mktemp("profile") / "warehouse.duckdb"
        _PRISTINE["built"] = (path, *_build(path))
        return _PRISTINE["built"]
    folder = tmp_path_factory.getbasetemp().parent / "profile_build"
    record = folder.parent / "profile_build.json"
    with FileLock(str(folder) + ".lock"):
        if record.exists():
            saved = json.loads(record.read_text())
            outcome = BuildOutcome(saved["success"], deserialize_value(saved["evaluations"], list))
            _PRISTINE["built"] = (folder / "warehouse.duckdb", outcome, saved["seconds"])
        else:
            if folder.exists():  # a build that failed in another worker: start again
                shutil.rmtree(folder)
            folder.mkdir()
            outcome, seconds = _build(folder / "warehouse.duckdb")
            record.write_text(
                json.dumps(
                    {
                        "success": outcome.success,
                        "evaluations": serialize_value(outcome.evaluations),
                        "seconds": seconds,
                    }
                )
            )
            _PRISTINE["built"] = (folder / "warehouse.duckdb", outcome, seconds)
    return _PRISTINE["built"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltProfile]:
    """A copy of the session's build for this module, with dbt pointed at it (CDP_WAREHOUSE_PATH)."""
    pristine, outcome, seconds = _pristine(tmp_path_factory)
    path = tmp_path_factory.mktemp("profile") / "warehouse.duckdb"
    shutil.copy(pristine, path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDP_WAREHOUSE_PATH", str(path))
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
        settings = _settings(path)
        yield BuiltProfile(path, settings, profile_definitions(settings), outcome, seconds)
