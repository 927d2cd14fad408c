"""One flat dictionary of what a scoring run should show next to its table, for asset metadata.

Dagster renders a flat mapping of numbers best (each key becomes a plottable series across runs), so
scalars get stable flat keys (``bgnbd_r``, ``holdout_purchases_relative_error``, ...) and the plot
data (lift table, calibration by frequency, cumulative tracking) stay lists of rows under their own
keys. Plain Python values only: the library does not import Dagster; the asset wraps them.
"""

from __future__ import annotations

from cdp_platform.predictive.holdout import HoldoutEvaluation
from cdp_platform.predictive.scores import ClientScores
from cdp_platform.predictive.sentiment import SentimentAccuracy


def client_scores_metadata(
    scores: ClientScores,
    holdout: HoldoutEvaluation | None = None,
    sentiment: SentimentAccuracy | None = None,
) -> dict[str, object]:
    """Fitted parameters and log-likelihoods, horizons, and (when given) holdout errors, the lift
    table and the plot data, and sentiment accuracy."""
    metadata: dict[str, object] = {
        "customers": scores.table.height,
        "repeat_buyers": scores.bgnbd.n_repeat_buyers,
        "bgnbd_log_likelihood": scores.bgnbd.log_likelihood,
        "gamma_gamma_log_likelihood": scores.gamma_gamma.log_likelihood,
        "gamma_gamma_frequency_spend_correlation": scores.gamma_gamma.frequency_spend_correlation,
        "time_unit": "day",
        **{f"bgnbd_{name}": value for name, value in scores.bgnbd.params.items()},
        **{f"bgnbd_{name}_standard_error": value for name, value in scores.bgnbd.standard_errors.items()},
        **{f"gamma_gamma_{name}": value for name, value in scores.gamma_gamma.params.items()},
        **{
            f"gamma_gamma_{name}_standard_error": value
            for name, value in scores.gamma_gamma.standard_errors.items()
        },
        **scores.settings.to_metadata(),
        "mean_p_alive": float(scores.table["p_alive"].mean()),  # type: ignore[arg-type]
        "total_clv": float(scores.table["clv"].sum()),
    }
    if holdout is not None:
        metadata.update(holdout.metrics)
        metadata["lift_table"] = holdout.lift.to_dicts()
        metadata["calibration_by_frequency"] = holdout.by_frequency.to_dicts()
        metadata["calibration_cumulative"] = holdout.cumulative.to_dicts()
        metadata["calibration_bgnbd"] = holdout.bgnbd.params
        metadata["calibration_gamma_gamma"] = holdout.gamma_gamma.params
    if sentiment is not None:
        metadata["sentiment_accuracy"] = sentiment.accuracy
        metadata["sentiment_labelled_interactions"] = sentiment.n
        metadata["sentiment_confusion"] = sentiment.confusion
    return metadata
