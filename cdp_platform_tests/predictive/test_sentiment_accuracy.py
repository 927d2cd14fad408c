"""interaction_sentiment reports its accuracy on the sandbox's true labels, and only where labels exist.

The expected number is computed here without the platform's sentiment code: VADER's analyzer
straight from ``vaderSentiment`` with its authors' thresholds (compound >= 0.05 positive, <= -0.05
negative), compared with the labels the sandbox gave each text when it wrote it.
"""

from __future__ import annotations

import math

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cdp_platform.definitions import layer_definitions
from cdp_platform.io.warehouse import WarehouseIOManager
from cdp_platform.predictive.assets import build_interaction_sentiment, predictive_assets
from cdp_platform.predictive.grading import SENTIMENT_TRUTH_KEY, SentimentTruth
from cdp_platform.sandbox.config import DEFAULT_TODAY, SandboxConfig
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.sentiment_labels import SandboxSentimentLabels
from cdp_platform.sandbox.wiring import sandbox_wiring
from cdp_platform.settings import load_settings
from cdp_platform_tests.privacy.sandbox_marts import SandboxMarts, sandbox_marts  # noqa: F401

PERSONS = 2000
# Where each social stream keeps its text, as the vendor serves it.
TEXT_FIELD = {
    "twitter/mentions": "text",
    "facebook/post_comments": "message",
    "instagram/media_comments": "text",
}
# Measured on this sandbox (2,000 persons, seed 7, 730 days): 0.99125 of 800 texts; rounded down.
MIN_ACCURACY = 0.99


def _vader_label(analyzer: SentimentIntensityAnalyzer, text: str) -> str:
    compound = analyzer.polarity_scores(text)["compound"]
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


@pytest.fixture(scope="module")
def texts() -> pl.DataFrame:
    """Every person-written text of the default sandbox: its timeline id, text and true label."""
    data = SandboxData(SandboxConfig(persons=PERSONS, today=DEFAULT_TODAY))
    rows = []
    for stream, field in TEXT_FIELD.items():
        positions = list(data.all_positions(stream))
        for position, label in zip(positions, data.sentiment(stream, positions), strict=True):
            record = data.record(stream, position)
            rows.append((f"{stream.replace('/', ':')}:{record['id']}", record[field], label))
    return pl.DataFrame(rows, schema=["interaction_id", "text", "true_label"], orient="row")


def _labels(seed: int) -> SandboxSentimentLabels:
    server = InProcessSandbox(persons=PERSONS, seed=seed, today=DEFAULT_TODAY.isoformat(), span_days=730)
    return SandboxSentimentLabels(server=server, streams=list(TEXT_FIELD))


def _materialize(tmp_path, texts: pl.DataFrame, truth: SentimentTruth) -> dg.AssetMaterialization:
    path = tmp_path / "wh.duckdb"
    frame = texts.select("interaction_id", "text").to_arrow()  # noqa: F841  (read by DuckDB by name)
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema intermediate")
        connection.execute("create table intermediate.int_interactions_unioned as select * from frame")
    result = dg.materialize(
        [build_interaction_sentiment()],
        resources={
            "io_manager": WarehouseIOManager(database=str(path)),
            "warehouse": DuckDBResource(database=str(path)),
            SENTIMENT_TRUTH_KEY: truth,
        },
    )
    return result.asset_materializations_for_node("interaction_sentiment")[0]


def test_accuracy_on_the_sandbox_labels_is_reported_and_high(tmp_path, texts: pl.DataFrame):
    metadata = _materialize(tmp_path, texts, _labels(7)).metadata
    analyzer = SentimentIntensityAnalyzer()
    hits = sum(
        _vader_label(analyzer, t) == label
        for t, label in zip(texts["text"], texts["true_label"], strict=True)
    )
    independent = hits / texts.height
    assert metadata["sentiment_labelled"].value == texts.height == 800
    assert math.isclose(metadata["sentiment_accuracy"].value, independent, abs_tol=1e-12)
    assert independent >= MIN_ACCURACY
    assert metadata["sentiment_labels"].value.startswith("sandbox labels (persons=2000, seed=7")
    confusion = metadata["sentiment_confusion"].value
    assert sum(sum(row.values()) for row in confusion.values()) == texts.height
    assert sum(confusion[label][label] for label in confusion) == hits


