"""The purchase process: maximum likelihood on the simulated purchases finds the known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.population import DAY_MS, Population, key_of, uniforms
from cdp_platform.sandbox.purchases import (
    PURCHASE_PARAMETERS,
    SYSTEM_CRM,
    SYSTEM_SECOND_CRM,
    PurchaseHistory,
    simulate_purchases,
)


def _simulate(persons: int, seed: int = 7) -> tuple[Population, PurchaseHistory, np.ndarray, np.ndarray]:
    population = Population(SandboxConfig(persons=persons, seed=seed))
    index = np.arange(persons)
    in_sf = uniforms(key_of(seed, "test", "sf"), index) < 0.45
    in_hs = uniforms(key_of(seed, "test", "hs"), index) < 0.6
    # The shop as the sandbox has it (its customers drawn by a hash keyed with its vendor's name).
    return population, simulate_purchases(population, in_sf, in_hs, shop="stripe"), in_sf, in_hs


@pytest.fixture(scope="module")
def simulated() -> tuple[Population, PurchaseHistory, np.ndarray, np.ndarray]:
    return _simulate(20_000)


def _summaries(population: Population, history: PurchaseHistory) -> tuple[np.ndarray, ...]:
    """Per customer: repeat count x, recency t_x and age T in days, and the mean purchase value."""
    owner = np.searchsorted(history.customer_person, history.person)
    last = np.zeros(history.customer_person.size, dtype=np.int64)
    np.maximum.at(last, owner, history.time_ms)
    count = np.bincount(owner, minlength=history.customer_person.size)
    first = history.customer_first_ms
    spend = np.bincount(owner, weights=history.amount_cents / 100, minlength=count.size)
    return count - 1, (last - first) / DAY_MS, (population.end_ms - 1 - first) / DAY_MS, count, spend / count


def test_simulation_is_deterministic_and_seed_dependent() -> None:
    _, first, _, _ = _simulate(3_000)
    _, again, _, _ = _simulate(3_000)
    _, other, _, _ = _simulate(3_000, seed=8)
    assert np.array_equal(first.time_ms, again.time_ms) and np.array_equal(
        first.amount_cents, again.amount_cents
    )
    assert not np.array_equal(first.amount_cents[:100], other.amount_cents[:100])


def test_purchases_are_consistent(
    simulated: tuple[Population, PurchaseHistory, np.ndarray, np.ndarray],
) -> None:
    population, history, in_sf, in_hs = simulated
    assert np.all(np.diff(history.customer_person) > 0)
    order = np.lexsort((history.time_ms, history.person))
    assert np.array_equal(order, np.arange(order.size)), "purchases are grouped by person, then time"
    assert np.all(history.time_ms < population.end_ms) and np.all(history.amount_cents > 0)
    # Exactly one first purchase per customer, at the recorded first time.
    firsts = ~history.repeat
    assert np.array_equal(history.person[firsts], history.customer_person)
    assert np.array_equal(history.time_ms[firsts], history.customer_first_ms)
    # A purchase lands only in a CRM the person is in.
    assert np.all(in_sf[history.person[history.system == SYSTEM_CRM]])
    assert np.all(in_hs[history.person[history.system == SYSTEM_SECOND_CRM]])
    x, *_ = _summaries(population, history)
    assert np.array_equal(x, history.customer_repeats)


def test_bg_nbd_parameters_are_recovered(
    simulated: tuple[Population, PurchaseHistory, np.ndarray, np.ndarray],
) -> None:
    population, history, _, _ = simulated
    x, t_x, age, _, _ = _summaries(population, history)

    def negative_log_likelihood(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        part1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        part2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        alive = -(r + x) * np.log(alpha + age)
        dropped = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
        return -float(np.sum(part1 + part2 + np.logaddexp(alive, dropped)))

    fit = minimize(
        negative_log_likelihood,
        np.log([1.0, 30.0, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
    )
    r, alpha, a, b = np.exp(fit.x)
    truth = PURCHASE_PARAMETERS
    assert r == pytest.approx(truth.r, rel=0.2)
    assert alpha == pytest.approx(truth.alpha, rel=0.25)
    assert a == pytest.approx(truth.a, rel=0.35)
    assert b == pytest.approx(truth.b, rel=0.35)


def test_gamma_gamma_mean_spend_is_recovered(
    simulated: tuple[Population, PurchaseHistory, np.ndarray, np.ndarray],
) -> None:
    population, history, _, _ = simulated
    _, _, _, count, mean_value = _summaries(population, history)

    def negative_log_likelihood(theta: np.ndarray) -> float:
        p, q, gamma = np.exp(theta)
        px = p * count
        return -float(
            np.sum(
                gammaln(px + q)
                - gammaln(px)
                - gammaln(q)
                + q * np.log(gamma)
                + (px - 1) * np.log(mean_value)
                + px * np.log(count)
                - (px + q) * np.log(gamma + mean_value * count)
            )
        )

    # Bounded search: the likelihood is flat along p -> infinity, where an unbounded search can drift.
    start = np.log([2.0, 2.0, float(np.mean(mean_value))])
    fit = minimize(negative_log_likelihood, start, method="L-BFGS-B", bounds=[(-3.0, 5.0)] * 3)
    p, q, gamma = np.exp(fit.x)
    truth = PURCHASE_PARAMETERS
    expected_mean = truth.p * truth.gamma / (truth.q - 1)
    assert p * gamma / (q - 1) == pytest.approx(expected_mean, rel=0.15)
    assert p == pytest.approx(truth.p, rel=0.35)
    assert q == pytest.approx(truth.q, rel=0.35)


def test_parameters_are_exposed_as_plain_data() -> None:
    exposed = PURCHASE_PARAMETERS.to_dict()
    assert {"r", "alpha", "a", "b", "p", "q", "gamma"} <= set(exposed)
    assert exposed["time_unit"] == "day"
