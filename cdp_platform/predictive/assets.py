"""The predictive assets: per-interaction sentiment and per-client scores, between dbt models.

``interaction_sentiment`` reads the dbt model ``int_interactions_unioned`` and scores every text
with VADER (and grades itself on true labels when its ``sentiment_truth`` resource has them: the
local default's sandbox, see :mod:`cdp_platform.predictive.grading`); ``client_scores`` reads
``int_client_purchases`` and fits BG/NBD + Gamma-Gamma. Both
are written to the warehouse schema ``predictive`` where the marts read them as dbt sources.

When the purchases cannot support a fit (too few repeat buyers, a degenerate optimum), the scores
table is written with the clients and null predictions, and the ``fit_supported`` check fails with
the reason: the profile still builds, and nobody reads numbers fitted on data that cannot carry them.
"""

import datetime
import math
import warnings

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.predictive.errors import PredictiveError, PredictiveWarning
from cdp_platform.predictive.grading import SENTIMENT_TRUTH_KEY, SentimentTruth
from cdp_platform.predictive.holdout import evaluate_holdout
from cdp_platform.predictive.metadata import client_scores_metadata
from cdp_platform.predictive.scores import score_clients
from cdp_platform.predictive.sentiment import score_interactions, sentiment_accuracy

PREDICTIVE_SCHEMA = "predictive"
HOLDOUT_DAYS = 365

SCORES_SCHEMA = {
    "client_id": pl.String,
    "frequency": pl.Float64,
    "recency": pl.Float64,
    "T": pl.Float64,
    "monetary_value": pl.Float64,
    "p_alive": pl.Float64,
    "churn_probability": pl.Float64,
    "expected_purchases_90d": pl.Float64,
    "expected_average_value": pl.Float64,
    "clv_12m": pl.Float64,
}


def sentiment_accuracy_metadata(scored: pl.DataFrame, truth: SentimentTruth) -> dict[str, object]:
    """Accuracy of the predicted labels against the true ones, when the truth has labels.

    Only texts the truth labels are graded, and how many that is is reported beside the number;
    without labels (a real vendor) the metadata says there are none rather than a number.
    """
    labels = truth.labels()
    if labels is None:
        return {"sentiment_labels": truth.describe()}
    graded = scored.join(labels, on="interaction_id", how="inner").filter(
        pl.col("sentiment_label").is_not_null()
    )
    if graded.is_empty():
        return {
            "sentiment_labels": f"no labels: none of the {scored.height} texts is one the {truth.describe()} know"
        }
    accuracy = sentiment_accuracy(graded["sentiment_label"], graded["true_label"])

    def plain(values: dict[str, float]) -> dict[str, float | None]:  # NaN (no such label) is not JSON
        return {label: None if math.isnan(v) else round(v, 6) for label, v in values.items()}

    return {
        "sentiment_labels": truth.describe(),
        "sentiment_accuracy": accuracy.accuracy,
        "sentiment_labelled": accuracy.n,
        "sentiment_recall": dg.MetadataValue.json(plain(accuracy.recall)),
        "sentiment_precision": dg.MetadataValue.json(plain(accuracy.precision)),
        "sentiment_confusion": dg.MetadataValue.json(accuracy.confusion),
    }


def build_interaction_sentiment() -> dg.AssetsDefinition:
    """The sentiment asset; it reports its accuracy when its ``sentiment_truth`` resource has labels."""

    @dg.asset(
        key="interaction_sentiment",
        deps=[dg.AssetKey("int_interactions_unioned")],
        group_name="profile",
        metadata={"schema": PREDICTIVE_SCHEMA},
        kinds={"python", "duckdb"},
        pool=WAREHOUSE_POOL,
        description=(
            "VADER sentiment of every social text (posts and comments people write); against the "
            "sandbox, its accuracy on the sandbox's true labels (metadata sentiment_accuracy)."
        ),
    )
    def interaction_sentiment(
        warehouse: DuckDBResource, sentiment_truth: SentimentTruth
    ) -> dg.Output[pl.DataFrame]:
        with warehouse.get_connection() as connection:
            texts = connection.execute(
                "select interaction_id, text from intermediate.int_interactions_unioned where text is not null"
            ).pl()
        scored = score_interactions(texts, text_column="text").select(
            "interaction_id",
            "sentiment_compound",
            pl.col("sentiment").alias("sentiment_label"),
        )
        counts = dict(scored.group_by("sentiment_label").len().iter_rows())
        return dg.Output(
            scored,
            metadata={
                "interactions": scored.height,
                **{f"{label}_interactions": int(n) for label, n in counts.items() if label},
                **sentiment_accuracy_metadata(scored, sentiment_truth),
            },
        )

    return interaction_sentiment


interaction_sentiment = build_interaction_sentiment()


