"""The cleansed machinery on a synthetic entity: quarantine, latest version, invariant, drift, checks."""

import json
from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import pandera.polars as pa
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from cdp_platform.cleansed.assets import build_cleansed_asset
from cdp_platform.cleansed.checks import drift_differences, observed_fields
from cdp_platform.cleansed.entity import CleansedEntity, Field, cleanse
from cdp_platform.io.lake_io_manager import RawLakeIOManager
from cdp_platform.io.resources import RAW_IO_MANAGER_KEY
from cdp_platform.io.warehouse import WarehouseIOManager

DAILY = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")

ENTITY = CleansedEntity(
    source="acme",
    entity="people",
    raw_stream="people",
    fields=(
        Field("email", "email", "$.email"),
        Field("phone", "phone", "$.phone"),
        Field("first_name", "name", "$.name.first"),
        Field("created_at", "timestamp", "$.created", required=True),
        Field("spend", "amount", "$.spend"),
    ),
    schema=pa.DataFrameSchema(
        {
            "record_id": pa.Column(pl.String, nullable=False, unique=True),
            "email": pa.Column(pl.String, nullable=True, checks=pa.Check.str_matches(r"^[^@\s]+@[^@\s]+$")),
            "created_at": pa.Column(pl.Datetime("us", "UTC"), nullable=False),
            "spend": pa.Column(pl.Decimal(18, 2), nullable=True, checks=pa.Check.ge(0)),
        }
    ),
    key_columns=("record_id",),
    expected_payload={
        "id": "string",
        "email": "string",
        "phone": "string?",
        "name": "object",
        "name.first": "string",
        "created": "string",
        "spend": "number",
    },
)


def _raw(rows: list[dict], day: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_id": [r["id"] for r in rows],
            "updated_at": [datetime.fromisoformat(r.pop("_updated", f"{day}T12:00:00+00:00")) for r in rows],
            "payload": [json.dumps(r) for r in rows],
            "partition_date": [date.fromisoformat(day)] * len(rows),
        },
        schema={
            "record_id": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "payload": pl.String,
            "partition_date": pl.Date,
        },
    )


def _person(i: int, **overrides) -> dict:
    person = {
        "id": f"p{i}",
        "email": f"  Person{i}@Example.com ",
        "phone": "(415) 555-2671",
        "name": {"first": "ROBERT"},
        "created": "2026-11-02T10:00:00.000+0000",
        "spend": 12.5,
    }
    person.update(overrides)
    return person


RAW_BY_DAY = {
    "2026-11-02": [
        _person(1),
        _person(2, email="not an email"),
        _person(3, created="02/11/2026"),
        _person(4, spend="lots"),
        _person(5, created=None),
        _person(6, _updated="2026-11-02T09:00:00+00:00", name={"first": "old"}),
        _person(6, _updated="2026-11-02T15:00:00+00:00", name={"first": "new"}),
    ],
    "2026-11-03": [_person(7), _person(8, spend=-3, nickname="Bobby")],
}


def test_cleanse_accounts_for_every_raw_row():
    raw = _raw([dict(r) for r in RAW_BY_DAY["2026-11-02"]], "2026-11-02")
    result = cleanse(raw, ENTITY, date(2026, 11, 2))
    assert result.raw_rows == 7
    assert result.clean.height + result.rejected.height + result.collapsed == 7
    assert result.collapsed == 1
    rejected = {
        r["record_id"]: (r["rule"], r["field"], r["value"]) for r in result.rejected.iter_rows(named=True)
    }
    assert rejected == {
        "p2": ("invalid_email", "email", "not an email"),
        "p3": ("unparseable_timestamp", "created_at", "02/11/2026"),
        "p4": ("wrong_type", "spend", "lots"),
        "p5": ("missing_required", "created_at", None),
    }
    clean = {r["record_id"]: r for r in result.clean.iter_rows(named=True)}
    assert set(clean) == {"p1", "p6"}
    assert clean["p1"]["email"] == "person1@example.com"
    assert clean["p1"]["email_original"] == "  Person1@Example.com "
    assert clean["p1"]["phone"] == "+14155552671"
    assert clean["p1"]["first_name"] == "Robert"
    assert clean["p1"]["created_at"] == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert clean["p6"]["first_name"] == "New"  # the latest version of the id wins


