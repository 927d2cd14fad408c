"""Decorated social display names become a person's first and last name (issue 17).

Real Twitter and Graph display names carry emoji, flags, titles, pronouns, a company after a pipe,
all-lowercase or all-caps: "Emily Waligoske 🏕" (a name in a recorded tweepy cassette) used to
give the last name "🏕", and Pandera let it through.
"""

from __future__ import annotations

import pandera.errors
import polars as pl
import pytest

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.cleansed.normalize import display_name
from cdp_platform.sources.twitter.cleansed.mentions import ENTITY as MENTIONS
from cdp_platform_tests.cleansed.raw_rows import PARTITION, raw_frame, records

CASES = [
    ("Emily Waligoske 🏕", "Emily", "Waligoske"),
    ("DR. JANE DOE, PhD", "Jane", "Doe"),
    ("jane doe (she/her) | Acme Corp", "Jane", "Doe"),
    ("Ana María López 🇲🇽", "Ana", "López"),
    ("Mary-Kate 👩🏽\u200d💻 Olsen", "Mary-Kate", "Olsen"),
    ("Prof. Dr. Hans Müller", "Hans", "Müller"),
    ("Jane Doe - CEO at Acme", "Jane", "Doe"),
    ("Tom ✨ they/them", "Tom", None),
    ("john o'brien jr.", "John", "O'Brien"),
    ("Sarah McDonald", "Sarah", "McDonald"),
    ("山田 太郎", "山田", "太郎"),
]


@pytest.mark.parametrize(("shown", "first", "last"), CASES)
def test_a_decorated_author_name_gives_first_and_last_name(shown, first, last):
    tweet = records("twitter/mentions", 1)[0]
    author = {"id": tweet["author_id"], "name": shown, "username": "someone"}
    clean = cleanse(raw_frame("twitter/mentions", [(tweet, {"author": author})]), MENTIONS, PARTITION).clean
    assert clean.select("first_name", "last_name").row(0) == (first, last)
    MENTIONS.schema.validate(clean)


@pytest.mark.parametrize("shown", ["🏕", "🇺🇦🇺🇦", "...", "12345", "   "])
def test_a_letterless_display_name_is_no_name(shown):
    frame = pl.DataFrame({"n": [shown]})
    assert frame.select(display_name("n")).item() is None


def test_pandera_rejects_a_letterless_name():
    tweet = records("twitter/mentions", 1)[0]
    author = {"id": tweet["author_id"], "name": "Emily Waligoske", "username": "someone"}
    clean = cleanse(raw_frame("twitter/mentions", [(tweet, {"author": author})]), MENTIONS, PARTITION).clean
    MENTIONS.schema.validate(clean)
    broken = clean.with_columns(pl.lit("🏕").alias("last_name"))
    with pytest.raises(pandera.errors.SchemaError, match="last_name"):
        MENTIONS.schema.validate(broken)


def test_every_sandbox_display_name_cleans_to_the_authors_true_name():
    """The sandbox shows some Twitter authors' and Facebook commenters' names decorated; cleaning
    gives back the true name, for every decoration."""
    from cdp_platform.cleansed.normalize import name
    from cdp_platform.sandbox.vendors.names import DECORATIONS, decorated_name
    from cdp_platform_tests.cleansed.raw_rows import CONFIG, sandbox

    data = sandbox()
    authors = sorted({t["author_id"] for t in records("twitter/mentions", 400)})
    people = [(a, data.twitter_user(a)["name"]) for a in authors]
    people += [(c["from"]["id"], c["from"]["name"]) for c in records("facebook/post_comments", 400)]
    plain = [n for _, n in people]
    shown = [decorated_name(CONFIG.seed, author, n) for author, n in people]
    assert sum(s != p for s, p in zip(shown, plain, strict=True)) > len(plain) // 5
    every = [decoration(n) for n in plain[:40] for decoration in DECORATIONS]
    frame = pl.DataFrame(
        {"shown": shown + every, "plain": plain + [n for n in plain[:40] for _ in DECORATIONS]}
    )
    cleaned = frame.select(display_name("shown").alias("cleaned"), name("plain").alias("expected"))
    assert cleaned.filter(pl.col("cleaned") != pl.col("expected")).height == 0
