"""The profile refresh sensor on a small asset graph: it requests one run for the raw partitions the
read by id wrote since its last request (their cleansed assets only, over the range of those days,
and the marts with what they read in the profile), nothing for other materializations of the same
assets, and nothing while a refresh is in flight (those partitions wait for the next tick)."""

from __future__ import annotations

import uuid

import dagster as dg

from cdp_platform.webhooks.fetch import BY_ID_TRIGGER
from cdp_platform.webhooks.intraday import INTRADAY_JOB_NAME, intraday_job, webhook_profile_sensor

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_offset=1)
RAW_A, RAW_B = dg.AssetKey(["raw", "crm", "contacts"]), dg.AssetKey(["raw", "forms", "leads"])
PROFILE = dg.AssetSelection.groups("staging", "profile")


def _graph() -> list[dg.AssetsDefinition]:
    def asset(key, deps=(), group="cleansed", partitioned=True):
        @dg.asset(
            key=key, deps=list(deps), group_name=group, partitions_def=PARTITIONS if partitioned else None
        )
        def _a() -> None:
            return None

        return _a

    return [
        asset(RAW_A, group="raw"),
        asset(RAW_B, group="raw"),
        asset(["cleansed", "crm", "contacts"], [RAW_A]),
        asset(["cleansed", "forms", "leads"], [RAW_B]),
        asset(["stg_contacts"], [["cleansed", "crm", "contacts"]], "staging", False),
        asset(["stg_leads"], [["cleansed", "forms", "leads"]], "staging", False),
        asset(["identity_map"], [["stg_contacts"], ["stg_leads"]], "profile", False),
        asset(["client_360"], [["identity_map"]], "profile", False),
        asset(["client_identities"], [["identity_map"]], "profile", False),
        asset(["client_interactions"], [["identity_map"]], "profile", True),
        asset(["client_scores_report"], [["client_360"]], "profile", False),  # downstream: not refreshed
    ]


CLEANSED_OF = {
    RAW_A: [dg.AssetKey(["cleansed", "crm", "contacts"])],
    RAW_B: [dg.AssetKey(["cleansed", "forms", "leads"])],
}


def _written(instance, key: dg.AssetKey, day: str, by_id: bool = True) -> None:
    metadata = {"trigger": BY_ID_TRIGGER} if by_id else {}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition=day, metadata=metadata)
    )


def test_the_sensor_requests_the_touched_cleansed_days_and_the_marts_once():
    job = intraday_job(CLEANSED_OF, PROFILE)
    sensor = webhook_profile_sensor(job, CLEANSED_OF, PROFILE)
    defs = dg.Definitions(assets=_graph(), jobs=[job], sensors=[sensor])
    repository = defs.get_repository_def()
    with dg.instance_for_test() as instance:

        def tick(cursor=None):
            return sensor.evaluate_tick(
                dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
            )

        assert tick().run_requests == []
        _written(instance, RAW_A, "2026-11-20", by_id=False)  # a daily run's: not the fast path's
        quiet = tick()
        assert quiet.run_requests == []
        _written(instance, RAW_A, "2026-12-02")
        _written(instance, RAW_A, "2026-12-03")
        result = tick(quiet.cursor)
        (request,) = result.run_requests
        assert {k.to_user_string() for k in request.asset_selection} == {
            "cleansed/crm/contacts",
            "stg_contacts",
            "stg_leads",
            "identity_map",
            "client_360",
            "client_identities",
            "client_interactions",
        }
        assert request.tags["dagster/asset_partition_range_start"] == "2026-12-02"
        assert request.tags["dagster/asset_partition_range_end"] == "2026-12-03"
        assert tick(result.cursor).run_requests == []  # requested once

        _written(instance, RAW_B, "2026-12-03")
        instance.add_run(
            dg.DagsterRun(
                job_name=INTRADAY_JOB_NAME, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
            )
        )
        held = tick(result.cursor)
        assert held.run_requests == [] and held.cursor == result.cursor
