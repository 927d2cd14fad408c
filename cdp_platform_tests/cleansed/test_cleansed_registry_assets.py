"""Two registry entities end to end in Dagster: raw partitions in a lake folder, cleansed tables,
quarantine and checks in a DuckDB file, through the real IO managers."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from cdp_platform.cleansed import cleansed_assets, entity
from cdp_platform.io.lake_io_manager import RawLakeIOManager
from cdp_platform.io.resources import RAW_IO_MANAGER_KEY
from cdp_platform.io.warehouse import WarehouseIOManager
from cdp_platform_tests.cleansed.malformations import corrupt, drift
from cdp_platform_tests.cleansed.raw_rows import raw_frame, records, shaped

DAILY = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")
DAY = "2026-11-02"


def _raw_contacts() -> pl.DataFrame:
    originals = records("hubspot/contacts", 30)
    rows = [
        *originals[:27],
        corrupt("hubspot/contacts", originals[27], "bad_email"),
        corrupt("hubspot/contacts", originals[28], "wrong_type"),
        {**originals[0], "updatedAt": "2020-01-01T00:00:00.000Z"},
    ]
    return raw_frame(
        "hubspot/contacts", [shaped("hubspot/contacts", r) for r in rows], date.fromisoformat(DAY)
    )


def _raw_mentions() -> pl.DataFrame:
    tweets = [drift("twitter/mentions", t) for t in records("twitter/mentions", 12)]
    return raw_frame(
        "twitter/mentions", [shaped("twitter/mentions", t) for t in tweets], date.fromisoformat(DAY)
    )


@dg.asset(key=["raw", "hubspot", "contacts"], partitions_def=DAILY, io_manager_key=RAW_IO_MANAGER_KEY)
def raw_hubspot_contacts() -> pl.DataFrame:
    return _raw_contacts()


@dg.asset(key=["raw", "twitter", "mentions"], partitions_def=DAILY, io_manager_key=RAW_IO_MANAGER_KEY)
def raw_twitter_mentions() -> pl.DataFrame:
    return _raw_mentions()


@pytest.fixture
def resources(tmp_path):
    return {
        RAW_IO_MANAGER_KEY: RawLakeIOManager(lake_root=str(tmp_path / "lake")),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "wh.duckdb")),
        "warehouse": DuckDBResource(database=str(tmp_path / "wh.duckdb")),
    }


def test_registry_assets_materialize_tables_quarantine_and_checks(resources, tmp_path):
    wanted = {("hubspot", "contacts"), ("twitter", "mentions")}
    cleansed = [a for a in cleansed_assets(DAILY, "US") if any(tuple(k.path[1:]) in wanted for k in a.keys)]
    assert len(cleansed) == 2
    raws = [raw_hubspot_contacts, raw_twitter_mentions]
    dg.materialize(raws, partition_key=DAY, resources=resources)
    result = dg.materialize(
        [*raws, *cleansed], partition_key=DAY, resources=resources, selection=cleansed, raise_on_error=False
    )
    assert result.success
    checks = {(e.asset_key.path[1], e.check_name): e for e in result.get_asset_check_evaluations()}
    for source in ("hubspot", "twitter"):
        assert checks[(source, "identifiers_schema")].passed
        assert checks[(source, "values_schema")].passed, checks[(source, "values_schema")].metadata
        assert checks[(source, "raw_rows_accounted_for")].passed
    assert checks[("hubspot", "raw_rows_accounted_for")].metadata["collapsed_duplicates"].value == 1
    # The single id served as a number is a malformed record and also a type the vendor changed.
    assert "changed type of id" in checks[("hubspot", "schema_drift")].description
    assert not checks[("twitter", "schema_drift")].passed
    assert "changed type of public_metrics.like_count" in checks[("twitter", "schema_drift")].description

    contacts = entity("hubspot", "contacts")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.execute(f"select count(*) from {contacts.schema_name}.contacts").fetchone() == (27,)
        rules = con.execute(
            "select rule, field from cleansed_hubspot.contacts_rejected order by rule"
        ).fetchall()
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'cleansed_hubspot' and table_name = 'contacts'"
            ).fetchall()
        )
        handles = con.execute(
            "select twitter_handle from cleansed_twitter.mentions where twitter_handle is not null"
        ).fetchall()
        metrics = con.execute("select sum(like_count) from cleansed_twitter.mentions").fetchone()[0]
        companies = con.execute("select count(company_id) from cleansed_hubspot.contacts").fetchone()[0]
    assert rules == [("invalid_email", "email"), ("wrong_type", "crm_id")]
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["date_of_birth"] == "DATE"
    assert companies > 0  # read from the raw row's context
    assert handles and all(h[0] == h[0].lower() and "@" not in h[0] for h in handles)
    assert metrics == sum(t["public_metrics"]["like_count"] for t in records("twitter/mentions", 12))
