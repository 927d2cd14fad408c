"""Predictive scores as a plain library (no Dagster): BG/NBD churn and propensity, Gamma-Gamma spend,
CLV, their calibration/holdout check, and VADER sentiment of social interactions.

Typical use by the assets::

    scores = score_clients(transactions, observation_end)          # table + both fits + settings
    check = evaluate_holdout(transactions, calibration_end, observation_end)
    scored = score_interactions(interactions, text_column="text")  # per-interaction sentiment
    per_client = sentiment_by_client(scored)
    accuracy = sentiment_accuracy(scored["sentiment"], labels)     # where labels exist (sandbox)
    metadata = client_scores_metadata(scores, check, accuracy)      # flat, JSON-ready

Failures are named exceptions with a ``reason`` (see ``errors``): an asset should let them fail the
run (or skip scoring) rather than publish numbers fitted on data that cannot support them.
"""

from cdp_platform.predictive.bgnbd import BGNBDFit, fit_bgnbd
from cdp_platform.predictive.clv import customer_lifetime_value
from cdp_platform.predictive.errors import (
    BoundaryFitError,
    ConvergenceError,
    DegenerateFitError,
    FitError,
    InsufficientDataError,
    InvalidInputError,
    PredictiveError,
    PredictiveWarning,
)
from cdp_platform.predictive.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from cdp_platform.predictive.holdout import HoldoutEvaluation, evaluate_holdout, lift_table
from cdp_platform.predictive.metadata import client_scores_metadata
from cdp_platform.predictive.scores import SCORE_COLUMNS, ClientScores, ScoringSettings, score_clients
from cdp_platform.predictive.sentiment import (
    SentimentAccuracy,
    score_interactions,
    sentiment_accuracy,
    sentiment_by_client,
)
from cdp_platform.predictive.simulation import SimulatedCustomers, TrueParameters, simulate_customers
from cdp_platform.predictive.summary import summarize_transactions

__all__ = [
    "SCORE_COLUMNS",
    "BGNBDFit",
    "BoundaryFitError",
    "ClientScores",
    "ConvergenceError",
    "DegenerateFitError",
    "FitError",
    "GammaGammaFit",
    "HoldoutEvaluation",
    "InsufficientDataError",
    "InvalidInputError",
    "PredictiveError",
    "PredictiveWarning",
    "ScoringSettings",
    "SentimentAccuracy",
    "SimulatedCustomers",
    "TrueParameters",
    "client_scores_metadata",
    "customer_lifetime_value",
    "evaluate_holdout",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "lift_table",
    "score_clients",
    "score_interactions",
    "sentiment_accuracy",
    "sentiment_by_client",
    "simulate_customers",
    "summarize_transactions",
]
