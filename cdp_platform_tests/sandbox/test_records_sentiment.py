"""Social texts carry a known label that a lexicon model can mostly recover."""

from __future__ import annotations

import collections

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData

TEXT_FIELD = {
    "facebook/page_posts": "message",
    "facebook/post_comments": "message",
    "instagram/media": "caption",
    "instagram/media_comments": "text",
    "twitter/mentions": "text",
}


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return SandboxData(SandboxConfig())


def _vader_label(analyzer: SentimentIntensityAnalyzer, text: str) -> str:
    # The thresholds VADER's authors recommend for the compound score.
    compound = analyzer.polarity_scores(text)["compound"]
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


@pytest.mark.parametrize("stream", list(TEXT_FIELD))
def test_vader_agrees_with_the_true_label_on_most_texts(data: SandboxData, stream: str) -> None:
    analyzer = SentimentIntensityAnalyzer()
    positions = list(data.all_positions(stream))[:300]
    labels = data.sentiment(stream, positions)
    agree = sum(
        _vader_label(analyzer, data.record(stream, p)[TEXT_FIELD[stream]]) == label
        for p, label in zip(positions, labels, strict=True)
    )
    assert agree / len(positions) > 0.85


def test_people_write_all_three_polarities_and_the_brand_is_mostly_upbeat(data: SandboxData) -> None:
    people = collections.Counter(data.sentiment("twitter/mentions", data.all_positions("twitter/mentions")))
    brand = collections.Counter(
        data.sentiment("facebook/page_posts", data.all_positions("facebook/page_posts"))
    )
    assert min(people.values()) > 0.15 * sum(people.values()) and len(people) == 3
    assert brand["negative"] < brand["positive"]


def test_texts_are_not_all_the_same(data: SandboxData) -> None:
    texts = {
        data.record("facebook/post_comments", p)["message"]
        for p in data.all_positions("facebook/post_comments")
    }
    assert len(texts) > 50


def test_only_text_streams_have_labels(data: SandboxData) -> None:
    with pytest.raises(KeyError):
        data.sentiment("hubspot/contacts", [0])
