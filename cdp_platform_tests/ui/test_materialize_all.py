"""The browser test of a newcomer's first hour: "Materialize all" on the quick look, from the UI.

``scripts/dev.sh`` starts the platform as the README's quick look does (``CDP_SANDBOX_SPAN_DAYS=10``,
nothing else: the partitions follow the sandbox's history by themselves) on an empty home. Debian's
chromium, driven by Playwright, opens the global asset graph, clicks "Materialize all", picks all
partitions ("All") and clicks "Launch backfill", exactly as a user does. The test then waits for
the backfill to end and requires what the issue asks of it: the backfill **Succeeded**, every
asset materialized in every partition (the timeline included), and no check of ERROR severity
failed (WARN checks that did not pass are printed with their descriptions: they flag what they
exist to flag, such as a quarantined malformed email). Screenshots of the dialog and of the
backfill's page are kept in ``test-artifacts/ui/``.

It builds the whole quick look (a few minutes on two cores), so it is marked slow and browser.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import RunsFilter
from dagster._core.storage.tags import BACKFILL_ID_TAG

from cdp_platform_tests.support import dagster_dev as dev
from cdp_platform_tests.support.services import free_port
from cdp_platform_tests.ui.test_asset_graph import ARTIFACTS, browser_page, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The goal for the quick look is three minutes; the test allows for a loaded machine.
BACKFILL_TIMEOUT_SECONDS = 1800
PARTITION_KEYS = """{ assetNodeOrError(assetKey: {path: ["raw", "hubspot", "contacts"]}) {
  ... on AssetNode { partitionKeys } } }"""
BACKFILLS = """{ partitionBackfillsOrError(limit: 5) { __typename
  ... on PartitionBackfills { results { id status numPartitions } } } }"""


@pytest.fixture
def quick_look(tmp_path):
    """The README's quick look on a free port, from an empty home; stopped as Ctrl-C stops it."""
    port = free_port()
    environ = {
        **dev.dev_environment(tmp_path),
        "CDP_SANDBOX_SPAN_DAYS": "10",
        "CDP_PSEUDONYMIZED_WAREHOUSE_PATH": str(tmp_path / "pseudonymized.duckdb"),
    }
    environ.pop("CDP_PARTITIONS_START", None)
    server = dev.start(dev.readme_command(port), environ, port, tmp_path / "dagster-dev.log")
    try:
        yield server
    finally:
        graceful, leaked = dev.stop(server)
    assert graceful and not leaked, "dagster dev did not stop cleanly"


def _launch_materialize_all(server: dev.DevServer) -> None:
    keys = server.graphql(PARTITION_KEYS)["assetNodeOrError"]["partitionKeys"]
    with browser_page({"width": 1600, "height": 1000}, ARTIFACTS / "materialize-all-dialog.png") as page:
        page.goto(f"{server.url}/asset-groups")
        page.get_by_role("button", name="Materialize all").click()
        dialog = page.get_by_role("dialog")
        # The dialog opens on a custom selection of no partition, within a default date window:
        # all time ("Clear" under the range), then the "All" quick pick, as a user does.
        clear = dialog.get_by_text("Clear", exact=True)
        if clear.count():
            clear.first.click()
        dialog.get_by_role("button", name="All", exact=True).click()
        dialog.get_by_text(f"{len(keys)} partitions", exact=True).first.wait_for()
        launch = dialog.get_by_role("button", name="Launch backfill")
        launch.click()
        page.get_by_text("Created backfill").first.wait_for()


def _wait_for_the_backfill(server: dev.DevServer) -> dict:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    backfill = None
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_tail()
        results = server.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
        assert len(results) == 1, results  # the one the browser launched
        backfill = results[0]
        if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            return backfill
        time.sleep(5)
    pytest.fail(
        f"the backfill did not end within {BACKFILL_TIMEOUT_SECONDS} s: {backfill}\n{server.log_tail()}"
    )


def test_materialize_all_on_the_quick_look_ends_succeeded_with_every_partition(quick_look, capsys):
    require_chromium()
    dev.wait_loaded(quick_look)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _launch_materialize_all(quick_look)
    backfill = _wait_for_the_backfill(quick_look)
    with browser_page({"width": 1600, "height": 1000}, ARTIFACTS / "materialize-all-backfill.png") as page:
        page.goto(f"{quick_look.url}/runs/b/{backfill['id']}?tab=partitions")
        page.get_by_text(backfill["id"]).first.wait_for()

    os.environ["DAGSTER_HOME"] = str(quick_look.home)
    with dg.DagsterInstance.get() as instance:
        stored = instance.get_backfill(backfill["id"])
        runs = instance.get_runs(filters=RunsFilter(tags={BACKFILL_ID_TAG: backfill["id"]}))
        target = stored.asset_backfill_data.target_subset
        short = {}
        for key in target.asset_keys:
            subset = target.get_asset_subset(key)
            if subset.is_partitioned:
                wanted = set(subset.subset_value.get_partition_keys())
                done = instance.get_materialized_partitions(key) & wanted
                if done != wanted:
                    short[key.to_user_string()] = f"{len(done)}/{len(wanted)}"
            elif instance.get_latest_materialization_event(key) is None:
                short[key.to_user_string()] = "0/1"
        evaluations = [
            record.dagster_event.event_specific_data
            for run in runs
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
    failed_runs = [run.run_id for run in runs if run.status != dg.DagsterRunStatus.SUCCESS]
    errors = [
        f"{e.asset_key.to_user_string()} {e.check_name}: {e.description}"
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    warnings = sorted(
        {
            f"{e.asset_key.to_user_string()} {e.check_name}: {e.description}"
            for e in evaluations
            if not e.passed and e.severity == dg.AssetCheckSeverity.WARN
        }
    )
    with capsys.disabled():
        print(
            f"\nbackfill {backfill['id']}: {backfill['status']}, {len(runs)} runs, {backfill['numPartitions']} partitions"
        )
        for line in warnings:
            print(f"  WARN check not passed: {line[:200]}")

    assert backfill["status"] == "COMPLETED_SUCCESS", (backfill, failed_runs)
    assert not failed_runs
    assert short == {}, f"assets not materialized in every partition: {short}"
    assert dg.AssetKey("client_interactions") in target.asset_keys
    assert errors == []
