"""Landing queued events in the lake exactly once, against the real Redis and both lakes (a folder
and S3 on moto's server): duplicates dropped, days kept apart, dead letters with their reason, and
a landing process SIGKILLed between writing a day's file and acknowledging its messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, date, datetime

import polars as pl
import pytest

from cdp_platform.io.lake import LakeError
from cdp_platform.io.lake_io_manager import read_frame
from cdp_platform.webhooks.events import WebhookEvent
from cdp_platform.webhooks.landing import drain, events_file
from cdp_platform.webhooks.queue import EVENTS, EventQueue

pytestmark = pytest.mark.redis

FIRST_DAY = date(2026, 11, 1)
DAY1 = datetime(2026, 12, 1, 23, 59, 0, tzinfo=UTC).timestamp()
DAY2 = datetime(2026, 12, 2, 0, 0, 30, tzinfo=UTC).timestamp()


def event(event_id: str, occurred_at: float | None, source: str = "hubspot") -> WebhookEvent:
    return WebhookEvent(
        source=source,
        event_id=event_id,
        event_type="contact.propertyChange",
        object_id=f"obj-{event_id}",
        occurred_at=occurred_at,
        received_at=DAY2 + 60,
        payload={"eventId": event_id, "propertyValue": "x"},
    )


def landed_ids(lake, source: str, day: str) -> list[str]:
    return sorted(read_frame(lake, events_file(source, day))["event_id"].to_list())


def test_events_land_by_event_day_once_each(queue: EventQueue, lake):
    queue.publish_events(
        [
            event("1", DAY1),
            event("2", DAY2),
            event("2", DAY2),
            event("s1", DAY2, source="stripe"),
            event("3", None),
        ]
    )
    report = drain(queue, lake, first_day=FIRST_DAY, clock=lambda: DAY2 + 120)
    assert (report.taken, report.landed, report.duplicates) == (5, 4, 1)
    assert landed_ids(lake, "hubspot", "2026-12-01") == ["1"]
    # Without an event time the receipt day decides.
    assert landed_ids(lake, "hubspot", "2026-12-02") == ["2", "3"]
    assert landed_ids(lake, "stripe", "2026-12-02") == ["s1"]
    frame = read_frame(lake, events_file("hubspot", "2026-12-01"))
    row = frame.row(0, named=True)
    assert row["object_id"] == "obj-1" and row["event_type"] == "contact.propertyChange"
    assert row["occurred_at"] == datetime.fromtimestamp(DAY1, UTC)
    assert '"propertyValue": "x"' in row["payload"]
    # A vendor's redelivery a day later meets its first copy in the same file.
    queue.publish_events([event("1", DAY1), event("4", DAY1)])
    report = drain(queue, lake, first_day=FIRST_DAY, clock=lambda: DAY2 + 86_400)
    assert (report.landed, report.duplicates) == (1, 1)
    assert landed_ids(lake, "hubspot", "2026-12-01") == ["1", "4"]
    time.sleep(2.5)  # past the visibility timeout: nothing comes back, all was acknowledged
    assert queue.take() == []


def test_a_message_that_is_no_event_goes_to_the_dead_letter_queue(queue: EventQueue, tmp_path):
    from cdp_platform.io.lake import LocalLake

    lake = LocalLake(tmp_path / "lake")
    queue._publish(EVENTS, [({"hello": "world"}, {})])
    queue.publish_events([event("7", DAY1)])
    report = drain(queue, lake, first_day=FIRST_DAY, clock=lambda: DAY2)
    assert report.landed == 1 and dict(report.dead_letters) == {"not a webhook event": 1}
    (letter,) = queue.dead_letters()
    assert letter.reason.startswith("not a webhook event") and letter.body == {"hello": "world"}
    time.sleep(2.5)
    assert queue.take() == []


def test_an_unwritable_lake_acknowledges_nothing(redis_url: str, tmp_path):
    from cdp_platform.io.lake import LocalLake

    namespace = f"test.{uuid.uuid4().hex[:8]}"
    blocker = tmp_path / "lake"
    blocker.write_text("a file where the lake folder should be")
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=300) as queue:
        queue.publish_events([event("8", DAY1)])
        with pytest.raises((LakeError, OSError)):
            drain(queue, LocalLake(blocker), first_day=FIRST_DAY, clock=lambda: DAY2)
    # The failed landing closed its connection: the message is back at once, for the next run.
    with EventQueue(redis_url, namespace=namespace) as queue:
        assert queue.depth() == 1


KILLED_LANDING = """
import os, signal
from datetime import date
from pathlib import Path
from cdp_platform.io.lake import LocalLake
from cdp_platform.webhooks.landing import drain
from cdp_platform.webhooks.queue import EventQueue

written = []
def after_write(landing):
    written.append(landing)
    if len(written) == 2:  # the second day's file is written, its messages not yet acknowledged
        print(landing.source, landing.day, landing.landed, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

queue = EventQueue({url!r}, namespace={namespace!r}, visibility_timeout=2)
drain(queue, LocalLake(Path({root!r})), first_day=date(2026, 11, 1), batch_size=10_000, after_write=after_write)
"""


def test_landing_killed_between_write_and_ack_is_exactly_once_after_the_retry(redis_url: str, tmp_path):
    from cdp_platform.io.lake import LocalLake

    namespace = f"test.{uuid.uuid4().hex[:8]}"
    root = str(tmp_path / "lake")
    days = [datetime(2026, 12, d, 12, tzinfo=UTC).timestamp() for d in (1, 2, 3)]
    sent = [
        event(f"{d}-{i}", days[d], source=source)
        for d in range(3)
        for i in range(200)
        for source in ("hubspot", "stripe")
    ]
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=2) as queue:
        queue.publish_events(sent)
        queue.publish_events(sent[:50])  # the vendors' own duplicates
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(KILLED_LANDING.format(url=redis_url, namespace=namespace, root=root)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr
    source, day, landed = done.stdout.split()
    assert (source, day, int(landed)) == ("hubspot", "2026-12-02", 200)
    lake = LocalLake(tmp_path / "lake")
    # Two day files were written before the kill; the first group's messages were acknowledged.
    assert sorted(lake.list_keys("raw")) == [
        events_file("hubspot", "2026-12-01"),
        events_file("hubspot", "2026-12-02"),
    ]

    time.sleep(2.5)  # the killed run's unacknowledged messages become visible again
    with EventQueue(redis_url, namespace=namespace, visibility_timeout=2) as queue:
        report = drain(queue, lake, first_day=FIRST_DAY)
        # The first group (hubspot's first day: 200 events and 25 of the duplicates) was acknowledged.
        assert report.taken == len(sent) + 50 - 225
        # The second group's 200 were in its file already; stripe's 25 duplicates met in the batch.
        assert report.duplicates == 200 + 25
        time.sleep(2.5)
        assert queue.take() == [] and queue.depth() == 0
    landed_frame = pl.concat([read_frame(lake, key) for key in lake.list_keys("raw")])
    assert landed_frame.height == len(sent)
    assert landed_frame.select(["source", "event_id"]).is_duplicated().sum() == 0
    assert set(zip(landed_frame["source"], landed_frame["event_id"], strict=True)) == {
        (e.source, e.event_id) for e in sent
    }
