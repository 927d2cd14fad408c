"""Customers drawn from known BG/NBD and Gamma-Gamma parameters, to check that fits find them again.

The generative story is the published one, independent of the sandbox's code: each customer gets
lambda ~ Gamma(r, rate alpha), a dropout probability p ~ Beta(a, b) and a spend rate
nu ~ Gamma(q, rate gamma). They make a first purchase at a uniform time in the acquisition window,
then buy as a Poisson process of rate lambda and drop out after each repeat purchase with probability
p; every purchase is worth Gamma(p_spend, rate nu). Vectorized numpy with one seeded generator: a
million customers take a couple of seconds.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class TrueParameters:
    """BG/NBD (r, alpha per day, a, b) and Gamma-Gamma (p, q, gamma); defaults are the sandbox's."""

    r: float = 0.75
    alpha: float = 60.0
    a: float = 0.8
    b: float = 2.5
    p: float = 6.0
    q: float = 3.8
    gamma: float = 40.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class SimulatedCustomers:
    """Purchases (``customer_id``, ``date`` as UTC ms ``Datetime``, ``amount``) and each customer's
    latent ``lambda``, ``dropout``, ``nu``, repeat count and whether they are ``alive`` at ``end``."""

    transactions: pl.DataFrame
    customers: pl.DataFrame
    end: datetime.datetime


def simulate_customers(
    n_customers: int,
    parameters: TrueParameters = TrueParameters(),
    *,
    seed: int,
    start: datetime.datetime = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    acquisition_days: float = 365.0,
    observation_days: float = 730.0,
) -> SimulatedCustomers:
    """Simulate ``n_customers`` acquired uniformly over the first ``acquisition_days`` and followed
    until ``observation_days`` after ``start``."""
    if not 0 < acquisition_days <= observation_days:
        raise ValueError("need 0 < acquisition_days <= observation_days")
    rng = np.random.default_rng(seed)
    n = int(n_customers)
    first = rng.random(n) * acquisition_days
    horizon = observation_days - first
    lam = rng.gamma(parameters.r, 1.0 / parameters.alpha, n)
    dropout = rng.beta(parameters.a, parameters.b, n)
    nu = rng.gamma(parameters.q, 1.0 / parameters.gamma, n)
    # The Poisson process's arrivals within the horizon, of which the first `lifetime` happen.
    arrivals = rng.poisson(lam * horizon)
    # Beta draws can underflow to exactly 0 (a customer who never drops out), which geometric refuses;
    # one chance in 1e12 per purchase is the same thing over any horizon simulated here.
    lifetime = rng.geometric(np.maximum(dropout, 1e-12))
    repeats = np.minimum(arrivals, lifetime)

    owner = np.repeat(np.arange(n), arrivals)
    offset = rng.random(owner.size) * horizon[owner]
    order = np.lexsort((offset, owner))
    owner, offset = owner[order], offset[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    kept = rank < repeats[owner]
    owner = np.concatenate((np.arange(n), owner[kept]))
    day = np.concatenate((first, first[owner[n:]] + offset[kept]))
    amount = rng.gamma(parameters.p, 1.0 / nu[owner])

    start_ms = int(start.timestamp() * 1000)
    transactions = pl.DataFrame(
        {
            "customer_id": owner.astype(np.int64),
            "date": (start_ms + np.round(day * MS_PER_DAY)).astype(np.int64),
            "amount": amount,
        }
    ).with_columns(pl.col("date").cast(pl.Datetime("ms", "UTC")))
    customers = pl.DataFrame(
        {
            "customer_id": np.arange(n, dtype=np.int64),
            "lambda": lam,
            "dropout": dropout,
            "nu": nu,
            "repeats": repeats.astype(np.int64),
            # Dropout follows the lifetime-th repeat purchase; fewer arrivals than that: still alive.
            "alive": arrivals < lifetime,
        }
    )
    return SimulatedCustomers(
        transactions=transactions.sort("customer_id", "date"),
        customers=customers,
        end=start + datetime.timedelta(days=observation_days),
    )
