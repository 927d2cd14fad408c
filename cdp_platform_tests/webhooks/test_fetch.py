"""Reading by id the objects landed webhook events name, against the in-process sandbox (which serves
the by-id endpoints as the real APIs do): each vendor's record lands in the raw partition the daily
build puts it in, as the row the daily extraction makes (same payload and context), once however
often it is read; an id the vendor does not know is counted, not failed on; a fetch that fails
keeps its days pending, and one that finishes clears them."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from pathlib import Path

import polars as pl
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.http.errors import VendorError
from cdp_platform.io.lake import LocalLake
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.settings import load_settings
from cdp_platform.sources import SOURCES, resource_key
from cdp_platform.webhooks.events import WebhookEvent
from cdp_platform.webhooks.fetch import fetch_pending, mark_pending, pending_days, stream_of
from cdp_platform.webhooks.landing import event_rows, events_file
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS
from cdp_platform_tests.sources.support import (
    SANDBOX_TODAY,
    expected_ids,
    ingest,
    landed,
    sandbox_environ,
    truth_records,
)

PERSONS, SPAN_DAYS, SEED = 1000, 10, 7
DAY = (datetime.date.fromisoformat(SANDBOX_TODAY) - datetime.timedelta(days=2)).isoformat()
TODAY = datetime.date.fromisoformat(SANDBOX_TODAY)


def busiest_charge_day() -> str:
    """The shop sells on few days of a small sandbox: the day with the most charges."""
    from collections import Counter

    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.records import SandboxData
    from cdp_platform.sandbox.vendors.stripe import stripe_data

    data = SandboxData(SandboxConfig(persons=PERSONS, seed=SEED, today=TODAY, span_days=SPAN_DAYS))
    days = Counter(
        datetime.datetime.fromtimestamp(int(t), datetime.UTC).date().isoformat()
        for t in stripe_data(data).charge_created
    )
    return days.most_common(1)[0][0]


FIRST = datetime.date(2026, 11, 1)
# (source, stream, the event type announcing a change of one of its objects, an id it never issued)
CASES = [
    ("hubspot", "contacts", "contact.propertyChange", "999999999999"),
    ("facebook", "leads", "leadgen", "1299999999999999"),
    ("stripe", "charges", "charge.succeeded", "ch_doesnotexist"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fetch")
    environ = sandbox_environ(root, PERSONS, SPAN_DAYS)
    environ["CDP_SANDBOX_SEED"] = str(SEED)
    truth = truth_records(PERSONS, SEED, root / "truth", SPAN_DAYS)
    defs = build_definitions(load_settings(environ))
    return root, environ, truth, defs


def _client(defs, source: str):
    vendor = defs.resources[resource_key(source)]
    return vendor.client(auth=vendor.auth())


def _land_events(lake: LocalLake, source: str, day: str, event_type: str, object_ids: list[str]) -> None:
    """What the landing does for these events: the day's file with them, pending from its old rows."""
    now = time.time()
    occurred = datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp() + 3600
    events = [
        WebhookEvent(source, f"evt-{i}", event_type, object_id, occurred, now, {"id": object_id})
        for i, object_id in enumerate(object_ids)
    ]
    mark_pending(lake, source, day, 0)
    write_frame(lake, events_file(source, day), event_rows(events, now))


def _fetch(lake: LocalLake, defs, source: str, client=None):
    spec = WEBHOOK_SPECS[source]
    streams = {s.name: s for s in SOURCES[source].STREAMS}
    client = client or _client(defs, source)
    try:
        return fetch_pending(
            lake, source, spec.refreshes, spec.fetch, streams, client, first_day=FIRST, today=TODAY
        )
    finally:
        asyncio.run(client.aclose())


def test_each_event_type_maps_to_the_stream_holding_its_object():
    assert stream_of(WEBHOOK_SPECS["hubspot"].refreshes, "contact.propertyChange") == "contacts"
    assert stream_of(WEBHOOK_SPECS["stripe"].refreshes, "charge.refund.updated") == "refunds"
    assert stream_of(WEBHOOK_SPECS["stripe"].refreshes, "charge.refunded") == "charges"
    assert stream_of(WEBHOOK_SPECS["facebook"].refreshes, "feed") is None


