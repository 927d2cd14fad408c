"""How dbt nodes become Dagster assets: keys, groups and automation, in one class.

dbt sources are the tables other Dagster assets write, so each source maps to that asset's key and
lineage runs unbroken from the raw layer to the marts: ``cleansed_<source>.<entity>`` is
``cleansed/<source>/<entity>``; ``identity.identity_map``, ``predictive.client_scores`` and
``predictive.interaction_sentiment`` are the Python assets ``identity_map``, ``client_scores`` and
``interaction_sentiment``. Models keep their names as keys (``stg_hubspot__contacts``,
``client_360``) and are grouped by folder: staging, intermediate, and profile for the marts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

CLEANSED_SOURCE_PREFIX = "cleansed_"
GROUP_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "profile"}


def profile_automation_condition() -> dg.AutomationCondition:
    """Rebuild a model when something it reads was updated, never while it or its inputs run.

    Dagster's ``eager()`` also waits while any dependency is missing, which for an unpartitioned
    model reading a daily-partitioned cleansed table means any missing day of history: the profile
    would never build. A model also does not start from "missing" alone: a source table only
    exists once its cleansed asset has run, so the first build waits for the first update.
    ``in_progress`` guards are explicit because a dbt multi-asset runs many models per run.
    """
    return (
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("profile_on_upstream_update")


class ProfileTranslator(DagsterDbtTranslator):
    """Keys, groups and automation for the cdp_platform dbt project; dbt tests become asset checks."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            source_name: str = dbt_resource_props["source_name"]
            table: str = dbt_resource_props["name"]
            if source_name.startswith(CLEANSED_SOURCE_PREFIX):
                return dg.AssetKey(["cleansed", source_name.removeprefix(CLEANSED_SOURCE_PREFIX), table])
            return dg.AssetKey([table])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn: list[str] = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else None
        return GROUP_BY_FOLDER.get(folder or "")

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] != "model":
            return None
        return profile_automation_condition()
