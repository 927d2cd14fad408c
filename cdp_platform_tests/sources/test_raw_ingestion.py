"""Raw ingestion of all six sources against the sandbox, graded against its ground truth."""

import polars as pl
import pytest

from cdp_platform_tests.sources.support import (
    SANDBOX_TODAY,
    SandboxServer,
    assert_every_fault_happened,
    assert_exactly_the_truth,
    ingest,
    landed,
    truth_records,
)

PERSONS = 2000
PARTITIONS = ["2026-11-20", "2026-11-21"]


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    return truth_records(PERSONS, 7, tmp_path_factory.mktemp("truth"))


def _environ(tmp_path, faults: str) -> dict[str, str]:
    return {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_FAULTS": faults,
    }


def test_every_partition_holds_exactly_the_truth(tmp_path, truth):
    """Without faults, in process. Storm faults: on a real port below, and in process in
    cdp_platform_tests/cleansed/test_storm_pipeline.py."""
    results = ingest(_environ(tmp_path, "none"), PARTITIONS)
    for result in results:
        failures = [e.event_specific_data.error.message for e in result.get_step_failure_events()]
        assert result.success, failures
    assert_exactly_the_truth(tmp_path / "lake", truth, PARTITIONS)


def test_rows_keep_the_record_as_received_and_where_it_came_from(tmp_path, truth):
    [result] = ingest(_environ(tmp_path, "none"), ["2026-11-20"])
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    contacts = metadata["raw/hubspot/contacts"]
    records, requests = contacts["records"].value, contacts["requests"].value
    # A search page and the association read of its records, at least.
    assert records > 0 and requests >= 2
    assert contacts["requests_per_record"].value == pytest.approx(requests / records, abs=1e-4)
    frame = landed(tmp_path / "lake", "hubspot/contacts", "2026-11-20")
    assert frame.height > 0
    assert frame.schema["updated_at"] == pl.Datetime("us", "UTC")
    row = frame.row(0, named=True)
    assert row["payload"].startswith('{"id":')
    assert row["request"].startswith("POST http://sandbox.cdp.invalid/hubspot/crm/v3/objects/contacts/search")
    assert str(row["partition_date"]) == "2026-11-20"
    assert row["updated_at"].date().isoformat() == "2026-11-20"


# The storms below use the tempest profile (short pages, several times the storm's data faults,
# expired sessions) on a population whose two weeks of history put tens to hundreds of records in each
# day, so a partition's stream slices run to several pages and every paging fault gets its chance;
# each test asserts from the sandbox's counters that every fault kind it names really happened.
STORM_SPAN_DAYS = 14
STORM_MINIMUM_PER_KIND = 3
# GA4 pages by offset and limit, which the sandbox honours exactly: a small limit gives it pages too.
STORM_PAGE_SIZES = {"CDP_GOOGLE_ANALYTICS_PAGE_SIZE": "25"}


@pytest.fixture
def storm_server():
    server = SandboxServer(
        "--persons",
        str(PERSONS),
        "--seed",
        "7",
        "--today",
        SANDBOX_TODAY,
        "--span-days",
        str(STORM_SPAN_DAYS),
        "--faults",
        "tempest",
        # Quotas stay on, their windows twenty times shorter: the many short pages would otherwise
        # spend most of the test waiting for HubSpot's ten seconds and Twitter's fifteen minutes.
        "--time-scale",
        "20",
    )
    yield server
    server.stop()


def test_storm_on_a_real_port_loses_and_doubles_nothing(tmp_path, storm_server, monkeypatch):
    """The sandbox served by ``cdp-sandbox serve --faults tempest``: 429 bursts, 5xx, slow and cut
    responses, expired sessions, duplicated records, repeated cursors, self links, empty last pages;
    quotas on."""
    # A short deadline, so that the storm's slow responses cost seconds, not minutes.
    environ = {
        **_environ(tmp_path, "none"),
        **storm_server.environ(monkeypatch),
        **STORM_PAGE_SIZES,
        "CDP_HTTP_TIMEOUT_SECONDS": "3",
    }
    results = ingest(environ, PARTITIONS)
    for result in results:
        assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]
    truth = truth_records(PERSONS, 7, tmp_path / "truth", span_days=STORM_SPAN_DAYS)
    assert_exactly_the_truth(tmp_path / "lake", truth, PARTITIONS)
    # ... and that green means something: the client met every fault kind the docstring names.
    assert_every_fault_happened(storm_server.stats(), STORM_MINIMUM_PER_KIND)
