"""How the predictive models say "the data cannot support this": named errors and one warning class.

A model fitted on too little or on degenerate data still returns numbers, and those numbers look as
confident as good ones. Every way we know a fit goes wrong therefore has its own exception carrying a
human-readable ``reason``, so an asset can fail (or skip scoring) with a message a person can act on.
"""

from __future__ import annotations


class PredictiveError(Exception):
    """Base of every predictive failure; ``reason`` is the sentence shown to people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInputError(PredictiveError, ValueError):
    """The input is malformed: missing columns, negative ages, recency after the end, and so on."""


class FitError(PredictiveError):
    """A model could not be fitted to this data; subclasses say why."""


class InsufficientDataError(FitError):
    """Too few customers or repeat buyers for the likelihood to identify the parameters."""


class ConvergenceError(FitError):
    """The optimizer stopped without reaching a stationary point of the likelihood."""


class BoundaryFitError(FitError):
    """The optimum lies at a parameter bound: the data push the model to a limiting case (for example
    no dropout at all, or identical spend for everyone) that its parameters cannot represent."""


class DegenerateFitError(FitError):
    """The likelihood is flat or not curved upward at the optimum: the parameters are not identified."""


class PredictiveWarning(UserWarning):
    """The fit succeeded but an assumption of the model looks violated; the numbers need care."""
