"""The checks after the optimizer: each way a fit goes wrong raises its own named error."""

from __future__ import annotations

import numpy as np
import pytest

from cdp_platform.predictive.errors import (
    BoundaryFitError,
    ConvergenceError,
    DegenerateFitError,
    PredictiveWarning,
)
from cdp_platform.predictive.mle import maximize

NAMES = ("u", "v")


def test_a_well_posed_objective_gives_values_and_standard_errors() -> None:
    # Minimum at log-parameters (1, -2), curvature 2 in each: covariance 1/(2n) on the log scale.
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        shift = theta - np.array([1.0, -2.0])
        return float(shift @ shift), 2 * shift

    fit = maximize(objective, np.array([1.0, 1.0]), NAMES, 200, "test")
    np.testing.assert_allclose(fit.values, np.exp([1.0, -2.0]), rtol=1e-6)
    np.testing.assert_allclose(fit.standard_errors, fit.values * np.sqrt(1 / 400), rtol=1e-4)


def test_an_optimum_at_a_bound_is_refused() -> None:
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(-theta[0] + theta[1] ** 2), np.array([-1.0, 2 * theta[1]])

    with pytest.raises(BoundaryFitError, match=r"u=") as caught:
        maximize(objective, np.array([1.0, 1.0]), NAMES, 100, "test")
    assert "v=" not in caught.value.reason


def test_a_flat_direction_is_refused() -> None:
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(theta[0] ** 2), np.array([2 * theta[0], 0.0])

    with pytest.raises(DegenerateFitError, match="flat"):
        maximize(objective, np.array([2.0, 3.0]), NAMES, 100, "test")


def test_stopping_away_from_a_stationary_point_is_refused() -> None:
    # A kink: the gradient never vanishes, so the optimizer stalls next to the minimum.
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(np.abs(theta - 0.3).sum()), np.sign(theta - 0.3)

    with pytest.raises(ConvergenceError, match="without reaching"):
        maximize(objective, np.array([3.0, 5.0]), NAMES, 100, "test")


def test_a_non_finite_likelihood_is_refused() -> None:
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float("nan"), np.full(2, np.nan)

    with pytest.raises(ConvergenceError, match="non-finite"):
        maximize(objective, np.array([1.0, 1.0]), NAMES, 100, "test")


def test_a_barely_determined_parameter_warns() -> None:
    # Curvature 1e-4 with 10 observations: a log-scale standard error of about 70.
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(theta[0] ** 2 + 1e-4 * theta[1] ** 2), np.array([2 * theta[0], 2e-4 * theta[1]])

    with pytest.warns(PredictiveWarning, match="barely determined"):
        maximize(objective, np.array([2.0, 1.5]), NAMES, 10, "test")
