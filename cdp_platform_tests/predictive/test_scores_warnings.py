"""A fit that succeeds on data breaking the model's assumptions says so where people look: the run's
log, the metadata and the fit_supported check, not only the step's stderr."""

from __future__ import annotations

import logging

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.io.warehouse import WarehouseIOManager
from cdp_platform.predictive.assets import client_scores
from cdp_platform.predictive.simulation import SimulatedCustomers


def test_spend_tied_to_frequency_is_reported_by_the_asset(tmp_path, simulated_20k: SimulatedCustomers):
    # Each purchase worth more the more often its customer buys: Gamma-Gamma's independence broken.
    purchases = (  # noqa: F841  (read by DuckDB by name)
        simulated_20k.transactions.with_columns(
            (pl.col("amount") * pl.len().over("customer_id")).alias("amount"),
            pl.col("customer_id").cast(pl.String).alias("client_id"),
            pl.col("date").alias("purchased_at"),
        )
        .select("client_id", "purchased_at", "amount")
        .to_arrow()
    )
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema intermediate")
        connection.execute("create table intermediate.int_client_purchases as select * from purchases")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [client_scores],
        resources={
            "io_manager": WarehouseIOManager(database=str(path)),
            "warehouse": DuckDBResource(database=str(path)),
        },
        instance=instance,
    )
    check = result.get_asset_check_evaluations()[0]
    assert check.passed  # the fit is supported, with a caveat
    assert "correlated" in check.description
    assert check.metadata["fit_warnings"].value == 1
    metadata = result.asset_materializations_for_node("client_scores")[0].metadata
    [message] = metadata["fit_warnings"].value
    assert "correlated" in message and "CLV will be biased" in message
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("correlated" in m for m in logged), logged
