"""The landing job and its sensor in Dagster, against the real Redis: the run reports one
materialization per (source, day) written and one observation per source with the receivers'
counters; the sensor starts a run only when something waits and no landing is in flight."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from cdp_platform.io.lake import LocalLake
from cdp_platform.io.lake_io_manager import read_frame
from cdp_platform.io.resources import LakeResource
from cdp_platform.sources.partitions import daily_partitions
from cdp_platform.webhooks.config import load_webhook_config
from cdp_platform.webhooks.definitions import (
    JOB_NAME,
    WebhookQueueResource,
    landing_job,
    landing_sensor,
    webhook_asset_key,
    webhook_definitions,
)
from cdp_platform.webhooks.events import WebhookEvent
from cdp_platform.webhooks.landing import events_file
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS

pytestmark = pytest.mark.redis

NOW = time.time()
TODAY = datetime.fromtimestamp(NOW, UTC).date().isoformat()


def event(event_id: str, source: str) -> WebhookEvent:
    """An event the vendor made 5 s ago (now, not at import: a worker may collect this module
    long before it runs the test)."""
    now = time.time()
    return WebhookEvent(source, event_id, "created", event_id, now - 5, now - 4, {"id": event_id})


@pytest.fixture
def queue_resource(redis_url: str) -> WebhookQueueResource:
    return WebhookQueueResource(
        broker_url=redis_url, namespace=f"test.{uuid.uuid4().hex[:8]}", visibility_timeout=2
    )


def test_landing_run_reports_partitions_and_vendor_counters(queue_resource, tmp_path):
    published = time.time()
    with queue_resource.open() as queue:
        queue.publish_events([event("a", "stripe"), event("b", "stripe"), event("c", "hubspot")])
        queue.publish_stats({"at": NOW, "counters": {"stripe": {"received": 2, "refused:bad_signature": 3}}})
        queue.publish_stats(
            {"at": NOW, "counters": {"stripe": {"duplicates": 1, "refused:bad_signature": 1}}}
        )
    job = landing_job(["hubspot", "stripe"], date(2026, 1, 1))
    lake_root = str(tmp_path / "lake")
    result = job.execute_in_process(
        resources={"lake": LakeResource(lake_root=lake_root), "webhook_queue": queue_resource},
    )
    assert result.success
    materialized = {
        (m.asset_key, m.partition): m.metadata
        for m in result.asset_materializations_for_node("land_webhook_events_op")
    }
    assert set(materialized) == {(webhook_asset_key("stripe"), TODAY), (webhook_asset_key("hubspot"), TODAY)}
    stripe_day = materialized[(webhook_asset_key("stripe"), TODAY)]
    assert stripe_day["landed"].value == 2 and stripe_day["row_count"].value == 2
    # From the vendor's event time (5 s before publishing) to the row in the lake: at least those
    # 5 s, at most that plus how long this test took (a correct measure, not a speed bound).
    assert 5 <= stripe_day["event_to_lake_seconds_p95"].value <= time.time() - published + 6
    observations = {
        e.event_specific_data.asset_observation.asset_key: e.event_specific_data.asset_observation.metadata
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    }
    stripe = observations[webhook_asset_key("stripe")]
    assert stripe["received"].value == 2 and stripe["duplicates_at_receiver"].value == 1
    assert stripe["refused"].value == 4 and stripe["refused_bad_signature"].value == 4
    assert stripe["landed"].value == 2 and stripe["queue_depth"].value == 0
    assert observations[webhook_asset_key("hubspot")]["landed"].value == 1
    assert sorted(read_frame(LocalLake(tmp_path / "lake"), events_file("stripe", TODAY))["event_id"]) == [
        "a",
        "b",
    ]
    with queue_resource.open() as queue:
        assert queue.depth() == 0 and queue.depth("stats") == 0


def test_sensor_runs_only_when_events_wait_and_no_landing_is_in_flight(queue_resource, tmp_path):
    job = landing_job(["stripe"], date(2026, 1, 1))
    sensor = landing_sensor(job)
    resources = {"webhook_queue": queue_resource, "lake": LakeResource(lake_root=str(tmp_path / "lake"))}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        assert isinstance(sensor(context), dg.SkipReason)
        with queue_resource.open() as queue:
            queue.publish_events([event("x", "stripe")])
        request = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(request, dg.RunRequest) and request.tags["cdp/webhook_events_waiting"] == "1"
        instance.add_run(
            dg.DagsterRun(job_name=JOB_NAME, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED)
        )
        skipped = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(skipped, dg.SkipReason) and "in flight" in skipped.skip_message


def test_sensor_runs_while_landed_events_have_objects_to_read(queue_resource, tmp_path):
    """A run that landed events and then failed to read their objects leaves the day pending: with
    an empty queue, the sensor still starts a run for it, and stops once it is read."""
    from cdp_platform.webhooks.fetch import mark_pending

    sensor = landing_sensor(landing_job(["stripe"], date(2026, 1, 1)), fetching=["stripe"])
    resources = {"webhook_queue": queue_resource, "lake": LakeResource(lake_root=str(tmp_path / "lake"))}
    with dg.instance_for_test() as instance:
        assert isinstance(
            sensor(dg.build_sensor_context(instance=instance, resources=resources)), dg.SkipReason
        )
        lake = LocalLake(tmp_path / "lake")
        mark_pending(lake, "stripe", TODAY, 3)
        request = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert isinstance(request, dg.RunRequest) and request.tags["cdp/webhook_objects_unread"] == "stripe"


def test_definitions_hold_one_partitioned_asset_per_vendor_and_the_broker_as_envvar():
    config = load_webhook_config({"CDP_EVENTS_BROKER_URL": "amqp://u:p@mq:5672//"}, WEBHOOK_SPECS)
    defs = webhook_definitions(daily_partitions("2026-01-01"), config)
    keys = {spec.key for spec in defs.assets}
    assert keys == {webhook_asset_key(s) for s in ("facebook", "hubspot", "instagram", "stripe", "twitter")}
    assert all(spec.partitions_def is not None for spec in defs.assets)
    resource = defs.resources["webhook_queue"]
    assert isinstance(resource.broker_url, dg.EnvVar)  # resolved at run time, never in the UI
    sensor = next(iter(defs.sensors))
    assert sensor.minimum_interval_seconds == 30


KILLED_RUN = """
from datetime import date
from cdp_platform.io.resources import LakeResource
from cdp_platform.webhooks.definitions import WebhookQueueResource, landing_job