def test_no_labels_is_said_not_guessed(tmp_path, texts: pl.DataFrame):
    sample = texts.head(50)
    without = _materialize(tmp_path, sample, SentimentTruth()).metadata
    assert without["sentiment_labels"].value.startswith("no labels")
    assert "sentiment_accuracy" not in without
    # A sandbox that never served these texts (another seed) labels none of them: no number either.
    (tmp_path / "other").mkdir()
    unknown = _materialize(tmp_path / "other", sample, _labels(8)).metadata
    assert unknown["sentiment_labels"].value.startswith("no labels: none of the 50 texts")
    assert "sentiment_accuracy" not in unknown


def _labels_for(environ: dict[str, str]) -> SentimentTruth | None:
    return sandbox_wiring(load_settings(environ)).resources.get(SENTIMENT_TRUTH_KEY)


def test_labels_exist_only_for_vendors_the_sandbox_serves():
    labels = _labels_for({"CDP_SANDBOX_TODAY": "2026-11-26"})
    assert isinstance(labels, SandboxSentimentLabels) and set(labels.streams) == set(TEXT_FIELD)
    assert (labels.server.persons, labels.server.seed, labels.server.span_days) == (2000, 7, 730)
    real = {
        "CDP_TWITTER_BASE_URL": "https://api.twitter.com",
        "CDP_TWITTER_USER_ID": "1",
        "CDP_FACEBOOK_BASE_URL": "https://graph.facebook.com",
        "CDP_FACEBOOK_PAGE_ID": "1",
        "CDP_FACEBOOK_LEAD_FORM_IDS": "1",
        "CDP_INSTAGRAM_BASE_URL": "https://graph.facebook.com",
        "CDP_INSTAGRAM_USER_ID": "1",
        # A real endpoint needs its credential set, or the settings stop the load.
        "CDP_TWITTER_BEARER_TOKEN": "x",
        "CDP_FACEBOOK_ACCESS_TOKEN": "x",
        "CDP_INSTAGRAM_ACCESS_TOKEN": "x",
    }
    assert _labels_for(real) is None
    only_twitter = {k: v for k, v in real.items() if "TWITTER" not in k}
    assert _labels_for(only_twitter).streams == ["twitter/mentions"]
    sentiment = next(a for a in predictive_assets() if a.key.path == ["interaction_sentiment"])
    assert sentiment.key == dg.AssetKey("interaction_sentiment")
    # The definitions give the asset the "no labels" default then, and the sandbox's labels otherwise.
    assert type(layer_definitions(load_settings(real)).resources[SENTIMENT_TRUTH_KEY]) is SentimentTruth
    local = layer_definitions(load_settings({"CDP_SANDBOX_TODAY": "2026-11-26"}))
    assert isinstance(local.resources[SENTIMENT_TRUTH_KEY], SandboxSentimentLabels)


@pytest.mark.slow
def test_the_pipeline_grades_every_text_it_ingested(sandbox_marts: SandboxMarts):  # noqa: F811
    """Through raw, cleansed and dbt, every timeline text is one the sandbox labelled."""
    metadata = sandbox_marts.sentiment.metadata
    scored = sandbox_marts.frame(
        "select s.interaction_id, s.sentiment_label, i.text from predictive.interaction_sentiment s "
        "join intermediate.int_interactions_unioned i using (interaction_id)"
    )
    data = sandbox_marts.data
    truth = {}
    for stream in TEXT_FIELD:
        positions = list(data.all_positions(stream))
        prefix = stream.replace("/", ":") + ":"
        ids = [prefix + r for r in data.record_ids(stream, positions)]
        truth.update(zip(ids, data.sentiment(stream, positions), strict=True))
    assert (
        metadata["interactions"].value == metadata["sentiment_labelled"].value == scored.height == len(truth)
    )
    analyzer = SentimentIntensityAnalyzer()
    hits = sum(
        _vader_label(analyzer, text) == truth[interaction]
        for interaction, text in zip(scored["interaction_id"], scored["text"], strict=True)
    )
    assert math.isclose(metadata["sentiment_accuracy"].value, hits / scored.height, abs_tol=1e-12)
