"""The profile's Dagster wiring, without running dbt: keys, groups, lineage, partitions, pools."""

import os

import dagster as dg
import pytest
from dagster_dbt import DbtProject

from cdp_platform.automation.conditions import profile_after_the_day, timeline_after_the_day
from cdp_platform.definitions import build_definitions
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.profile import (
    DBT_PROJECT,
    ManifestMissingError,
    profile_automation_condition,
    profile_definitions,
)
from cdp_platform.profile.assets import dbt_environment, keep_parse_state, partition_window_vars
from cdp_platform.profile.project import manifest_is_stale
from cdp_platform.settings import load_settings


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    settings = load_settings({})
    return build_definitions(settings)


def test_merged_with_the_layers_below_loads(defs: dg.Definitions):
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_all_job_defs()


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    stack = [key]
    while stack:
        for parent in graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_lineage_runs_from_the_cleansed_assets_to_the_marts(defs: dg.Definitions):
    from cdp_platform.cleansed import ENTITIES

    graph = defs.resolve_asset_graph()
    upstream = _ancestors(graph, dg.AssetKey("client_360"))
    cleansed = {dg.AssetKey(e.asset_path) for e in ENTITIES}
    assert cleansed <= upstream
    assert {
        dg.AssetKey("identity_map"),
        dg.AssetKey("client_scores"),
        dg.AssetKey("interaction_sentiment"),
    } <= upstream
    # The cleansed keys are the cleansed layer's own materializable assets, not stand-ins.
    assert all(graph.get(k).is_materializable for k in cleansed)
    # Every raw asset: the issue's "client_360's upstream reaches every raw asset".
    raw = {dg.AssetKey(e.raw_path) for e in ENTITIES}
    assert len(raw) == 17  # the 14 streams of the six sandbox vendors and Stripe's 3
    assert raw <= upstream


def test_groups_partitions_and_pool(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("stg_hubspot__contacts")).group_name == "staging"
    assert graph.get(dg.AssetKey("int_identity_candidates")).group_name == "intermediate"
    for mart in ("client_360", "client_interactions", "client_identities"):
        assert graph.get(dg.AssetKey(mart)).group_name == "profile"
    assert graph.get(dg.AssetKey("client_360")).partitions_def is None
    timeline = graph.get(dg.AssetKey("client_interactions")).partitions_def
    assert timeline == graph.get(dg.AssetKey(["cleansed", "hubspot", "contacts"])).partitions_def
    dbt_defs = [
        a
        for a in defs.assets
        if isinstance(a, dg.AssetsDefinition) and a.node_def.name.startswith("profile_dbt")
    ]
    assert len(dbt_defs) == 2
    assert {a.node_def.pool for a in dbt_defs} == {WAREHOUSE_POOL}


def _nodes(condition: dg.AutomationCondition):
    yield condition
    for child in condition.children:
        yield from _nodes(child)


def test_every_model_automates_with_the_in_progress_guard(defs: dg.Definitions):
    # The models follow the completed day (cdp_platform_tests/automation/test_profile_day.py tests
    # how); the incremental timeline, daily-partitioned, rebuilds that day's window.
    graph = defs.resolve_asset_graph()
    for key in ("stg_twitter__mentions", "int_interactions_unioned", "client_360"):
        assert graph.get(dg.AssetKey(key)).automation_condition == profile_after_the_day()
    assert graph.get(dg.AssetKey("client_interactions")).automation_condition == timeline_after_the_day()
    for condition in (profile_after_the_day(), timeline_after_the_day(), profile_automation_condition()):
        nodes = list(_nodes(condition))
        assert ~dg.AutomationCondition.in_progress() in nodes
        assert ~dg.AutomationCondition.any_deps_in_progress() in nodes
        # Not eager(): that waits for every day of cleansed history to exist.
        assert ~dg.AutomationCondition.any_deps_missing() not in nodes


def test_dbt_tests_are_asset_checks(defs: dg.Definitions):
    graph = defs.resolve_asset_graph()
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == dg.AssetKey("client_360")}
    assert "unique_client_360_client_id" in checks
    assert "relationships_client_360_client_id__client_id__source_identity_identity_map_" in checks


def test_partition_window_vars_only_for_partitioned_runs():
    calls = []

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2025-01-01"))
    def windowed(context: dg.AssetExecutionContext) -> None:
        calls.append(partition_window_vars(context))

    @dg.asset
    def whole(context: dg.AssetExecutionContext) -> None:
        calls.append(partition_window_vars(context))

    assert dg.materialize([windowed], partition_key="2025-03-20").success
    assert dg.materialize([whole]).success
    assert calls == [{"min_date": "2025-03-20", "max_date": "2025-03-21"}, {}]


def test_missing_manifest_names_the_fix(tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: x\nprofile: x\n")
    project = DbtProject(project_dir=tmp_path, profiles_dir=tmp_path)
    with pytest.raises(ManifestMissingError, match=r"bootstrap\.sh"):
        profile_definitions(load_settings({}), project=project)


def test_manifest_staleness(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    assert manifest_is_stale(tmp_path)
    manifest = tmp_path / "target" / "manifest.json"
    manifest.write_text("{}")
    assert not manifest_is_stale(tmp_path)
    later = manifest.stat().st_mtime + 5
    os.utime(model, (later, later))
    assert manifest_is_stale(tmp_path)
    assert DBT_PROJECT.manifest_path.exists()


def test_a_full_parse_is_kept_for_the_next_invocation(tmp_path, monkeypatch):
    project, invocation = tmp_path / "dbt", tmp_path / "dbt" / "target" / "profile_dbt_models-abc"
    invocation.mkdir(parents=True)
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    shared = project / "target" / "partial_parse.msgpack"
    keep_parse_state(invocation, project)  # dbt left no state: nothing to keep
    assert not shared.exists()
    (invocation / "partial_parse.msgpack").write_bytes(b"state for this warehouse")
    shared.write_bytes(b"state for another warehouse")
    keep_parse_state(invocation, project)
    assert shared.read_bytes() == b"state for this warehouse"
    assert sorted(p.name for p in shared.parent.iterdir()) == [
        "partial_parse.msgpack",
        "profile_dbt_models-abc",
    ]
    # An absolute DBT_TARGET_PATH is where dagster-dbt takes the state from.
    elsewhere = tmp_path / "home" / "dbt_target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(elsewhere))
    keep_parse_state(invocation, project)
    assert (elsewhere / "partial_parse.msgpack").read_bytes() == b"state for this warehouse"


def test_the_dbt_environment_is_restored(monkeypatch):
    monkeypatch.setenv("CDP_TIMELINE_MIN_DATE", "2025-01-01")
    monkeypatch.delenv("CDP_TIMELINE_MAX_DATE", raising=False)
    with dbt_environment({"CDP_TIMELINE_MIN_DATE": "2025-03-20", "CDP_TIMELINE_MAX_DATE": "2025-03-21"}):
        assert (os.environ["CDP_TIMELINE_MIN_DATE"], os.environ["CDP_TIMELINE_MAX_DATE"]) == (
            "2025-03-20",
            "2025-03-21",
        )
    assert os.environ["CDP_TIMELINE_MIN_DATE"] == "2025-01-01"
    assert "CDP_TIMELINE_MAX_DATE" not in os.environ
