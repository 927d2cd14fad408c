"""Stripe's raw partitions against the sandbox's truth: in process, and on a port under the storm.

Partition D of a Stripe stream holds the objects created in D as they are now, plus (customers)
those changed in D, as the ``customer.updated`` event carried them; the truth is computed by the
emulator's own bookkeeping (:func:`cdp_platform.sandbox.vendors.stripe.expected_partition`), not
by the connector.
"""

from __future__ import annotations

import datetime
import json

import dagster as dg
import polars as pl
import pytest

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.stripe import expected_partition, stripe_data
from cdp_platform_tests.sources.support import SANDBOX_TODAY, SandboxServer, dead_letters, ingest, landed

PERSONS = 2000
STREAMS = ("stripe/customers", "stripe/charges", "stripe/refunds")
SELECTION = [dg.AssetKey(["raw", *stream.split("/")]) for stream in STREAMS]
# Two recent days (customer.updated events are kept 30 days) and one older than the events' reach.
RECENT = ["2026-11-20", "2026-11-21"]


def _data(span_days: int, persons: int = PERSONS) -> SandboxData:
    return SandboxData(
        SandboxConfig(persons=persons, seed=7, today=datetime.date.fromisoformat(SANDBOX_TODAY), span_days=span_days)
    )


def _window(partition: str) -> tuple[int, int]:
    start = datetime.datetime.fromisoformat(partition).replace(tzinfo=datetime.UTC)
    return int(start.timestamp()), int(start.timestamp()) + 86_400


def _assert_succeeded(results) -> None:
    for result in results:
        assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]


def test_raw_partitions_hold_exactly_the_truth_in_process(tmp_path):
    environ = {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        # Pages of three objects: every partition pages, so starting_after is really followed.
        "CDP_STRIPE_PAGE_SIZE": "3",
    }
    data = _data(730)
    shop = stripe_data(data)
    # The first day 40 days back or more on which customers and charges were created.
    old_day = next(
        day
        for n in range(40, 400)
        for day in [(datetime.date.fromisoformat(SANDBOX_TODAY) - datetime.timedelta(days=n)).isoformat()]
        if all(
            ((created >= _window(day)[0]) & (created < _window(day)[1])).any()
            for created in (shop.customer_created, shop.charge_created)
        )
    )
    partitions = [*RECENT, old_day]
    _assert_succeeded(ingest(environ, partitions, selection=SELECTION))
    seen_changed = 0
    for stream in STREAMS:
        for partition in partitions:
            want = expected_partition(data, stream, *_window(partition))
            frame = landed(tmp_path / "lake", stream, partition)
            assert frame["record_id"].n_unique() == frame.height, f"{stream} {partition}: doubled"
            assert sorted(frame["record_id"]) == sorted(want), f"{stream} {partition}"
            for row in frame.iter_rows(named=True):
                payload = json.loads(row["payload"])
                if payload.get("object") == "event":  # a changed customer: the object after the change
                    assert payload["type"] == "customer.updated"
                    assert row["slice"] == "changed"
                    assert row["updated_at"] == datetime.datetime.fromtimestamp(payload["created"], datetime.UTC)
                    payload = payload["data"]["object"]
                    seen_changed += 1
                assert payload == want[row["record_id"]], f"{stream} {partition} {row['record_id']}"
            assert frame.height > 0 or stream == "stripe/refunds", f"{stream} {partition} is empty"
    assert seen_changed > 0, "no customer.updated event was ingested"
    assert not list((tmp_path / "lake").glob("_checkpoints/**/*.parquet")), "checkpoints left behind"
    # Events older than 30 days are gone at Stripe: the old partition has only what was created.
    old = landed(tmp_path / "lake", "stripe/customers", old_day)
    assert set(old["slice"]) == {"created"}


# Enough persons and days, on one-object pages, that the storm's few-percent paging faults happen.
STORM_PERSONS = 6000
STORM_SPAN_DAYS = 14
STORM_PARTITIONS = [f"2026-11-{day}" for day in range(20, 27)]


@pytest.fixture
def storm_server():
    server = SandboxServer(
        "--persons", str(STORM_PERSONS), "--seed", "7", "--today", SANDBOX_TODAY,
        "--span-days", str(STORM_SPAN_DAYS), "--faults", "storm", "--time-scale", "20",
    )  # fmt: skip
    yield server
    server.stop()


@pytest.mark.slow
def test_raw_partitions_on_a_port_under_the_storm_lose_and_double_nothing(tmp_path, storm_server, monkeypatch):
    """``cdp-sandbox serve --faults storm``: 429s (no Retry-After, Stripe-Should-Retry), 5xx, HTML
    gateway pages, cut connections, slow answers, a page ignoring starting_after (the loop), a page
    starting one object early, has_more on the last page, malformed objects and drifted types."""
    environ = {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        **storm_server.environ(monkeypatch),
        "CDP_STRIPE_PAGE_SIZE": "1",
        "CDP_HTTP_TIMEOUT_SECONDS": "3",
    }
    before = storm_server.stats()
    _assert_succeeded(ingest(environ, STORM_PARTITIONS, selection=SELECTION))
    data = _data(STORM_SPAN_DAYS, STORM_PERSONS)
    for stream in STREAMS:
        for partition in STORM_PARTITIONS:
            want = set(expected_partition(data, stream, *_window(partition)))
            frame = landed(tmp_path / "lake", stream, partition)
            got = set(frame["record_id"])
            assert frame["record_id"].n_unique() == frame.height, f"{stream} {partition}: doubled"
            assert got <= want, f"{stream} {partition}: outside the window {got - want}"
            unidentified = [d for d in dead_letters(tmp_path / "lake", stream, partition) if "has no" in d["error"]]
            assert len(want - got) <= len(unidentified), f"{stream} {partition}: {len(want - got)} lost"
    faults = storm_server.stats()["faults"].get("stripe", {})
    earlier = before["faults"].get("stripe", {})
    injected = {kind: n - earlier.get(kind, 0) for kind, n in faults.items()}
    print("stripe faults injected:", injected)
    for kind in ("rate_limited", "repeated_cursor", "duplicate_record", "empty_last_page"):
        assert injected.get(kind, 0) > 0, f"the storm never sent {kind}: {injected}"


def test_the_truth_counts_every_purchase_routed_to_stripe():
    data = _data(60)
    shop = stripe_data(data)
    from cdp_platform.sandbox.purchases import SYSTEM_STRIPE

    routed = int((data.purchases.system == SYSTEM_STRIPE).sum())
    assert shop.n_succeeded == routed > 0
    succeeded = pl.DataFrame(
        {"k": list(range(shop.n_succeeded)), "settled": [shop.charge_amount(k)[2] for k in range(shop.n_succeeded)]}
    )
    assert succeeded["settled"].sum() == int(data.purchases.amount_cents[data.purchases.system == SYSTEM_STRIPE].sum())
