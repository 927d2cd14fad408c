"""Shared simulated data for the predictive tests: drawn once per session, from known parameters."""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.predictive.simulation import SimulatedCustomers, simulate_customers
from cdp_platform.predictive.summary import summarize_transactions


@pytest.fixture(scope="session")
def simulated_100k() -> SimulatedCustomers:
    return simulate_customers(100_000, seed=1)


@pytest.fixture(scope="session")
def summary_100k(simulated_100k: SimulatedCustomers) -> pl.DataFrame:
    return summarize_transactions(simulated_100k.transactions, simulated_100k.end)


@pytest.fixture(scope="session")
def simulated_20k() -> SimulatedCustomers:
    return simulate_customers(20_000, seed=11)


@pytest.fixture(scope="session")
def summary_20k(simulated_20k: SimulatedCustomers) -> pl.DataFrame:
    return summarize_transactions(simulated_20k.transactions, simulated_20k.end)