@dg.asset(
    key="client_scores",
    deps=[dg.AssetKey("int_client_purchases")],
    group_name="profile",
    metadata={"schema": PREDICTIVE_SCHEMA},
    kinds={"python", "scipy", "duckdb"},
    pool=WAREHOUSE_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            "fit_supported",
            asset="client_scores",
            description="The purchases support the BG/NBD and Gamma-Gamma fits (else predictions are null).",
        )
    ],
    description="Churn probability, 90-day purchase propensity and 12-month CLV per client (BG/NBD + Gamma-Gamma).",
)
def client_scores(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    with warehouse.get_connection() as connection:
        purchases = connection.execute(
            "select client_id as customer_id, cast(purchased_at as date) as date, amount::double as amount "
            "from intermediate.int_client_purchases where client_id is not null and amount is not null"
        ).pl()
    clients = purchases.select(pl.col("customer_id").unique().sort())
    if purchases.is_empty():
        yield dg.Output(pl.DataFrame(schema=SCORES_SCHEMA), metadata={"clients": 0})
        yield dg.AssetCheckResult(check_name="fit_supported", passed=False, description="no purchases yet")
        return
    observation_end: datetime.date = purchases["date"].max()
    # A fit that succeeds on data breaking an assumption of the model (spend tied to frequency, a
    # barely determined parameter) says so with a PredictiveWarning: recorded here so that it reaches
    # the run's log, the metadata and the check instead of only the step's stderr.
    scores, error = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PredictiveWarning)
        try:
            scores = score_clients(purchases, observation_end)
        except PredictiveError as exc:
            error = exc
    fit_warnings: list[str] = []
    for caught_warning in caught:
        if issubclass(caught_warning.category, PredictiveWarning):
            fit_warnings.append(str(caught_warning.message))
        else:  # anything else goes on as it would have
            warnings.warn_explicit(
                caught_warning.message,
                caught_warning.category,
                caught_warning.filename,
                caught_warning.lineno,
            )
    fit_warnings = list(dict.fromkeys(fit_warnings))
    for message in fit_warnings:
        context.log.warning(f"client_scores fit: {message}")
    if scores is None:
        table = clients.rename({"customer_id": "client_id"}).with_columns(
            [pl.lit(None, dtype).alias(name) for name, dtype in SCORES_SCHEMA.items() if name != "client_id"]
        )
        yield dg.Output(table, metadata={"clients": table.height, "fit": f"not supported: {error}"})
        yield dg.AssetCheckResult(
            check_name="fit_supported", passed=False, description=f"{type(error).__name__}: {error}"
        )
        return
    metadata: dict[str, object] = {"fit_warnings": dg.MetadataValue.json(fit_warnings)}
    try:
        holdout = evaluate_holdout(
            purchases, observation_end - datetime.timedelta(days=HOLDOUT_DAYS), observation_end
        )
        metadata.update(client_scores_metadata(scores, holdout))
    except PredictiveError as exc:
        metadata.update(client_scores_metadata(scores))
        metadata["holdout"] = f"not evaluated: {exc}"
        context.log.warning("holdout evaluation skipped: %s", exc)
    table = scores.table.select(
        pl.col("customer_id").cast(pl.String).alias("client_id"),
        pl.col("frequency").cast(pl.Float64),
        pl.col("recency").cast(pl.Float64),
        pl.col("T").cast(pl.Float64),
        pl.col("monetary_value").cast(pl.Float64),
        pl.col("p_alive").cast(pl.Float64),
        pl.col("churn_probability").cast(pl.Float64),
        pl.col("expected_purchases").cast(pl.Float64).alias("expected_purchases_90d"),
        pl.col("expected_average_value").cast(pl.Float64),
        pl.col("clv").cast(pl.Float64).alias("clv_12m"),
    )
    yield dg.Output(
        table,
        metadata={
            "clients": table.height,
            "observation_end": observation_end.isoformat(),
            **metadata,  # plain values: Dagster makes them int, float, text or JSON metadata
        },
    )
    yield dg.AssetCheckResult(
        check_name="fit_supported",
        passed=True,
        description=("supported, but: " + " / ".join(fit_warnings)) if fit_warnings else None,
        metadata={
            "repeat_buyers": scores.bgnbd.n_repeat_buyers,
            "clients": table.height,
            "fit_warnings": len(fit_warnings),
        },
    )


PREDICTIVE_ASSETS = [interaction_sentiment, client_scores]


def predictive_assets() -> list[dg.AssetsDefinition]:
    """The predictive assets; sentiment is graded by whatever ``sentiment_truth`` the definitions give."""
    return list(PREDICTIVE_ASSETS)


def predictive_resources() -> dict[str, dg.ConfigurableResource]:
    """Their resources beyond the warehouse: no truth to grade sentiment on (the production default;
    the local default's sandbox wiring replaces it)."""
    return {SENTIMENT_TRUTH_KEY: SentimentTruth()}
