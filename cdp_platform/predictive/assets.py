"""The predictive assets: per-interaction sentiment and per-client scores, between dbt models.

``interaction_sentiment`` reads the dbt model ``int_interactions_unioned`` and scores every text
with VADER; ``client_scores`` reads ``int_client_purchases`` and fits BG/NBD + Gamma-Gamma. Both
are written to the warehouse schema ``predictive`` where the marts read them as dbt sources.

When the purchases cannot support a fit (too few repeat buyers, a degenerate optimum), the scores
table is written with the clients and null predictions, and the ``fit_supported`` check fails with
the reason: the profile still builds, and nobody reads numbers fitted on data that cannot carry them.
"""

import datetime

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.predictive.errors import PredictiveError
from cdp_platform.predictive.holdout import evaluate_holdout
from cdp_platform.predictive.metadata import client_scores_metadata
from cdp_platform.predictive.scores import score_clients
from cdp_platform.predictive.sentiment import score_interactions

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


@dg.asset(
    key="interaction_sentiment",
    deps=[dg.AssetKey("int_interactions_unioned")],
    group_name="profile",
    metadata={"schema": PREDICTIVE_SCHEMA},
    kinds={"python", "duckdb"},
    pool=WAREHOUSE_POOL,
    description="VADER sentiment of every social text (tweets, Facebook and Instagram comments).",
)
def interaction_sentiment(warehouse: DuckDBResource) -> dg.Output[pl.DataFrame]:
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
        },
    )


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
    try:
        scores = score_clients(purchases, observation_end)
    except PredictiveError as exc:
        table = clients.rename({"customer_id": "client_id"}).with_columns(
            [pl.lit(None, dtype).alias(name) for name, dtype in SCORES_SCHEMA.items() if name != "client_id"]
        )
        yield dg.Output(table, metadata={"clients": table.height, "fit": f"not supported: {exc}"})
        yield dg.AssetCheckResult(
            check_name="fit_supported", passed=False, description=f"{type(exc).__name__}: {exc}"
        )
        return
    metadata: dict[str, object] = {}
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
        metadata={"repeat_buyers": scores.bgnbd.n_repeat_buyers, "clients": table.height},
    )


PREDICTIVE_ASSETS = [interaction_sentiment, client_scores]