@pytest.mark.parametrize(("source", "stream", "event_type", "unknown"), CASES)
def test_objects_read_by_id_are_the_daily_rows_and_land_once(
    world, tmp_path, source, stream, event_type, unknown
):
    root, environ, truth, defs = world
    day = busiest_charge_day() if source == "stripe" else DAY
    # The daily build of the day, as the reference (the truth lists the CRM's and the leads' records).
    ingest(environ, [day], selection=[f"raw/{source}/{stream}"])
    daily = landed(root / "lake", f"{source}/{stream}", day)
    want = sorted(daily["record_id"])
    assert len(want) >= 2, "the sandbox day holds too few records for the test"
    if source != "stripe":
        assert want == expected_ids(truth, f"{source}/{stream}", day)

    # The fast path into another lake: the day's records, one named twice, and an id never issued.
    lake = LocalLake(tmp_path / "lake")
    _land_events(lake, source, day, event_type, [*want, want[0], unknown])
    report = _fetch(lake, defs, source)
    assert sorted(report.record_ids[stream]) == want
    assert report.missing[stream] == [unknown]
    assert report.written[stream] == {day: len(want)}
    assert pending_days(lake, source) == {}
    fetched = landed(tmp_path / "lake", f"{source}/{stream}", day)
    assert sorted(fetched["record_id"]) == want
    # The same rows as the daily extraction's: payload and context (a CRM record's associations).
    columns = ["record_id", "updated_at", "payload", "context", "partition_date"]
    by_id = fetched.select(columns).sort("record_id")
    reference = daily.select(columns).sort("record_id")
    for got, expected in zip(by_id.iter_rows(named=True), reference.iter_rows(named=True), strict=True):
        assert json.loads(got["payload"]) == json.loads(expected["payload"]), got["record_id"]
        assert got == {**expected, "payload": got["payload"]}

    # Read again (a redelivered event, or a run killed before it cleared the day): still once each.
    _land_events(lake, source, day, event_type, want[:2])
    _fetch(lake, defs, source)
    again = landed(tmp_path / "lake", f"{source}/{stream}", day)
    assert sorted(again["record_id"]) == want


def test_a_fetch_appends_to_the_partition_the_daily_run_wrote(world):
    """An object read by id after the daily run of its day replaces its row there, never doubles it."""
    root, environ, truth, defs = world
    want = expected_ids(truth, "hubspot/contacts", DAY)
    ingest(environ, [DAY], selection=["raw/hubspot/contacts"])
    lake = LocalLake(root / "lake")
    _land_events(lake, "hubspot", DAY, "contact.creation", want[:3])
    _fetch(lake, defs, "hubspot")
    frame = landed(root / "lake", "hubspot/contacts", DAY)
    assert sorted(frame["record_id"]) == want
    assert frame.filter(pl.col("slice") == "by_id")["record_id"].sort().to_list() == sorted(want[:3])


class _Refusing:
    """A client whose vendor answers every request with a 500 that its retries did not get past."""

    async def send(self, spec):
        from cdp_platform.http.errors import ErrorInfo

        raise VendorError("stripe", ErrorInfo(status=500, message="down"))

    def secrets(self):
        return []

    async def aclose(self):
        return None


def test_a_failed_fetch_keeps_its_days_pending(world, tmp_path: Path):
    root, environ, _, defs = world
    day = busiest_charge_day()
    ingest(environ, [day], selection=["raw/stripe/charges"])
    want = sorted(landed(root / "lake", "stripe/charges", day)["record_id"])
    lake = LocalLake(tmp_path / "lake")
    _land_events(lake, "stripe", day, "charge.succeeded", want)
    with pytest.raises(VendorError):
        _fetch(lake, defs, "stripe", client=_Refusing())
    assert pending_days(lake, "stripe") == {day: 0}
    assert not lake.exists(f"raw/stripe/charges/{day}.parquet")
    report = _fetch(lake, defs, "stripe")
    assert sorted(report.record_ids["charges"]) == want
    assert pending_days(lake, "stripe") == {}


@pytest.mark.redis
def test_the_landing_job_lands_events_then_reads_their_objects(world, redis_url, tmp_path, monkeypatch):
    """The Dagster job as deployed: queued lead events are landed, then the leads are read by id into
    ``raw/facebook/leads`` with a materialization of the partition they went to."""
    import dagster as dg

    from cdp_platform.webhooks.config import load_webhook_config
    from cdp_platform.webhooks.definitions import JOB_NAME, WebhookQueueResource

    _, environ, truth, _ = world
    environ = {**environ, "CDP_LAKE_ROOT": str(tmp_path / "lake")}
    monkeypatch.setenv("CDP_EVENTS_BROKER_URL", redis_url)  # an EnvVar, resolved when the run starts
    config = load_webhook_config({"CDP_EVENTS_BROKER_URL": redis_url}, WEBHOOK_SPECS)
    defs = build_definitions(load_settings(environ), config)
    want = expected_ids(truth, "facebook/leads", DAY)
    occurred = datetime.datetime.fromisoformat(DAY).replace(tzinfo=datetime.UTC).timestamp() + 60
    with WebhookQueueResource(broker_url=redis_url).open() as queue:
        queue.publish_events(
            [WebhookEvent("facebook", i, "leadgen", i, occurred, time.time(), {"id": i}) for i in want]
        )
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert sorted(landed(tmp_path / "lake", "facebook/leads", DAY)["record_id"]) == want
    written = {
        (m.asset_key, m.partition) for m in result.asset_materializations_for_node("fetch_facebook_objects")
    }
    assert written == {(dg.AssetKey(["raw", "facebook", "leads"]), DAY)}
    assert pending_days(LocalLake(tmp_path / "lake"), "facebook") == {}
