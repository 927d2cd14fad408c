"""The one Definitions object of the code location. It only assembles what the layers export.

The environment is read once, when Dagster loads the code location (``@dg.definitions`` defers it
from import time to load time), and a wrong setting stops the load with a message that names
the variable and the fix.

The bundled sandbox is wired in at one place, :func:`local_wiring`, and only when some vendor has
no base URL (the local default): a production code location never imports ``cdp_platform.sandbox``.
"""

import os
from typing import Any

import click
import dagster as dg

from cdp_platform.automation import automation_definitions, with_automation, with_mart_freshness_policies
from cdp_platform.automation.conditions import day_landed_everywhere, profile_after_the_day
from cdp_platform.automation.ducklake_maintenance import ducklake_maintenance_definitions
from cdp_platform.cleansed import cleansed_assets, cleansed_table_keys
from cdp_platform.cleansed.landed import sources_landed_asset
from cdp_platform.identity.assets import identity_map_asset
from cdp_platform.identity.grading import IDENTITY_TRUTH_KEY, IdentityTruth
from cdp_platform.io.resources import io_resources
from cdp_platform.io.warehouse import with_warehouse_pools
from cdp_platform.predictive.assets import predictive_assets, predictive_resources
from cdp_platform.privacy.assets import privacy_definitions
from cdp_platform.privacy.pseudonymize import pseudonymized_definitions
from cdp_platform.profile.definitions import profile_definitions
from cdp_platform.settings import Settings, SettingsError, check_settings, load_settings
from cdp_platform.sources import raw_definitions
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.sources.vendor import InProcessServer
from cdp_platform.sources.yaml_source_candidates import candidate_assets, feeding_candidates
from cdp_platform.webhooks.config import WebhookConfig, WebhookConfigError, load_webhook_config
from cdp_platform.webhooks.definitions import webhook_definitions
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

# How the steps of a run execute.
# - Locally, one after the other in the run's own process (``in_process_executor``): a step here does
#   seconds of work, and each step process of the default executor first spent 10-20 s importing
#   dagster, polars, duckdb and the platform on a loaded 2-core machine. Runs still execute side by
#   side (the run queue's limit), and pools still hold each step to its vendor's or the warehouse's
#   single slot.
# - In production, steps in parallel processes forked from a server that imported what they use
#   once (``cdp_platform.preload``).
LOCAL_EXECUTOR = dg.in_process_executor
STEP_EXECUTOR = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["cdp_platform.preload"]}}},
    name="multiprocess_forkserver",
)
DEFAULT = object()


def build_definitions(
    settings: Settings, webhooks: WebhookConfig | None = None, executor: Any = DEFAULT
) -> dg.Definitions:
    """Every layer, and the jobs, schedules and sensors that run them; the marts' freshness policy.
    ``webhooks``: the event queue's configuration (``None``: the local Redis). On a DuckLake
    warehouse, each writer's pool is its table (``with_warehouse_pools``).

    The executor is chosen from the environment (see above) unless given; ``executor=None`` leaves
    it to whoever merges these definitions with their own (the Celery code location)."""
    if executor is DEFAULT:
        executor = STEP_EXECUTOR if settings.env == "production" else LOCAL_EXECUTOR
    return with_warehouse_pools(
        with_mart_freshness_policies(
            dg.Definitions.merge(
                layer_definitions(settings),
                automation_definitions(settings),
                privacy_definitions(settings),
                pseudonymized_definitions(settings),
                ducklake_maintenance_definitions(settings),
                webhook_definitions(
                    daily_partitions(settings.partitions_start),
                    webhooks,
                    production=settings.env == "production",
                    otlp_endpoint=settings.otlp_endpoint,
                    vendor_sources=list(settings.vendors),
                ),
                dg.Definitions(executor=executor),
            ),
            settings,
        ),
        settings.warehouse,
    )


def local_wiring(settings: Settings) -> tuple[InProcessServer | None, dict[str, dg.ConfigurableResource]]:
    """The in-process server of the vendors without a base URL, and the grading resources that
    replace the "no truth available" defaults: the bundled sandbox's, wired in here and only here.

    Production requires every vendor's base URL (see settings), so there this returns
    ``(None, {})`` without importing the sandbox package.
    """
    if all(not vendor.uses_sandbox for vendor in settings.vendors.values()):
        return None, {}
    from cdp_platform.sandbox.wiring import sandbox_wiring

    wiring = sandbox_wiring(settings)
    return wiring.server, wiring.resources


def layer_definitions(settings: Settings) -> dg.Definitions:
    """The assets and resources of every layer, without automation (tests add their own)."""
    partitions = daily_partitions(settings.partitions_start)
    server, graders = local_wiring(settings)
    grading = {IDENTITY_TRUTH_KEY: IdentityTruth(), **predictive_resources(), **graders}
    # The people of the sources declared in YAML files (none without CDP_SOURCES_DIR), which the
    # identity candidates model reads beside the shipped sources' staging models.
    candidates = candidate_assets()
    profile = profile_definitions(settings)
    return dg.Definitions.merge(
        dg.Definitions(resources={**io_resources(settings), **grading}),
        raw_definitions(settings, server),
        dg.Definitions(assets=with_automation(cleansed_assets(partitions, settings.default_phone_region))),
        dg.Definitions(
            assets=[sources_landed_asset(partitions, cleansed_table_keys(), day_landed_everywhere())]
        ),
        dg.Definitions(
            assets=feeding_candidates(list(profile.assets or []), [a.key for a in candidates]),
            resources=profile.resources,
        ),
        # The Python steps of the profile follow the day like its dbt models (see the translator).
        dg.Definitions(
            assets=with_automation(
                [
                    identity_map_asset(production=settings.env == "production"),
                    *predictive_assets(),
                    *candidates,
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
