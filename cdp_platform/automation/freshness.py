"""Freshness of the profile marts: a freshness policy on each, and a freshness check beside it.

The marts are rebuilt once a day, after the last source of the day has landed (about 02:00 UTC, see
``conditions``); a mart whose last update is older than ``CDP_MART_MAX_AGE_HOURS`` (26 h by
default: a day and the ingestion hour's slack) is overdue, which means a source did not land, a run
failed, or automation is off.

Both of Dagster's mechanisms carry that one threshold:

- a ``FreshnessPolicy.time_window`` on each mart, what Dagster 1.12+ recommends: the daemon
  evaluates it by itself and the UI shows it as the asset's freshness (and in asset health);
- a last-update freshness check per mart (``freshness_check``), an asset check in the asset's
  Checks tab with its history, evaluated by the ``marts_freshness_checks`` sensor, and failing
  with the mart's age and the allowed age. Dagster marks these factories "superseded" by the
  policies; they are kept because the operations issue asks for the checks in the UI, and their
  warning is silenced here, where they are built, and nowhere else. The policies do not need the
  sensor; the checks do.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence

import dagster as dg

from cdp_platform.settings import Settings

MARTS: tuple[str, ...] = ("client_360", "client_interactions", "client_identities", "client_scores")
MART_KEYS: tuple[dg.AssetKey, ...] = tuple(dg.AssetKey(mart) for mart in MARTS)
FRESHNESS_CHECK_NAME = "freshness_check"  # the name Dagster's factory gives each check
FRESHNESS_SENSOR_NAME = "marts_freshness_checks"
# The sensor only launches a check once its last pass may have expired, so ticks are cheap.
FRESHNESS_SENSOR_INTERVAL_SECONDS = 300


def mart_max_age(settings: Settings) -> datetime.timedelta:
    return datetime.timedelta(hours=settings.mart_max_age_hours)


def mart_freshness_policy(settings: Settings) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=mart_max_age(settings))


def with_mart_freshness_policies(defs: dg.Definitions, settings: Settings) -> dg.Definitions:
    """``defs`` with the marts' freshness policy on each mart (wherever the mart is defined).

    Dagster's documented way to put a policy on a selection (``apply_freshness_policy`` over the
    specs); the mapping method is marked preview in 1.13, and its warning is silenced here only.
    """
    policy = mart_freshness_policy(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: dg.apply_freshness_policy(spec, policy), selection=list(MART_KEYS)
        )


def mart_freshness_checks(settings: Settings) -> Sequence[dg.AssetChecksDefinition]:
    """One ``freshness_check`` per mart: passes while its last update is within the allowed age."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_last_update_freshness_checks(
            assets=list(MART_KEYS),
            lower_bound_delta=mart_max_age(settings),
            severity=dg.AssetCheckSeverity.ERROR,
        )


def mart_freshness_sensor(
    checks: Sequence[dg.AssetChecksDefinition],
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """Runs each freshness check when it has never run, or when its last pass may have expired (a
    failed check runs again with the next update of its mart)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=FRESHNESS_SENSOR_NAME,
            minimum_interval_seconds=FRESHNESS_SENSOR_INTERVAL_SECONDS,
            default_status=default_status,
            tags={"cdp/trigger": "freshness"},
        )
