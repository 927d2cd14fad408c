"""Display names as people type them on social networks, over the plain name the truth keeps.

A display name is what the person typed, not their name: in recorded Twitter v2 answers (tweepy's
cassettes, issue 17: "Emily Waligoske 🏕") they carry emoji, flags, titles, pronouns, a company
after a pipe, all-lowercase or all-caps. Facebook commenters are shown the same way (not seen in
a recording: the recorded comments carry no ``from``). The ground truth keeps the plain name; the
APIs show it decorated for about a third of the authors, chosen per account id so an author looks
the same on every page.
"""

from __future__ import annotations

import hashlib

DECORATED_SHARE = 0.35
DECORATIONS = (
    lambda name: f"{name} 🏕",
    lambda name: f"{name} 🇺🇸",
    lambda name: f"{name} ✨🌿",
    lambda name: name.lower(),
    lambda name: name.upper(),
    lambda name: f"Dr. {name}",
    lambda name: f"{name}, PhD",
    lambda name: f"{name} (she/her)",
    lambda name: f"{name} | Northwind Traders",
    lambda name: f"{name} - Founder @ Contoso",
)


def decorated_name(seed: int, author_id: str, name: str) -> str:
    """The display name an author shows: ``name`` as is, or with one of the decorations above."""
    draw = int.from_bytes(
        hashlib.blake2b(f"{seed}|display|{author_id}".encode(), digest_size=8).digest(), "big"
    )
    if draw / 2**64 >= DECORATED_SHARE:
        return name
    return DECORATIONS[draw % len(DECORATIONS)](name)
