"""sources_landed: after every cleansed table, partitioned like them; records which tables hold each day."""

import dagster as dg

from cdp_platform.automation.conditions import day_landed_everywhere
from cdp_platform.cleansed.landed import SOURCES_LANDED_KEY, sources_landed_asset

DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(key=["cleansed", "a", "people"], partitions_def=DAYS)
def people() -> None:
    return None


@dg.asset(key=["cleansed", "b", "orders"], partitions_def=DAYS)
def orders() -> None:
    return None


def test_sources_landed_follows_every_cleansed_table_and_reports_missing_days():
    landed = sources_landed_asset(DAYS, [orders.key, people.key], day_landed_everywhere())
    spec = next(iter(landed.specs))
    assert spec.key == SOURCES_LANDED_KEY
    assert {dep.asset_key for dep in spec.deps} == {people.key, orders.key}
    assert landed.backfill_policy == dg.BackfillPolicy.single_run()
    assert spec.automation_condition == day_landed_everywhere()

    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([people, orders], partition_key="2026-11-01", instance=instance).success
    assert dg.materialize([people], partition_key="2026-11-02", instance=instance).success

    def metadata(day: str) -> dict:
        assert dg.materialize([landed], partition_key=day, instance=instance).success
        event = instance.get_latest_materialization_event(SOURCES_LANDED_KEY)
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}

    assert metadata("2026-11-01") == {"days": 1, "cleansed_tables": 2, "days_missing_by_table": {}}
    assert metadata("2026-11-02")["days_missing_by_table"] == {"cleansed/b/orders": 1}
