"""The profile layer's definitions: the dbt assets and the dbt CLI resource they run with."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from cdp_platform.profile.assets import build_dbt_assets
from cdp_platform.profile.project import DBT_PROJECT, dbt_executable, require_manifest
from cdp_platform.settings import Settings
from cdp_platform.sources.partitions import daily_partitions


def profile_definitions(settings: Settings, project: DbtProject = DBT_PROJECT) -> dg.Definitions:
    """The dbt models as assets, partitioned like the layers below, with ``dbt`` as resource.

    dbt finds the warehouse through ``CDP_WAREHOUSE_PATH`` itself (``dbt/profiles.yml``), the
    variable ``settings.warehouse_path`` was read from; the target is ``settings.dbt_target``.
    """
    require_manifest(project)
    return dg.Definitions(
        assets=build_dbt_assets(project, daily_partitions(settings.partitions_start)),
        resources={
            "dbt": DbtCliResource(
                project_dir=project, target=settings.dbt_target, dbt_executable=dbt_executable()
            )
        },
    )
