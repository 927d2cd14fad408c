"""The raw lake IO manager, run identically on a local folder and on a real S3 endpoint."""

import dagster as dg
import polars as pl
import pytest

from cdp_platform.io.lake import LakeError
from cdp_platform.io.lake_io_manager import RawLakeIOManager, partition_file

DAILY = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")


def _rows_for(day: str, n: int = 3) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"{day}-{i}" for i in range(n)], "day": [day] * n, "value": list(range(n))})


@dg.asset(key=["raw", "test", "events"], partitions_def=DAILY)
def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return _rows_for(context.partition_key, n=int(context.partition_key[-1]))


@dg.asset(partitions_def=DAILY, ins={"raw_test_events": dg.AssetIn(key=["raw", "test", "events"])})
def per_day(raw_test_events: pl.DataFrame) -> pl.DataFrame:
    return raw_test_events


@dg.asset(
    partitions_def=DAILY,
    ins={
        "raw_test_events": dg.AssetIn(
            key=["raw", "test", "events"],
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=0),
        )
    },
)
def three_day_window(raw_test_events: pl.DataFrame) -> pl.DataFrame:
    return raw_test_events


@dg.asset(ins={"raw_test_events": dg.AssetIn(key=["raw", "test", "events"])})
def everything(raw_test_events: pl.DataFrame) -> pl.DataFrame:
    return raw_test_events


@dg.asset(
    ins={
        "raw_test_events": dg.AssetIn(
            key=["raw", "test", "events"], metadata={"allow_missing_partitions": True}
        )
    }
)
def whatever_exists(raw_test_events: pl.DataFrame) -> pl.DataFrame:
    return raw_test_events


def _io(lake_root: tuple[str, str | None]) -> RawLakeIOManager:
    root, endpoint = lake_root
    return RawLakeIOManager(lake_root=root, s3_endpoint_url=endpoint)


def _materialize(assets, io_manager, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources={"io_manager": io_manager}, **kwargs)