def test_drift_names_each_difference():
    observed = observed_fields(
        [json.dumps({"id": "1", "email": 5, "name": {"first": "a"}, "created": "x", "extra": True})]
    )
    assert drift_differences(ENTITY.expected_payload, observed) == [
        "new field extra (boolean)",
        "missing field spend (expected number)",
        "changed type of email: expected string, got number",
    ]


@pytest.fixture
def resources(tmp_path):
    return {
        RAW_IO_MANAGER_KEY: RawLakeIOManager(lake_root=str(tmp_path / "lake")),
        "io_manager": WarehouseIOManager(database=str(tmp_path / "wh.duckdb")),
        "warehouse": DuckDBResource(database=str(tmp_path / "wh.duckdb")),
    }


@dg.asset(key=["raw", "acme", "people"], partitions_def=DAILY, io_manager_key=RAW_IO_MANAGER_KEY)
def raw_people(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return _raw([dict(r) for r in RAW_BY_DAY.get(context.partition_key, [])], context.partition_key)


CLEANSED = build_cleansed_asset(ENTITY, DAILY, "US")


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_partition_materializes_with_checks(resources, tmp_path):
    dg.materialize([raw_people], partition_key="2026-11-02", resources=resources)
    result = dg.materialize(
        [raw_people, CLEANSED],
        partition_key="2026-11-02",
        resources=resources,
        selection=[CLEANSED],
        raise_on_error=False,
    )
    evaluations = _checks(result)
    assert evaluations["identifiers_schema"].passed
    assert evaluations["raw_rows_accounted_for"].passed
    assert evaluations["raw_rows_accounted_for"].metadata["collapsed_duplicates"].value == 1
    assert evaluations["schema_drift"].passed, evaluations["schema_drift"].description
    assert not evaluations["quarantine_empty"].passed
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from cleansed_acme.people").fetchone() == (2,)
        rules = con.execute(
            "select rule, count(*) from cleansed_acme.people_rejected group by 1 order by 1"
        ).fetchall()
    assert rules == [
        ("invalid_email", 1),
        ("missing_required", 1),
        ("unparseable_timestamp", 1),
        ("wrong_type", 1),
    ]


def test_value_rules_and_drift_fail_with_samples(resources):
    dg.materialize([raw_people], partition_key="2026-11-03", resources=resources)
    result = dg.materialize(
        [raw_people, CLEANSED],
        partition_key="2026-11-03",
        resources=resources,
        selection=[CLEANSED],
        raise_on_error=False,
    )
    evaluations = _checks(result)
    values = evaluations["values_schema"]
    assert not values.passed
    assert values.metadata["failures"].value == 1
    assert "p8" in values.metadata["sample_failing_rows"].value
    assert "greater_than_or_equal_to(0)" in values.metadata["failures_by_check"].value
    drift = evaluations["schema_drift"]
    assert not drift.passed and "new field nickname (string)" in drift.description


def test_rerun_replaces_the_partition_and_range_backfill_is_one_run(resources, tmp_path):
    for day in ("2026-11-02", "2026-11-03"):
        dg.materialize([raw_people], partition_key=day, resources=resources)
    job = dg.define_asset_job("cleanse", selection=[CLEANSED])
    defs = dg.Definitions(assets=[raw_people, CLEANSED], jobs=[job], resources=resources)
    for _ in range(2):
        result = defs.resolve_job_def("cleanse").execute_in_process(
            tags={
                "dagster/asset_partition_range_start": "2026-11-02",
                "dagster/asset_partition_range_end": "2026-11-03",
            },
            raise_on_error=False,
        )
        assert _checks(result)["raw_rows_accounted_for"].passed
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select partition_date, count(*) from cleansed_acme.people group by 1 order by 1"
        ).fetchall()
    assert rows == [(date(2026, 11, 2), 2), (date(2026, 11, 3), 2)]
