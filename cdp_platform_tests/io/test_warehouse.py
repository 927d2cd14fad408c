"""The DuckDB warehouse IO manager: partition slices replaced, empty partitions, drift, loads."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from cdp_platform.io.warehouse import WAREHOUSE_POOL, WarehouseIOManager

DAILY = dg.DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")
SIZES = {"2026-11-02": 2, "2026-11-03": 3, "2026-11-04": 0}


def _frame(day: str, n: int, **extra) -> pl.DataFrame:
    frame = pl.DataFrame(
        {"id": [f"{day}-{i}" for i in range(n)], "partition_date": [day] * n, "amount": [1.5] * n},
        schema={"id": pl.String, "partition_date": pl.String, "amount": pl.Float64},
    )
    return frame.with_columns(**{k: pl.lit(v) for k, v in extra.items()})


@dg.asset(
    key=["cleansed", "test", "orders"],
    partitions_def=DAILY,
    metadata={"partition_expr": "cast(partition_date as date)", "schema": "cleansed_test"},
    pool=WAREHOUSE_POOL,
)
def orders(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return _frame(context.partition_key, SIZES.get(context.partition_key, 1))


@dg.asset(ins={"orders": dg.AssetIn(key=["cleansed", "test", "orders"])})
def order_total(orders: pl.DataFrame) -> pl.DataFrame:
    return orders.select(pl.len().alias("rows"))


def _io(tmp_path: Path) -> WarehouseIOManager:
    return WarehouseIOManager(database=str(tmp_path / "warehouse.duckdb"))


def _rows(tmp_path: Path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select partition_date, count(*) from cleansed_test.orders group by 1 order by 1"
        ).fetchall()


def test_rerunning_a_partition_replaces_only_its_slice(tmp_path):
    io = _io(tmp_path)
    for day in ("2026-11-02", "2026-11-03"):
        dg.materialize([orders], partition_key=day, resources={"io_manager": io})
    assert _rows(tmp_path) == [("2026-11-02", 2), ("2026-11-03", 3)]
    SIZES["2026-11-03"] = 5
    try:
        dg.materialize([orders], partition_key="2026-11-03", resources={"io_manager": io})
    finally:
        SIZES["2026-11-03"] = 3
    assert _rows(tmp_path) == [("2026-11-02", 2), ("2026-11-03", 5)]


def test_an_empty_partition_keeps_a_queryable_table(tmp_path):
    io = _io(tmp_path)
    result = dg.materialize([orders], partition_key="2026-11-04", resources={"io_manager": io})
    assert _rows(tmp_path) == []
    meta = result.asset_materializations_for_node("cleansed__test__orders")[0].metadata
    assert meta["dagster/row_count"].value == 0
    assert meta["table"].value == "cleansed_test.orders"


def test_a_new_column_is_added_not_fatal(tmp_path):
    io = _io(tmp_path)
    dg.materialize([orders], partition_key="2026-11-02", resources={"io_manager": io})

    @dg.asset(
        key=["cleansed", "test", "orders"],
        partitions_def=DAILY,
        metadata={"partition_expr": "cast(partition_date as date)", "schema": "cleansed_test"},
    )
    def orders_drifted(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return _frame(context.partition_key, 2, channel="web")

    dg.materialize([orders_drifted], partition_key="2026-11-03", resources={"io_manager": io})
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select partition_date, channel from cleansed_test.orders order by 1, 2"
        ).fetchall()
    assert rows == [("2026-11-02", None), ("2026-11-02", None), ("2026-11-03", "web"), ("2026-11-03", "web")]


def test_unpartitioned_downstream_reads_every_partition(tmp_path):
    io = _io(tmp_path)
    for day in ("2026-11-02", "2026-11-03"):
        dg.materialize([orders], partition_key=day, resources={"io_manager": io})
    result = dg.materialize([orders, order_total], selection=[order_total], resources={"io_manager": io})
    assert result.output_for_node("order_total")["rows"].to_list() == [5]
