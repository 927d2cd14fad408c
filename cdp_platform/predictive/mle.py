"""Maximum likelihood for models with positive parameters, and the checks that make a fit trustworthy.

Parameters are optimized on the log scale (positivity for free, and step sizes that mean the same for
alpha = 0.5 and alpha = 500) with L-BFGS-B and an analytic gradient. An optimizer returning is not the
same as a model being identified, so after it stops we check, and raise a named error otherwise:

- the gradient is near zero (else :class:`ConvergenceError`);
- no parameter sits at its bound (else :class:`BoundaryFitError`: the data push the model to a limit,
  such as "nobody ever drops out", that no finite parameter value represents);
- the Hessian, by central differences of the analytic gradient, is positive definite and not nearly
  singular (else :class:`DegenerateFitError`); its inverse gives the standard errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from cdp_platform.predictive.errors import (
    BoundaryFitError,
    ConvergenceError,
    DegenerateFitError,
    PredictiveWarning,
)

# Mean negative log-likelihood and its gradient, both with respect to the log-parameters.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]

# exp(±18) spans 1.5e-8 .. 6.6e7: far beyond any sensible value of these models once the data are
# rescaled to unit mean (see the callers), so touching a bound means the optimum is at a limit.
LOG_BOUND = 18.0
_BOUNDARY_MARGIN = 0.5
# On the mean log-likelihood, per customer: far below any gradient that moves the fit visibly.
_GRADIENT_TOLERANCE = 1e-4
# Smallest Hessian eigenvalue relative to the largest before the optimum counts as flat.
_MIN_CURVATURE_RATIO = 1e-9
# A relative standard error above this means the data say next to nothing about the parameter.
_WEAK_RELATIVE_ERROR = 1.0


@dataclass(frozen=True)
class MaximumLikelihood:
    """Where the optimizer stopped, on the natural scale, with standard errors from the Hessian."""

    values: np.ndarray
    standard_errors: np.ndarray
    iterations: int
    gradient_norm: float


def maximize(
    objective: Objective,
    start: np.ndarray,
    names: Sequence[str],
    n_observations: int,
    model: str,
) -> MaximumLikelihood:
    """Fit by L-BFGS-B from ``start`` (natural scale) and run the checks in the module docstring."""
    names = tuple(names)
    theta0 = np.clip(np.log(np.asarray(start, dtype=float)), -LOG_BOUND + 1, LOG_BOUND - 1)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20},
        )
    theta = np.asarray(result.x, dtype=float)
    if not np.isfinite(result.fun) or not np.all(np.isfinite(theta)):
        raise ConvergenceError(f"{model}: the likelihood became non-finite during the fit ({result.message})")
    at_bound = [
        f"{name}={np.exp(value):.3g}"
        for name, value in zip(names, theta, strict=True)
        if abs(value) > LOG_BOUND - _BOUNDARY_MARGIN
    ]
    if at_bound:
        raise BoundaryFitError(
            f"{model}: the optimum is at a parameter bound ({', '.join(at_bound)}); the data push the "
            "model to a limiting case it cannot represent"
        )
    _, gradient = objective(theta)
    gradient_norm = float(np.max(np.abs(gradient)))
    if not np.isfinite(gradient_norm) or gradient_norm > _GRADIENT_TOLERANCE:
        raise ConvergenceError(
            f"{model}: the optimizer stopped after {result.nit} iterations without reaching the maximum "
            f"(largest gradient {gradient_norm:.2e}; {result.message})"
        )
    hessian = _hessian(objective, theta)
    eigenvalues = np.linalg.eigvalsh(hessian)
    if not np.all(np.isfinite(eigenvalues)) or eigenvalues[0] <= _MIN_CURVATURE_RATIO * max(
        eigenvalues[-1], 0.0
    ):
        raise DegenerateFitError(
            f"{model}: the likelihood is flat at the optimum (Hessian eigenvalues {eigenvalues.tolist()}); "
            "the parameters are not identified by this data"
        )
    # The objective is a mean, so the observed information of the whole sample is n times its Hessian.
    covariance = np.linalg.inv(hessian * n_observations)
    values = np.exp(theta)
    standard_errors = values * np.sqrt(np.diag(covariance))
    weak = [
        f"{name}={value:.3g}±{error:.2g}"
        for name, value, error in zip(names, values, standard_errors, strict=True)
        if error > _WEAK_RELATIVE_ERROR * value
    ]
    if weak:
        warnings.warn(
            f"{model}: parameters barely determined by the data ({', '.join(weak)}); predictions "
            "may move a lot with more data",
            PredictiveWarning,
            stacklevel=3,
        )
    return MaximumLikelihood(values, standard_errors, int(result.nit), gradient_norm)


def _hessian(objective: Objective, theta: np.ndarray) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrized."""
    size = theta.size
    hessian = np.empty((size, size))
    step = 1e-5
    for i in range(size):
        shift = np.zeros(size)
        shift[i] = step
        hessian[i] = (objective(theta + shift)[1] - objective(theta - shift)[1]) / (2 * step)
    return (hessian + hessian.T) / 2
