"""The profile layer: the dbt project (staging, intermediate, marts on DuckDB) as Dagster assets.

``profile_definitions(settings)`` returns the dbt assets and the ``dbt`` resource. The dbt
manifest is prepared at install (``scripts/bootstrap.sh``), not when the code location loads.
"""

from cdp_platform.profile.definitions import profile_definitions
from cdp_platform.profile.project import (
    DBT_PROJECT,
    ManifestMissingError,
    manifest_is_stale,
    prepare_manifest,
)
from cdp_platform.profile.translator import ProfileTranslator, profile_automation_condition

__all__ = [
    "DBT_PROJECT",
    "ManifestMissingError",
    "ProfileTranslator",
    "manifest_is_stale",
    "prepare_manifest",
    "profile_automation_condition",
    "profile_definitions",
]
