"""The marts of a small sandbox, built once per test session for the consent and pseudonymization tests.

Every layer is the platform's own: the raw assets fetch two days of history from the in-process
sandbox through the vendor clients, the cleansed assets type them, dbt builds staging and
intermediate, the real ``identity_map`` and ``interaction_sentiment`` (graded on the sandbox's
labels, as the definitions wire it) run, dbt builds the marts and the pseudonymized marts follow.
To keep it quick, dbt runs twice (seeds and models, without their tests: ``cdp_platform_tests/profile`` runs
those) instead of once per Dagster step, and ``client_scores``, which two days of purchases cannot
support, is an empty table. The Dagster instance keeps its event log under ``root/dagster_home``,
so a test can search what the runs wrote (the erasure test copies the whole folder).

Import the fixture ``sandbox_marts`` into a test module. The build is cached for the session, so
every module that uses it shares one.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_dbt import DbtCliResource
from filelock import FileLock

from cdp_platform.definitions import build_definitions
from cdp_platform.predictive.assets import PREDICTIVE_SCHEMA, SCORES_SCHEMA
from cdp_platform.profile import prepare_manifest
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.settings import Settings, load_settings
from cdp_platform_tests.sources.support import SANDBOX_TODAY, sandbox_environ

PERSONS = 300
SPAN_DAYS = 1
DAGSTER_HOME = "dagster_home"


def build_days() -> list[str]:
    """The partitions the build lands, oldest first."""
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    return [(today - datetime.timedelta(days=n)).isoformat() for n in range(SPAN_DAYS, -1, -1)]


def build_environ(root: Path) -> dict[str, str]:
    """The build's environment for a copy of it at ``root`` (the build's own root included)."""
    return {
        **sandbox_environ(root, PERSONS, SPAN_DAYS, partitions_start=build_days()[0]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


@dataclass
class SandboxMarts:
    root: Path
    environ: dict[str, str]
    settings: Settings
    defs: dg.Definitions
    data: SandboxData
    sentiment: dg.AssetMaterialization
    seconds: dict[str, float]

    @property
    def warehouse(self) -> Path:
        return self.settings.warehouse_path

    @property
    def dagster_home(self) -> Path:
        return self.root / DAGSTER_HOME

    def frame(self, sql: str) -> pl.DataFrame:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(sql).pl()


_BUILT: dict[str, SandboxMarts] = {}


def _build(root: Path) -> SandboxMarts:
    seconds: dict[str, float] = {}
    lap = time.perf_counter()

    def timed(step: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        seconds[step] = round(now - lap, 2)
        lap = now

    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    days = build_days()
    environ = build_environ(root)
    prepare_manifest()
    settings = load_settings(environ)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    raw = [k for k in graph.get_all_asset_keys() if k.path[0] == "raw" and graph.get(k).is_materializable]
    cleansed = [k for k in graph.get_all_asset_keys() if k.path[0] == "cleansed"]
    jobs = dg.Definitions.merge(
        defs,
        dg.Definitions(
            jobs=[
                dg.define_asset_job("raw", selection=raw),
                dg.define_asset_job("cleansed", selection=cleansed),
            ]
        ),
    )
    (root / DAGSTER_HOME).mkdir()
    instance = dg.DagsterInstance.local_temp(str(root / DAGSTER_HOME))
    window = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    timed("definitions")
    for day in days:
        assert jobs.resolve_job_def("raw").execute_in_process(partition_key=day, instance=instance).success
    timed("raw")
    assert jobs.resolve_job_def("cleansed").execute_in_process(tags=window, instance=instance).success
    timed("cleansed")

    saved = {name: os.environ.get(name) for name in environ}
    os.environ.update(environ)  # dbt finds the warehouse through CDP_WAREHOUSE_PATH (profiles.yml)
    try:
        dbt: DbtCliResource = defs.resources["dbt"]
        # As the definitions wire them (sentiment graded on the sandbox's labels).
        identity_map = defs.resolve_assets_def(dg.AssetKey("identity_map"))
        sentiment = defs.resolve_assets_def(dg.AssetKey("interaction_sentiment"))
        # dbt, then the Python assets that read its models, then the rest of dbt. The seeds
        # first, in the same invocation (build in graph order, seeds and models only): staging
        # reads them (ISO country codes).
        targets = root.with_name(root.name + "_dbt")  # beside the build, which tests copy whole
        build = ["build", "--resource-type", "seed", "--resource-type", "model"]
        first = dbt.cli(
            [
                *build,
                "--select",
                "resource_type:seed staging int_identity_candidates int_interactions_unioned",
            ],
            raise_on_error=True,
            target_path=targets / "staging",
        ).wait()
        # The marts' invocation starts from the project this one parsed for this warehouse (dbt's
        # partial parse), instead of parsing it again: the profile, hence the saved parse that
        # dagster-dbt copies from dbt/target, is another warehouse's.
        (targets / "marts").mkdir(parents=True, exist_ok=True)
        shutil.copy(first.target_path / "partial_parse.msgpack", targets / "marts")
        timed("dbt staging and intermediate")
        # Resolved from the definitions, they carry their resources already.
        result = dg.materialize([identity_map, sentiment], instance=instance)
        timed("identity_map and interaction_sentiment")
        # Two days of purchases cannot support a CLV fit (client_scores would write null predictions
        # after a third dbt run): an empty scores table, in the real asset's columns, stands in.
        empty = pl.DataFrame(schema=SCORES_SCHEMA).to_arrow()  # noqa: F841  (read by DuckDB by name)
        with duckdb.connect(str(settings.warehouse_path)) as connection:
            connection.execute(f"create schema if not exists {PREDICTIVE_SCHEMA}")
            connection.execute(
                f"create or replace table {PREDICTIVE_SCHEMA}.client_scores as select * from empty"
            )
        dbt.cli(
            ["run", "--select", "source:identity+ source:predictive+ marts"],
            raise_on_error=True,
            target_path=targets / "marts",
        ).wait()
        timed("dbt marts")
        graph = defs.resolve_asset_graph()
        pseudonymized = [k for k in graph.get_all_asset_keys() if k.path[0] == "pseudonymized"]
        assets = list({id(a): a for a in map(defs.resolve_assets_def, pseudonymized)}.values())
        assert dg.materialize(assets, instance=instance, selection=pseudonymized).success
        timed("pseudonymized marts")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    sentiment = result.asset_materializations_for_node("interaction_sentiment")[0]
    data = SandboxData(
        SandboxConfig(persons=PERSONS, seed=settings.sandbox.seed, today=today, span_days=SPAN_DAYS)
    )
    return SandboxMarts(root, environ, settings, defs, data, sentiment, seconds)


def _load(root: Path, seconds: dict[str, float]) -> SandboxMarts:
    """The build another pytest-xdist worker made at ``root``, opened read-only: its settings and
    definitions rebuilt from its environment, the sentiment's materialization read from its event log."""
    environ = build_environ(root)
    prepare_manifest()
    settings = load_settings(environ)
    instance = dg.DagsterInstance.from_config(str(root / DAGSTER_HOME))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey("interaction_sentiment"))
    finally:
        instance.dispose()
    assert event is not None and event.asset_materialization is not None, f"no sentiment in {root}"
    today = datetime.date.fromisoformat(SANDBOX_TODAY)
    data = SandboxData(
        SandboxConfig(persons=PERSONS, seed=settings.sandbox.seed, today=today, span_days=SPAN_DAYS)
    )
    defs = build_definitions(settings)
    return SandboxMarts(root, environ, settings, defs, data, event.asset_materialization, seconds)


@pytest.fixture(scope="session")
def sandbox_marts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxMarts]:
    """Built once per test session. Under pytest-xdist the workers share one build: the first to
    ask builds it under a file lock in the session's common temporary folder, the others wait and
    open it (every user reads it, or copies it before writing), so two cores do not build it twice."""
    if "built" not in _BUILT:
        if os.environ.get("PYTEST_XDIST_WORKER") is None:
            _BUILT["built"] = _build(tmp_path_factory.mktemp("sandbox_marts"))
        else:
            shared = tmp_path_factory.getbasetemp().parent / "sandbox_marts"
            done = shared.parent / "sandbox_marts.json"  # outside the build: the erasure test copies it whole
            with FileLock(str(shared) + ".lock"):
                if done.exists():
                    _BUILT["built"] = _load(shared, json.loads(done.read_text()))
                else:
                    if shared.exists():  # a build that failed in another worker: start again
                        shutil.rmtree(shared)
                    shared.mkdir()
                    built = _build(shared)
                    done.write_text(json.dumps(built.seconds))
                    _BUILT["built"] = built
    yield _BUILT["built"]
