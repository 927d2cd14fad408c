"""How dbt nodes become Dagster assets: keys, groups and automation, in one class.

dbt sources are the tables other Dagster assets write, so each source maps to that asset's key and
lineage runs unbroken from the raw layer to the marts: ``cleansed_<source>.<entity>`` is
``cleansed/<source>/<entity>``; ``identity.identity_map``, ``predictive.client_scores`` and
``predictive.interaction_sentiment`` are the Python assets ``identity_map``, ``client_scores`` and
``interaction_sentiment``. Models keep their names as keys (``stg_<source>__<entity>``,
``client_360``) and are grouped by folder: staging, intermediate, and profile for the marts; the seeds are reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from cdp_platform.automation.conditions import (
    REFERENCE_GROUP,
    profile_after_the_day,
    timeline_after_the_day,
)
from cdp_platform.cleansed.landed import SOURCES_LANDED_KEY
from cdp_platform.profile.column_descriptions import described_schema

CLEANSED_SOURCE_PREFIX = "cleansed_"
COLUMN_SCHEMA = "dagster/column_schema"
GROUP_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "profile"}


def profile_automation_condition() -> dg.AutomationCondition:
    """Rebuild an asset when something it reads was updated, never while it or its inputs run.

    For assets derived from the marts (the pseudonymized marts follow the marts and each erasure).
    The profile's own models follow the completed day instead (:meth:`ProfileTranslator.
    get_automation_condition`). Not ``eager()``: that also waits while any dependency is missing,
    which for an unpartitioned asset reading a daily-partitioned one means any missing day of history.
    ``in_progress`` guards are explicit because a dbt multi-asset runs many models per run.
    """
    return (
        dg.AutomationCondition.in_latest_time_window()
        & dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("profile_on_upstream_update")


def seed_automation_condition() -> dg.AutomationCondition:
    """Load a seed when the warehouse lacks it (a new deployment: staging cannot be built before)
    or when its file changed (dagster-dbt's code version is the file's checksum); never daily."""
    return (
        (dg.AutomationCondition.missing() | dg.AutomationCondition.code_version_changed())
        & ~dg.AutomationCondition.in_progress()
    ).with_label("seed_missing_or_changed")


class ProfileTranslator(DagsterDbtTranslator):
    """Keys, groups and automation for the cdp_platform dbt project; dbt tests become asset checks."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        """Every column of a model's schema says what it holds (:mod:`cdp_platform.profile.column_descriptions`).

        The incremental (daily-partitioned) models also depend on the cleansed tables they read
        through the models between: the timeline's window D holds the interactions of cleansed
        partition D. Without these edges Dagster cannot reach the timeline from the cleansed layer
        through partitioned assets only, and a backfill of chosen partitions (the UI's "Materialize
        all" with all partitions picked) leaves it out of its target altogether (measured: 77 of 78
        assets targeted, the timeline missing, and its pseudonymized copy then failing)."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        schema = spec.metadata.get(COLUMN_SCHEMA)
        if schema is not None:
            described = described_schema(schema, manifest, unique_id)
            spec = spec.replace_attributes(metadata={**spec.metadata, COLUMN_SCHEMA: described})
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "model" and self.get_group_name(props) == "staging":
            # Every staging model starts after the whole range landed from every source
            # (cdp_platform.cleansed.landed), so a backfill requests the profile once.
            return spec.merge_attributes(deps=[dg.AssetDep(SOURCES_LANDED_KEY)])
        if (
            props.get("resource_type") != "model"
            or props.get("config", {}).get("materialized") != "incremental"
        ):
            return spec
        parents = manifest.get("parent_map", {})
        seen, stack, cleansed = set(), list(parents.get(unique_id, [])), set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node.startswith("source."):
                key = self.get_asset_key(manifest["sources"][node])
                if key.path[0] == "cleansed":
                    cleansed.add(key)
            else:
                stack.extend(parents.get(node, []))
        present = {dep.asset_key for dep in spec.deps}
        extra = [dg.AssetDep(key) for key in sorted(cleansed - present, key=lambda k: k.path)]
        return spec.merge_attributes(deps=extra) if extra else spec

    def get_asset_check_spec(
        self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetCheckSpec | None:
        """dbt's tests as asset checks, without the seeds a test reads among the check's deps.

        ``iso_country_code`` reads the ``country_spellings`` seed. Dagster splits a run's dbt step
        where a check depends on an asset the run does not build: in the profile's run (the seeds
        are loaded by a run of their own) that put the one test of ``int_identity_candidates`` in a
        dbt invocation of its own, after identity resolution's inputs (measured: 20 s of a 250 s run
        for one test). The seeds are in the same dbt multi-asset as every model and test, so dbt
        itself orders a seed before its tests whenever both are built together."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        nodes = manifest.get("nodes", {})
        seeds = {
            self.get_asset_key(nodes[parent])
            for parent in manifest.get("parent_map", {}).get(unique_id, [])
            if parent.startswith("seed.") and parent in nodes
        }
        if not seeds & {dep.asset_key for dep in spec.additional_deps}:
            return spec
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=[dep for dep in spec.additional_deps if dep.asset_key not in seeds],
            metadata=spec.metadata,
            blocking=spec.blocking,
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            source_name: str = dbt_resource_props["source_name"]
            table: str = dbt_resource_props["name"]
            if source_name.startswith(CLEANSED_SOURCE_PREFIX):
                return dg.AssetKey(["cleansed", source_name.removeprefix(CLEANSED_SOURCE_PREFIX), table])
            return dg.AssetKey([table])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            # Reference data (ISO countries) that staging reads: its own group, outside the
            # profile's daily chain (cdp_platform.automation.conditions.PROFILE_GROUPS), which
            # waits for every input to be rebuilt since the day's tick.
            return REFERENCE_GROUP
        fqn: list[str] = dbt_resource_props.get("fqn", [])
        folder = fqn[1] if len(fqn) > 2 else None
        return GROUP_BY_FOLDER.get(folder or "")

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        """Once a day, after every source of the day is in (``cdp_platform.automation.conditions``):
        the incremental models, which are the daily-partitioned ones (``cdp_platform.profile.assets``),
        rebuild the completed day's window after the models they read were rebuilt."""
        if dbt_resource_props["resource_type"] == "seed":
            return seed_automation_condition()
        if dbt_resource_props["resource_type"] != "model":
            return None
        if dbt_resource_props.get("config", {}).get("materialized") == "incremental":
            return timeline_after_the_day()
        return profile_after_the_day()