def test_partition_lands_at_its_own_key_with_metadata(lake_root, lake):
    io = _io(lake_root)
    result = _materialize([events], io, partition_key="2026-11-03")
    key = partition_file(dg.AssetKey(["raw", "test", "events"]), "2026-11-03")
    assert key == "raw/test/events/2026-11-03.parquet"
    assert lake.exists(key)
    meta = result.asset_materializations_for_node("raw__test__events")[0].metadata
    assert meta["row_count"].value == 3
    assert meta["bytes"].value == lake.size(key)
    assert meta["uri"].value == lake.uri(key)
    columns = [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert columns == ["id", "day", "value"]


def test_the_written_schema_keeps_the_descriptions_the_asset_declares(lake_root):
    """The UI shows the latest materialization's column schema: it must still say what a column
    holds, for the columns the asset's declared schema describes."""
    declared = dg.TableSchema(columns=[dg.TableColumn("id", "String", description="The event's id.")])

    @dg.asset(
        key=["raw", "test", "events"], partitions_def=DAILY, metadata={"dagster/column_schema": declared}
    )
    def described(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _rows_for(context.partition_key)

    result = _materialize([described], _io(lake_root), partition_key="2026-11-03")
    schema = result.asset_materializations_for_node("raw__test__events")[0].metadata["dagster/column_schema"]
    assert {c.name: c.description for c in schema.schema.columns} == {
        "id": "The event's id.",
        "day": None,
        "value": None,
    }


def test_overwriting_one_partition_leaves_the_others_untouched(lake_root, lake):
    io = _io(lake_root)
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        _materialize([events], io, partition_key=day)
    before = {day: lake.read_bytes(f"raw/test/events/{day}.parquet") for day in ("2026-11-02", "2026-11-04")}

    @dg.asset(key=["raw", "test", "events"], partitions_def=DAILY)
    def events_v2(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _rows_for(context.partition_key, n=7)

    _materialize([events_v2], io, partition_key="2026-11-03")
    loaded = _materialize([events_v2, per_day], io, partition_key="2026-11-03", selection=[per_day])
    frame = loaded.output_for_node("per_day")
    assert frame.height == 7  # replaced, not appended
    assert frame["id"].n_unique() == 7
    for day, data in before.items():
        assert lake.read_bytes(f"raw/test/events/{day}.parquet") == data


def test_range_load_into_partitioned_downstream(lake_root):
    io = _io(lake_root)
    for day in ("2026-11-03", "2026-11-04", "2026-11-05"):
        _materialize([events], io, partition_key=day)
    result = _materialize(
        [events, three_day_window], io, partition_key="2026-11-05", selection=[three_day_window]
    )
    frame = result.output_for_node("three_day_window")
    assert sorted(frame["day"].unique().to_list()) == ["2026-11-03", "2026-11-04", "2026-11-05"]
    assert frame.height == 3 + 4 + 5


def test_missing_partition_in_a_range_is_a_clear_error(lake_root):
    io = _io(lake_root)
    for day in ("2026-11-03", "2026-11-05"):
        _materialize([events], io, partition_key=day)
    with pytest.raises(
        LakeError, match=r"raw/test/events: 1 partition\(s\) .* never materialized \(2026-11-04\)"
    ):
        _materialize([events, three_day_window], io, partition_key="2026-11-05", selection=[three_day_window])


def test_unpartitioned_downstream_loads_all_partitions(lake_root):
    io = _io(lake_root)
    days = [DAILY.get_partition_keys()[i] for i in range(len(DAILY.get_partition_keys()))]
    for day in days:
        _materialize([events], io, partition_key=day)
    frame = _materialize([events, everything], io, selection=[everything]).output_for_node("everything")
    assert frame.height == sum(int(day[-1]) for day in days)


def test_unpartitioned_downstream_can_opt_into_missing_partitions(lake_root):
    io = _io(lake_root)
    _materialize([events], io, partition_key="2026-11-02")
    with pytest.raises(LakeError, match="never materialized"):
        _materialize([events, everything], io, selection=[everything])
    frame = _materialize([events, whatever_exists], io, selection=[whatever_exists]).output_for_node(
        "whatever_exists"
    )
    assert frame["day"].unique().to_list() == ["2026-11-02"]


def test_columns_added_by_a_later_partition_are_kept(lake_root):
    io = _io(lake_root)
    _materialize([events], io, partition_key="2026-11-02")

    @dg.asset(key=["raw", "test", "events"], partitions_def=DAILY)
    def drifted(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _rows_for(context.partition_key).with_columns(extra=pl.lit("new"))

    _materialize([drifted], io, partition_key="2026-11-03")
    frame = _materialize([drifted, whatever_exists], io, selection=[whatever_exists]).output_for_node(
        "whatever_exists"
    )
    assert frame.filter(pl.col("day") == "2026-11-02")["extra"].null_count() == 2
    assert frame.filter(pl.col("day") == "2026-11-03")["extra"].to_list() == ["new"] * 3


def test_non_dataframe_output_names_the_asset(lake_root):
    @dg.asset(key=["raw", "test", "bad"])
    def bad() -> dict:
        return {"not": "a frame"}

    with pytest.raises(TypeError, match="raw/test/bad: the raw lake stores polars DataFrames, got dict"):
        _materialize([bad], _io(lake_root))


@dg.asset(key=["raw", "test", "ranged"], partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """A range run's one output: rows of several days, told apart by ``partition_date``; the
    middle day of the range has no rows."""
    days = [key for key in context.partition_keys if key != "2026-11-04"]
    return pl.concat([_rows_for(day, n=int(day[-1])) for day in days]).with_columns(
        pl.col("day").str.to_date().alias("partition_date")
    )


def test_a_range_output_lands_one_file_per_day_with_each_days_own_metadata(lake_root, lake):
    io = _io(lake_root)
    result = _materialize(
        [ranged],
        io,
        tags={
            "dagster/asset_partition_range_start": "2026-11-03",
            "dagster/asset_partition_range_end": "2026-11-05",
        },
    )
    events = {e.partition: e.metadata for e in result.asset_materializations_for_node("raw__test__ranged")}
    assert sorted(events) == ["2026-11-03", "2026-11-04", "2026-11-05"]
    for day, rows in {"2026-11-03": 3, "2026-11-04": 0, "2026-11-05": 5}.items():
        key = f"raw/test/ranged/{day}.parquet"
        frame = pl.read_parquet(lake.read_bytes(key))
        assert frame.height == rows
        assert set(frame["day"]) <= {day}
        assert frame.schema["partition_date"] == pl.Date  # an empty day keeps the columns and types
        assert events[day]["row_count"].value == rows
        assert events[day]["uri"].value == lake.uri(key)
        assert events[day]["bytes"].value == lake.size(key)


def test_a_range_output_with_rows_outside_the_range_is_refused(lake_root, lake):
    @dg.asset(
        key=["raw", "test", "ranged"], partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run()
    )
    def spills(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _rows_for("2026-11-07").with_columns(pl.col("day").str.to_date().alias("partition_date"))

    with pytest.raises(
        ValueError, match=r"rows of 2026-11-07 are outside the run's range 2026-11-03\.\.2026-11-05"
    ):
        _materialize(
            [spills],
            _io(lake_root),
            tags={
                "dagster/asset_partition_range_start": "2026-11-03",
                "dagster/asset_partition_range_end": "2026-11-05",
            },
        )
    assert not lake.exists("raw/test/ranged/2026-11-03.parquet")
