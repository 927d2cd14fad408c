"""Social texts with a known sentiment: what persons write about the brand, and what the brand posts.

The label is decided first (by a counter hash, so it can be listed for a million texts without making
them) and the text is then built from a template of that polarity. Templates use clearly positive or
negative words, and neutral ones only factual questions and notices, so a lexicon model such as VADER
should get most of them right; the ones it misses are the honest error of the model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from cdp_platform.sandbox.population import key_of, record_random, uniforms

Sentiment = Literal["positive", "negative", "neutral"]
SENTIMENTS: tuple[Sentiment, ...] = ("positive", "negative", "neutral")

BRAND_NAME = "Northwind Outfitters"
BRAND_HANDLE = "northwindoutfit"

# Shares of (positive, negative); the rest is neutral. Brand posts are rarely negative.
_PERSON_SHARES = (0.45, 0.25)
_BRAND_SHARES = (0.55, 0.08)

_PRODUCTS = (
    "trail backpack", "rain jacket", "camping stove", "hiking boots", "sleeping bag", "water bottle",
    "headlamp", "tent", "fleece", "trekking poles",
)  # fmt: skip
_COLORS = ("navy", "olive", "grey", "orange", "sand")
_CITIES = ("Denver", "Austin", "Seattle", "Portland", "Boston", "Chicago")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SIZES = ("S", "M", "L", "XL")

_PERSON_TEMPLATES: dict[Sentiment, tuple[str, ...]] = {
    "positive": (
        "I absolutely love my new {product}! Great quality and amazing service.",
        "Thank you {brand}, the {product} is wonderful. Best purchase this year!",
        "So happy with the {product}, excellent support. Highly recommend!",
        "Fantastic {product}, works perfectly. Love it!",
        "Great experience at the {city} store, friendly staff and an awesome {product}.",
    ),
    "negative": (
        "Terrible experience with my {product}. It broke after two days, very disappointed.",
        "Worst customer service ever. Still no refund for the broken {product}!",
        "The {product} is awful and overpriced. Really angry and frustrated.",
        "Horrible quality, the {product} stopped working. Never buying again, this is bad.",
        "Very bad support, my {product} order was lost. I hate this mess.",
    ),
    "neutral": (
        "Does the {product} come in {color}?",
        "What are the opening hours of the {city} store on {day}?",
        "Is the {product} sold in size {size}?",
        "Ordered the {product} on {day}, it ships from the warehouse next week.",
        "Which battery does the {product} use?",
    ),
}
_BRAND_TEMPLATES: dict[Sentiment, tuple[str, ...]] = {
    "positive": (
        "We are thrilled to launch the new {product}! Enjoy a great weekend outdoors.",
        "Thank you for an amazing year, friends! The {product} is our best seller and we love your photos.",
        "Happy {day}! Our wonderful {city} team is excited to help you find the perfect {product}.",
    ),
    "negative": (
        "We are sorry: the online shop failed today and some orders were lost. We regret the trouble.",
        "Bad news: the {product} recall affects a small batch. We are sorry for the problem.",
    ),
    "neutral": (
        "Our {city} store opens at 9am on {day}.",
        "The {product} is now in stock in {color} and {color2}.",
        "Store hours change on {day}: the {city} store closes at 6pm.",
    ),
}


def sentiment_labels(seed: int, stream: str, index: np.ndarray, brand: bool = False) -> np.ndarray:
    """The label of each text of a stream, as indexes into :data:`SENTIMENTS` (vectorized)."""
    positive, negative = _BRAND_SHARES if brand else _PERSON_SHARES
    u = uniforms(key_of(seed, "sentiment", stream), index)
    return np.where(u < positive, 0, np.where(u < positive + negative, 1, 2)).astype(np.int8)


def social_text(seed: int, stream: str, index: int, brand: bool = False) -> tuple[str, Sentiment]:
    """The text of one post, comment or tweet and its true label."""
    label = SENTIMENTS[int(sentiment_labels(seed, stream, np.array([index]), brand)[0])]
    rng = record_random(seed, "text", stream, index)
    templates = (_BRAND_TEMPLATES if brand else _PERSON_TEMPLATES)[label]
    template = templates[rng.randrange(len(templates))]
    colors = rng.sample(_COLORS, 2)
    text = template.format(
        brand=BRAND_NAME,
        product=_PRODUCTS[rng.randrange(len(_PRODUCTS))],
        color=colors[0],
        color2=colors[1],
        city=_CITIES[rng.randrange(len(_CITIES))],
        day=_DAYS[rng.randrange(len(_DAYS))],
        size=_SIZES[rng.randrange(len(_SIZES))],
    )
    return text, label
