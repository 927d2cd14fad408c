"""The one Definitions object of the code location. It only assembles what the layers export.

The environment is read once, when Dagster loads the code location (``@dg.definitions`` defers it
from import time to load time), and a wrong setting stops the load with a message that names
the variable and the fix.
"""

import os

import click
import dagster as dg

from cdp_platform.automation import automation_definitions, with_automation, with_mart_freshness_policies
from cdp_platform.automation.conditions import profile_after_the_day
from cdp_platform.cleansed import cleansed_assets
from cdp_platform.identity.assets import identity_map_asset
from cdp_platform.identity.sandbox_truth import truth_loader
from cdp_platform.io.resources import io_resources
from cdp_platform.io.warehouse import with_warehouse_pools
from cdp_platform.predictive.assets import predictive_assets
from cdp_platform.privacy.assets import privacy_definitions
from cdp_platform.privacy.pseudonymize import pseudonymized_definitions
from cdp_platform.profile.definitions import profile_definitions
from cdp_platform.settings import Settings, SettingsError, check_settings, load_settings
from cdp_platform.sources import raw_definitions
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.webhooks.config import WebhookConfig, WebhookConfigError, load_webhook_config
from cdp_platform.webhooks.definitions import webhook_definitions
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS


def build_definitions(settings: Settings, webhooks: WebhookConfig | None = None) -> dg.Definitions:
    """Every layer, and the jobs, schedules and sensors that run them; the marts' freshness policy.
    ``webhooks``: the event queue's configuration (``None``: the local Redis). On a DuckLake
    warehouse, each writer's pool is its table (``with_warehouse_pools``)."""
    return with_warehouse_pools(with_mart_freshness_policies(
        dg.Definitions.merge(
            layer_definitions(settings),
            automation_definitions(settings),
            privacy_definitions(settings),
            pseudonymized_definitions(settings),
            webhook_definitions(
                daily_partitions(settings.partitions_start), webhooks, production=settings.env == "production"
            ),
        ),
        settings,
    ), settings.warehouse)


def layer_definitions(settings: Settings) -> dg.Definitions:
    """The assets and resources of every layer, without automation (tests add their own)."""
    partitions = daily_partitions(settings.partitions_start)
    return dg.Definitions.merge(
        dg.Definitions(resources=io_resources(settings)),
        raw_definitions(settings),
        dg.Definitions(assets=with_automation(cleansed_assets(partitions, settings.default_phone_region))),
        profile_definitions(settings),
        # The Python steps of the profile follow the day like its dbt models (see the translator).
        dg.Definitions(
            assets=with_automation(
                [
                    identity_map_asset(truth_loader(settings), production=settings.env == "production"),
                    *predictive_assets(settings),
                ],
                profile_after_the_day(),
            )
        ),
    )


class ConfigurationError(click.ClickException):
    """A wrong or missing setting at load. The ``dagster`` command line (click) prints only
    ``Error: <message>`` for it, rather than a 70-line traceback ending in the message; a code
    server shows the message as the location's load error."""


@dg.definitions
def defs() -> dg.Definitions:
    try:
        settings = load_settings()
        check_settings(settings)
        webhooks = load_webhook_config(os.environ, WEBHOOK_SPECS)
    except (SettingsError, WebhookConfigError) as exc:
        raise ConfigurationError(str(exc)) from None
    return build_definitions(settings, webhooks)
