"""The refresh sensor (vendors without a read by id): today's landed webhook events request today's partition of exactly the
streams they announce changes in, once per landing, never while that partition's run is in flight,
and nothing for other days' events."""

from __future__ import annotations

import datetime
import json
import uuid

import dagster as dg

from cdp_platform.automation.jobs import ingestion_jobs, raw_asset_keys
from cdp_platform.webhooks.definitions import webhook_asset_key
from cdp_platform.webhooks.refresh import webhook_refresh_sensor
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

NOW = datetime.datetime(2026, 12, 3, 9, 30, tzinfo=datetime.UTC)
TODAY = "2026-12-03"


def sensor():
    jobs = ingestion_jobs()
    raw_keys = {source: {key.path[-1]: key for key in raw_asset_keys(source)} for source in jobs}
    return webhook_refresh_sensor(WEBHOOK_SPECS, jobs, raw_keys, clock=lambda: NOW)


def landed(instance: dg.DagsterInstance, source: str, day: str, event_types: dict[str, int]) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=webhook_asset_key(source),
            partition=day,
            metadata={"event_types": dg.MetadataValue.json(event_types)},
        )
    )


def test_todays_events_refresh_the_streams_they_announce_once():
    refresh = sensor()
    with dg.instance_for_test() as instance:
        result = refresh(dg.build_sensor_context(instance=instance))
        assert result.run_requests == [] and result.skip_reason is not None
        # Read by id by the landing job (their declarations have a fetch): no window refresh.
        landed(instance, "hubspot", TODAY, {"contact.propertyChange": 3, "contact.creation": 1})
        landed(instance, "facebook", TODAY, {"leadgen": 2})
        landed(instance, "instagram", TODAY, {"comments": 2})
        landed(instance, "twitter", TODAY, {"tweet_create_events": 1})
        landed(instance, "twitter", "2026-12-02", {"tweet_create_events": 5})  # yesterday's: nothing
        result = refresh(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        requests = {r.job_name: r for r in result.run_requests}
        assert set(requests) == {"ingest_instagram", "ingest_twitter"}
        assert requests["ingest_twitter"].partition_key == TODAY
        assert requests["ingest_twitter"].asset_selection == [dg.AssetKey(["raw", "twitter", "mentions"])]
        assert requests["ingest_instagram"].asset_selection == [
            dg.AssetKey(["raw", "instagram", "media_comments"])
        ]
        assert requests["ingest_instagram"].tags["cdp/trigger"] == "webhooks"
        again = refresh(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        assert again.run_requests == []  # the cursor moved past those landings


def test_a_refresh_in_flight_keeps_the_events_for_the_next_tick():
    refresh = sensor()
    with dg.instance_for_test() as instance:
        landed(instance, "instagram", TODAY, {"comments": 1})
        run = dg.DagsterRun(
            job_name="ingest_instagram",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": TODAY},
        )
        instance.add_run(run)
        result = refresh(dg.build_sensor_context(instance=instance))
        assert result.run_requests == [] and "instagram" not in json.loads(result.cursor)
        instance.report_run_canceled(run)
        result = refresh(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        (request,) = result.run_requests
        assert request.asset_selection == [dg.AssetKey(["raw", "instagram", "media_comments"])]
