"""The one Definitions object of the code location. It only assembles what the layers export.

The environment is read once, when Dagster loads the code location (``@dg.definitions`` defers it
from import time to load time), and a wrong setting stops the load with a message that names
the variable and the fix.
"""

import dagster as dg

from cdp_platform.automation import automation_definitions, with_automation
from cdp_platform.cleansed import cleansed_assets
from cdp_platform.identity.assets import identity_map
from cdp_platform.io.resources import io_resources
from cdp_platform.predictive.assets import PREDICTIVE_ASSETS
from cdp_platform.profile.definitions import profile_definitions
from cdp_platform.settings import Settings, check_settings, load_settings
from cdp_platform.sources import raw_definitions
from cdp_platform.sources.partitions import daily_partitions


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every layer, and the jobs, schedules and sensors that run them."""
    return dg.Definitions.merge(layer_definitions(settings), automation_definitions(settings))


def layer_definitions(settings: Settings) -> dg.Definitions:
    """The assets and resources of every layer, without automation (tests add their own)."""
    partitions = daily_partitions(settings.partitions_start)
    return dg.Definitions.merge(
        dg.Definitions(resources=io_resources(settings)),
        raw_definitions(settings),
        dg.Definitions(assets=with_automation(cleansed_assets(partitions, settings.default_phone_region))),
        profile_definitions(settings),
        dg.Definitions(assets=[identity_map, *PREDICTIVE_ASSETS]),
    )


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    check_settings(settings)
    return build_definitions(settings)
