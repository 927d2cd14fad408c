"""The whole Definitions: loads, and its asset graph matches the stored snapshot.

An accidental change of keys, groups, dependencies, partitions or checks shows up here in review.
After an intended change, regenerate the snapshot with
``CDP_UPDATE_SNAPSHOTS=1 bash scripts/test.sh cdp_platform_tests/test_definitions.py``; that run
writes the file and fails on purpose (a comparison with what it just wrote would prove nothing), so
run the test again without the variable to see it pass against the new snapshot.
"""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(definition: dg.PartitionsDefinition | None) -> str | None:
    if definition is None:
        return None
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return f"{type(definition).__name__}(start={definition.start.date().isoformat()}, tz={definition.timezone}, end_offset={definition.end_offset})"
    return type(definition).__name__


def asset_graph(defs: dg.Definitions) -> dict:
    graph = {}
    for assets_def in defs.assets or []:
        if not isinstance(assets_def, dg.AssetsDefinition):
            continue
        checks_by_asset: dict[str, list[str]] = {}
        for check in assets_def.check_specs:
            checks_by_asset.setdefault(check.asset_key.to_user_string(), []).append(check.name)
        for spec in assets_def.specs:
            key = spec.key.to_user_string()
            graph[key] = {
                "group": spec.group_name,
                "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
                "partitions": _partitions(assets_def.partitions_def),
                "checks": sorted(checks_by_asset.get(key, [])),
                "kinds": sorted(spec.kinds),
                "pool": assets_def.node_def.pool if assets_def.is_executable else None,
            }
    return dict(sorted(graph.items()))


def test_definitions_load_and_validate():
    defs = build_definitions(load_settings({}))
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_all_job_defs()


def test_asset_graph_matches_snapshot():
    # The first partition is pinned: unset, it follows the sandbox's history, which ends today.
    current = asset_graph(build_definitions(load_settings({"CDP_PARTITIONS_START": "2024-11-01"})))
    if os.environ.get("CDP_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        pytest.fail(f"wrote {SNAPSHOT.name}; review its diff, then run again without CDP_UPDATE_SNAPSHOTS")
    stored = json.loads(SNAPSHOT.read_text())
    assert current == stored, (
        "the asset graph changed; if intended, regenerate the snapshot (see module docstring)"
    )
