"""The last step of the fast path: once objects read by id are in the raw layer, the profile is
refreshed within the day, not the next morning.

``webhook_profile_sensor`` (every 30 s) watches the raw partitions the read by id wrote (their
materializations carry ``trigger: webhooks: read by id``, see :mod:`.definitions`) and requests one
run of ``webhook_profile_refresh`` for all that arrived since its last request:

1. the cleansed partitions of those days, for the entities of those streams only (the same assets,
   checks and quarantine as the daily path: one run over the range of touched days, their
   ``BackfillPolicy.single_run``);
2. the profile models ``client_360``, ``client_identities`` and ``client_interactions`` read, and
   everything between them and the cleansed tables: the staging and intermediate models,
   ``identity_map`` and the sentiment of the texts. ``identity_map`` resolves the new records against
   the previous map, so every existing client keeps its id (:mod:`cdp_platform.identity.stable_ids`);
   ``client_interactions`` is the daily-partitioned timeline, rebuilt over the touched days.

Why a rebuild of those models rather than an update of the touched clients' rows alone: the
profile is defined by one computation (dbt models over every cleansed record, identity resolution
over every candidate), and a client's rows depend on records beyond the touched ones (a new lead
can merge two existing clients). The same computation over the same inputs is what makes "the daily
build stays the reference and gives the same result" true by construction, and it costs one dbt run
of the subset (measured in ``benchmarks/README.md``, "Webhooks"). The rows of clients no record
touched come out as they were.

A run in flight holds the next request back (its cursor is not moved), so two refreshes never
write the warehouse at once; the run takes the warehouse pool like every profile step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from cdp_platform.webhooks.definitions import IN_FLIGHT
from cdp_platform.webhooks.fetch import BY_ID_TRIGGER

INTRADAY_JOB_NAME = "webhook_profile_refresh"
SENSOR_NAME = "webhook_profile_sensor"
# The marts a client's intraday change must reach (the profile models they read come with them).
MARTS = ("client_360", "client_identities", "client_interactions")


def intraday_job(
    cleansed_of: Mapping[dg.AssetKey, Sequence[dg.AssetKey]], profile: dg.AssetSelection
) -> dg.UnresolvedAssetJobDefinition:
    """``cleansed_of``: raw key of a stream read by id -> the cleansed assets made from it;
    ``profile``: the profile layer's selection (the marts' upstream is taken within it)."""
    cleansed = [key for keys in cleansed_of.values() for key in keys]
    return dg.define_asset_job(
        name=INTRADAY_JOB_NAME,
        selection=dg.AssetSelection.assets(*cleansed) | profile_selection(profile),
        description="The fast path's refresh of the profile: the cleansed partitions the webhooks' reads "
        "by id touched, then client_360, client_identities and client_interactions and what they read.",
        tags={"cdp/trigger": "webhooks", "cdp/layer": "profile"},
    )


def _touched(
    instance: dg.DagsterInstance, keys: Iterable[dg.AssetKey], cursor: Mapping[str, int]
) -> tuple[dict[dg.AssetKey, set[str]], dict[str, int]]:
    """Raw key -> partitions the read by id wrote since the cursor; the new cursor."""
    touched: dict[dg.AssetKey, set[str]] = {}
    moved = dict(cursor)
    for key in keys:
        name = key.to_user_string()
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=cursor.get(name)),
            limit=1000,
            ascending=True,
        ).records
        for record in records:
            moved[name] = max(moved.get(name, 0), record.storage_id)
            materialization = record.asset_materialization
            trigger = materialization.metadata.get("trigger") if materialization else None
            value = getattr(trigger, "value", trigger)
            if value == BY_ID_TRIGGER and materialization.partition:
                touched.setdefault(key, set()).add(materialization.partition)
    return touched, moved


def profile_selection(profile: dg.AssetSelection) -> dg.AssetSelection:
    """The marts and what they read within the profile layer."""
    marts = dg.AssetSelection.assets(*(dg.AssetKey([name]) for name in MARTS))
    return marts.upstream() & profile


def webhook_profile_sensor(
    job: dg.UnresolvedAssetJobDefinition,
    cleansed_of: Mapping[dg.AssetKey, Sequence[dg.AssetKey]],
    profile: dg.AssetSelection,
    *,
    minimum_interval_seconds: int = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    """``profile``: the profile layer's selection, as given to :func:`intraday_job`."""
    wanted = profile_selection(profile)

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description="Refreshes the cleansed partitions and the profile (client_360, client_identities, "
        "client_interactions) after webhook-announced objects were read by id into the raw layer.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        if context.instance.get_run_records(
            dg.RunsFilter(job_name=INTRADAY_JOB_NAME, statuses=IN_FLIGHT), limit=1
        ):
            return dg.SkipReason("a profile refresh is in flight; the next tick requests what arrived since")
        cursor = json.loads(context.cursor) if context.cursor else {}
        touched, moved = _touched(context.instance, cleansed_of, cursor)
        if not touched:
            if moved != cursor:
                context.update_cursor(json.dumps(moved, sort_keys=True))
            return dg.SkipReason("no raw partition was written by a read by id since the last refresh")
        days = sorted({day for partitions in touched.values() for day in partitions})
        profile_keys = wanted.resolve(context.repository_def.asset_graph)
        selection = sorted(
            {key for raw in touched for key in cleansed_of[raw]} | set(profile_keys),
            key=lambda key: key.to_user_string(),
        )
        context.update_cursor(json.dumps(moved, sort_keys=True))
        return dg.RunRequest(
            run_key=f"webhooks:profile:{json.dumps(moved, sort_keys=True)}",
            asset_selection=selection,
            tags={
                "dagster/asset_partition_range_start": days[0],
                "dagster/asset_partition_range_end": days[-1],
                "cdp/trigger": "webhooks",
                "cdp/changes": ",".join(sorted(key.to_user_string() for key in touched)),
            },
        )

    return sensor