job = landing_job(["hubspot", "stripe"], date(2026, 1, 1))
job.execute_in_process(
    resources={{
        "lake": LakeResource(lake_root={root!r}),
        "webhook_queue": WebhookQueueResource(broker_url={url!r}, namespace={namespace!r}, visibility_timeout=2),
    }},
)
"""


@pytest.mark.slow
def test_a_landing_run_killed_mid_way_and_run_again_lands_every_event_once(redis_url, tmp_path):
    """The Dagster run itself (the landing job in its own process) is SIGKILLed as soon as its first
    day's file is in the lake, wherever it then is; the next run lands everything exactly once."""
    import os
    import signal
    import subprocess
    import sys

    import polars as pl

    namespace = f"test.{uuid.uuid4().hex[:8]}"
    root = str(tmp_path / "lake")
    days = [datetime(2026, 11, d, 12, tzinfo=UTC).timestamp() for d in range(1, 16)]
    sent = [
        WebhookEvent(source, f"{d}-{i}", "created", None, days[d], NOW, {"i": i})
        for d in range(15)
        for i in range(300)
        for source in ("hubspot", "stripe")
    ]
    resource = WebhookQueueResource(broker_url=redis_url, namespace=namespace, visibility_timeout=2)
    with resource.open() as queue:
        queue.publish_events(sent)
        queue.publish_events(sent[::7])  # vendors' duplicates
    run = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN.format(root=root, url=redis_url, namespace=namespace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    lake = LocalLake(tmp_path / "lake")
    deadline = time.monotonic() + 120
    while not any(lake.list_keys("raw")):
        assert run.poll() is None, run.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the landing run wrote nothing in 120 s"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    written_before = len(list(lake.list_keys("raw")))
    assert 0 < written_before < 30, "killed before it finished"

    time.sleep(2.5)  # past the visibility timeout: the killed run's taken messages are handed out again
    job = landing_job(["hubspot", "stripe"], date(2026, 1, 1))
    assert job.execute_in_process(
        resources={"lake": LakeResource(lake_root=root), "webhook_queue": resource}
    ).success
    landed = pl.concat([read_frame(lake, key) for key in lake.list_keys("raw")])
    assert landed.height == len(sent)
    assert landed.select(["source", "event_id"]).is_duplicated().sum() == 0
    with resource.open() as queue:
        time.sleep(2.5)
        assert queue.depth() == 0 and queue.take() == []
