"""The profile waits until every source of the day is in, then rebuilds once, the timeline last.

Evaluated on the real definitions with a real (ephemeral) instance: the cleansed partitions "land"
as materialization events, and the automation conditions are evaluated at given times of day.
"""

from __future__ import annotations

import datetime

import dagster as dg
import pytest

from cdp_platform.automation.conditions import PROFILE_GROUPS
from cdp_platform.cleansed.landed import SOURCES_LANDED_KEY
from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings
from cdp_platform.sources import SOURCES

SETTINGS = load_settings({"CDP_PARTITIONS_START": "2026-11-01"})
DAY = "2026-11-25"  # the day that ended; its sources land from 01:05 on the 26th
TODAY = "2026-11-26"
TIMELINE = dg.AssetKey("client_interactions")
LATE_SOURCE = "twitter"


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=datetime.UTC)


class Evaluations:
    """Successive evaluations of every automation condition, as the automation sensor ticks."""

    def __init__(self, defs: dg.Definitions) -> None:
        self.defs = defs
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor = None

    def at(self, moment: datetime.datetime) -> dict[dg.AssetKey, set[str] | None]:
        """What is requested at ``moment``: partitions per partitioned asset, None for the others."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=moment
        )
        self.cursor = result.cursor
        graph = self.defs.resolve_asset_graph()
        return {
            key: set(result.get_requested_partitions(key)) if graph.get(key).partitions_def else None
            for key in graph.get_all_asset_keys()
            if result.get_num_requested(key)
        }

    def land(self, key: dg.AssetKey, partition: str | None = None) -> None:
        self.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(SETTINGS)


def test_the_profile_waits_for_every_source_of_the_day_then_builds_once(defs):
    graph = defs.resolve_asset_graph()
    profile = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name in PROFILE_GROUPS}
    staging = {k for k in profile if graph.get(k).group_name == "staging"}
    # What the staging models read: one cleansed table each, of every source (and the reference
    # seeds of ISO countries, outside the profile's groups, loaded when missing or changed).
    reference = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "reference"}
    assert reference == {dg.AssetKey("country_spellings"), dg.AssetKey("iso_3166_countries")}
    # A staging view per cleansed table; the rest of the staging group are the sources'
    # contributions to the intermediate unions, which read only their own source's views.
    entity_views = {
        key for key in staging if any(parent.path[0] == "cleansed" for parent in graph.get(key).parent_keys)
    }
    contributions = staging - entity_views
    # Every staging model also follows sources_landed (a backfill's range landed from every
    # source), which its automation condition does not wait for.
    assert all(SOURCES_LANDED_KEY in graph.get(key).parent_keys for key in staging)
    sources = (
        {parent for key in entity_views for parent in graph.get(key).parent_keys}
        - reference
        - {SOURCES_LANDED_KEY}
    )
    assert {key.path[0] for key in sources} == {"cleansed"} and len(sources) == len(entity_views) == 17
    assert contributions and all(
        set(graph.get(key).parent_keys) - {SOURCES_LANDED_KEY}
        <= {k for k in entity_views if k.path[0].split("__")[0] == key.path[0].split("__")[0]}
        for key in contributions
    ), contributions
    late = {key for key in sources if key.path[1] == LATE_SOURCE}
    unpartitioned = {k for k in profile if graph.get(k).partitions_def is None}
    assert unpartitioned == profile - {TIMELINE}
    # The gate holds for whichever source is late: every step past staging reads all six, through
    # the chain of conditions (each waits for its own inputs).
    for key in profile - staging:
        upstream = dg.AssetSelection.assets(key).upstream().resolve(graph)
        assert {k.path[1] for k in upstream & sources} == set(SOURCES), key

    runs = Evaluations(defs)
    # The first evaluation records the profile's state only. On a new deployment the seeds are
    # missing: they are requested at once (they do not wait for the day), then not again.
    assert set(runs.at(at(26, 0, 30))) == reference
    for key in reference:
        runs.land(key)
    assert not runs.at(at(26, 0, 40))

    # Five sources land the day; the late one only refreshed today's partition (a CRM-style update).
    for key in sources - late:
        runs.land(key, DAY)
    for key in late:
        runs.land(key, TODAY)
    waiting = runs.at(at(26, 1, 40))
    # A source's staging view may follow it, but nothing that joins the sources runs yet.
    assert set(waiting) <= staging - {k for k in staging if k.path[0].startswith(f"stg_{LATE_SOURCE}__")}
    assert not set(waiting) & (profile - staging)
    for key in waiting:
        runs.land(key)
    assert not set(runs.at(at(26, 1, 45))) & profile

    # The last source lands: everything unpartitioned is requested, in one evaluation.
    for key in late:
        runs.land(key, DAY)
    requested = runs.at(at(26, 1, 55))
    assert set(requested) & profile == unpartitioned - set(waiting)
    assert TIMELINE not in requested  # it reads identity_map, which is rebuilt in this run

    for key in requested:
        runs.land(key)
    # Then the timeline rebuilds the completed day's window, and only that.
    assert runs.at(at(26, 2, 10)).get(TIMELINE) == {DAY}
    runs.land(TIMELINE, DAY)
    assert not set(runs.at(at(26, 2, 20))) & profile
    # The day rolls over: nothing is rebuilt until the next day's sources are in.
    assert not set(runs.at(at(27, 0, 30))) & profile
    assert not set(runs.at(at(27, 1, 30))) & profile
