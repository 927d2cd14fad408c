"""Raw ingestion under the sandbox's tempest faults (in process), then the cleansed layer on every
partition: raw holds exactly the truth, the accounting invariant holds everywhere, and what the
storm damaged is quarantined or named by the drift check."""

import datetime

import dagster as dg
import duckdb

from cdp_platform.cleansed import ENTITIES
from cdp_platform.definitions import build_definitions
from cdp_platform.sandbox.app import sandbox_stats
from cdp_platform.sandbox.in_process import sandbox_app, sandbox_config
from cdp_platform.settings import load_settings
from cdp_platform_tests.sources.support import (
    SANDBOX_TODAY,
    assert_every_fault_happened,
    assert_exactly_the_truth,
    ingest,
    truth_records,
)
from cdp_platform_tests.sources.test_raw_ingestion import (
    STORM_MINIMUM_PER_KIND,
    STORM_PAGE_SIZES,
    STORM_SPAN_DAYS,
)

PERSONS = 2000
PARTITIONS = ["2026-11-19", "2026-11-20"]


def test_storm_partitions_are_fully_accounted_for(tmp_path):
    environ = {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "CDP_SANDBOX_PERSONS": str(PERSONS),
        "CDP_SANDBOX_TODAY": SANDBOX_TODAY,
        "CDP_SANDBOX_SPAN_DAYS": str(STORM_SPAN_DAYS),
        "CDP_SANDBOX_FAULTS": "tempest",
        "CDP_HTTP_TIMEOUT_SECONDS": "3",
        **STORM_PAGE_SIZES,
    }
    # The in-process sandbox is one app per process and configuration: its counters may already
    # hold another test's faults, so only what this ingestion added is counted.
    config = sandbox_config(PERSONS, 7, datetime.date.fromisoformat(SANDBOX_TODAY), STORM_SPAN_DAYS)
    # (the same app the resources reach: the same configuration, faults and time scale)
    app, _ = sandbox_app(config, "tempest", load_settings(environ).sandbox.time_scale)
    before = sandbox_stats(app)
    for result in ingest(environ, PARTITIONS):
        assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]
    truth = truth_records(PERSONS, 7, tmp_path / "truth", span_days=STORM_SPAN_DAYS)
    assert_exactly_the_truth(tmp_path / "lake", truth, PARTITIONS)
    assert_every_fault_happened(sandbox_stats(app), STORM_MINIMUM_PER_KIND, before)
    defs = build_definitions(load_settings(environ))
    # Specs (webhook events) sit among the definitions too and have no op.
    ops = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
    cleansed = [a for a in ops if a.node_def.name.startswith("cleansed_")]
    raw = [a for a in ops if a.node_def.name.startswith("raw_")]
    evaluations = []
    for partition in PARTITIONS:
        result = dg.materialize(
            [*raw, *cleansed],
            selection=cleansed,
            partition_key=partition,
            resources=defs.resources,
            raise_on_error=False,
        )
        assert result.success, [e.event_specific_data.error.message for e in result.get_step_failure_events()]
        evaluations.extend(result.get_asset_check_evaluations())

    invariant = [e for e in evaluations if e.check_name == "raw_rows_accounted_for"]
    assert len(invariant) == len(ENTITIES) * len(PARTITIONS)
    assert all(e.passed for e in invariant), [e.description for e in invariant if not e.passed]
    # Not all() over a filtered list alone: that is true when the checks vanish.
    identifiers = [e for e in evaluations if e.check_name == "identifiers_schema"]
    assert identifiers, "no identifiers_schema check ran"
    assert all(e.passed for e in identifiers), [e.description for e in identifiers if not e.passed]

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rules = {
            rule
            for entity in ENTITIES
            for (rule,) in con.execute(
                f"select distinct rule from {entity.schema_name}.{entity.entity}_rejected"
            ).fetchall()
        }
    drift = [e for e in evaluations if e.check_name == "schema_drift" and not e.passed]
    assert rules or drift, "the storm injected nothing the cleansed layer noticed"
    for e in drift:
        assert (
            "changed type of" in e.description
            or "new field" in e.description
            or "missing field" in e.description
        )
