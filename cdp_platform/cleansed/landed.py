"""``sources_landed``: a day (or a backfill's range of days) is in, cleansed, from every source.

A partitioned asset after every cleansed table, partitioned and backfilled like them (one run over
a range), which the profile's staging models depend on. It computes nothing; it records, for each
of its partitions, which cleansed tables have that day, from Dagster's own record of their
materializations.

Why it exists: the profile is unpartitioned and reads every source. In a backfill over the raw and
cleansed layers (the UI's "Materialize all" with every partition picked), Dagster requests an
unpartitioned model as soon as the partitions of its own inputs are in, and the backfill daemon
looks every 30 seconds. A source's staging models then started in a run of their own while the
other sources were still being cleansed, the next tick started the next sources', and the models
reading several sources waited for all of those runs: measured on the quick look at load 13, five
staging and intermediate runs one after another (each a process start and a dbt invocation,
40-55 s each) before identity resolution could start. Behind ``sources_landed`` every staging model
waits for the whole range of every source, so the profile is requested once, as one run.

The daily automation requests yesterday's partition once every source has landed it
(:func:`cdp_platform.automation.conditions.day_landed_everywhere`); the profile's own conditions do
not wait for it (they already wait for each source's day), only while it runs.
"""

from collections.abc import Sequence

import dagster as dg

SOURCES_LANDED_KEY = dg.AssetKey("sources_landed")


def sources_landed_asset(
    partitions_def: dg.PartitionsDefinition,
    cleansed_keys: Sequence[dg.AssetKey],
    automation_condition: dg.AutomationCondition | None = None,
) -> dg.AssetsDefinition:
    """The marker after ``cleansed_keys`` (every source's cleansed tables), partitioned by ``partitions_def``."""
    keys = sorted(cleansed_keys, key=lambda key: key.path)

    @dg.asset(
        key=SOURCES_LANDED_KEY,
        deps=keys,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="cleansed",
        automation_condition=automation_condition,
        description="A day (or a backfill's range) is in, cleansed, from every source: the profile's "
        "staging models start after it, so a backfill builds the profile once, after the whole range. "
        "Records which cleansed tables hold each day.",
    )
    def sources_landed(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        days = context.partition_keys
        missing: dict[str, int] = {}
        for key in keys:
            materialized = context.instance.get_materialized_partitions(key)
            absent = sum(1 for day in days if day not in materialized)
            if absent:
                missing[key.to_user_string()] = absent
        if missing:
            context.log.warning(f"days without a cleansed partition, by table: {missing}")
        return dg.MaterializeResult(
            metadata={
                "days": dg.MetadataValue.int(len(days)),
                "cleansed_tables": dg.MetadataValue.int(len(keys)),
                "days_missing_by_table": dg.MetadataValue.json(missing),
            }
        )

    return sources_landed
