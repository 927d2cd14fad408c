"""Which parents of a fan-out stream need not be asked again: per-parent comment state in the lake.

A comment stream asks every parent (post, media) created in the look-back window for its comments
of the partition's day, so a post is read on each of the days it stays in the window, mostly to
learn it has nothing new. The parent listing carries what the vendor knows of each parent's
comments (a count, and where the vendor has one, a last-activity time). This module keeps, per
parent and stream, beside the stream's checkpoints (``_checkpoints/<asset>/_parents/state.json``):

- ``through``: an instant T such that every comment of the parent created before T was read;
- ``landed``: how many comments created before T were read (and spooled, then landed);
- ``count`` / ``activity``: what the listing said at that read.

Partition D's window is [S, E). A parent is skipped for it only when all of these hold:

1. its state reaches exactly S (``through == S``: the windows before were read, in order);
2. the count the listing gives now equals ``landed``: no comment was created at or after S
   (a new comment raises the count);
3. where the listing has a last-activity time, it is before S (a new comment moves it: Graph's
   post ``updated_time``); this catches a deletion and a new comment that leave the count equal.

The state is advanced only from the facts of a window that was landed: after the partition file is
written (``commit``), never when the decision is made, so a killed run never skips a parent it did
not finish; its retry finds ``through`` unchanged and reads the parent again. It advances to
``min(E, listed at)``: a listing taken before the window closed says nothing of the comments made
after it, and the chain then stops for that parent (it is read, never skipped, until it leaves the
window). A parent seen first in a later window than its creation day has no state (the comments
before S were not counted) and is read every day; so is a parent whose count falls below what was
landed (a comment deleted after it was read) or never matches it (comments the token cannot see,
people erased from the lake). All of these cost requests, none loses a comment.

What it cannot see: a deletion and a new comment between two reads leave the count equal; where
the listing has a last-activity time (a post's ``updated_time``, which Graph documents as moved by a
new comment) the parent is read, where it has none (a medium: ``comments_count`` only) that new
comment is missed. An edited comment keeps its creation time and count, so it belongs to the day it
was created; as before, only a re-run of that day (never skipped: its state is past the day's
start) lands the new text.

Every state ever written is a true statement about the comments before its ``through``, so two
runs racing over the file can only lose an advance (a later read), never skip wrongly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from cdp_platform.io.checkpoints import CHECKPOINT_ROOT
from cdp_platform.io.lake import Lake

log = logging.getLogger(__name__)

FACTS_FILE = "parents.json"
# Parents whose state has not advanced for this long left every look-back window: forgotten.
FORGET_AFTER = timedelta(days=30)


def state_key(asset_path: list[str] | tuple[str, ...]) -> str:
    return "/".join([CHECKPOINT_ROOT, *asset_path, "_parents", "state.json"])


@dataclass(frozen=True)
class ParentSeen:
    """One parent as the listing showed it: when it was created, its comment count and last
    activity (None where the vendor gives none)."""

    id: str
    created: datetime | None
    count: int | None
    activity: datetime | None


@dataclass(frozen=True)
class ParentState:
    through: str  # ISO instant
    landed: int
    count: int
    activity: str | None

    def reaches(self, start: datetime) -> bool:
        return datetime.fromisoformat(self.through) == start


def load_states(lake: Lake, asset_path: list[str] | tuple[str, ...]) -> dict[str, ParentState]:
    """The stream's parent states; none (every parent is read) when the file is unreadable."""
    key = state_key(asset_path)
    if not lake.exists(key):
        return {}
    try:
        raw = json.loads(lake.read_bytes(key))
        return {parent: ParentState(**value) for parent, value in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        log.warning("%s is unreadable (%s): every parent is read this time", key, type(exc).__name__)
        return {}


def save_states(
    lake: Lake, asset_path: list[str] | tuple[str, ...], states: Mapping[str, ParentState]
) -> None:
    body = {parent: asdict(state) for parent, state in sorted(states.items())}
    lake.write_bytes(state_key(asset_path), json.dumps(body, sort_keys=True).encode())


def unchanged(parent: ParentSeen, state: ParentState | None, start: datetime) -> bool:
    """Whether ``parent`` certainly has no comment created at or after ``start`` (see the module)."""
    if state is None or parent.count is None or not state.reaches(start):
        return False
    if parent.count != state.landed:
        return False
    return parent.activity is None or parent.activity < start


def write_facts(
    lake: Lake, day_prefix: str, parents: list[ParentSeen], skipped: set[str], listed_at: datetime
) -> None:
    """What a day's run saw of its parents and chose, kept with the day's checkpoints until it lands."""
    facts = {
        "listed_at": listed_at.isoformat(),
        "parents": {
            p.id: {
                "created": p.created.isoformat() if p.created else None,
                "count": p.count,
                "activity": p.activity.isoformat() if p.activity else None,
                "skipped": p.id in skipped,
            }
            for p in parents
        },
    }
    lake.write_bytes(f"{day_prefix}/{FACTS_FILE}", json.dumps(facts, sort_keys=True).encode())


def commit(
    lake: Lake,
    asset_path: list[str] | tuple[str, ...],
    day_prefix: str,
    start: datetime,
    end: datetime,
    rows: pl.DataFrame,
) -> int:
    """Advance the parents' state by a landed day (``rows``: its raw rows, ``slice`` = parent id).

    Called after the day's partition file is written and before its checkpoints are cleared;
    days of a range are committed in time order. Returns how many parents advanced."""
    key = f"{day_prefix}/{FACTS_FILE}"
    if not lake.exists(key):
        return 0
    facts: dict[str, Any] = json.loads(lake.read_bytes(key))
    listed_at = datetime.fromisoformat(facts["listed_at"])
    through = min(end, listed_at)
    read = dict(rows.group_by("slice").len().iter_rows()) if rows.height else {}
    states = load_states(lake, asset_path)
    advanced = 0
    for parent, fact in facts["parents"].items():
        if fact["count"] is None:
            continue  # nothing to compare later: the parent is read every day
        landed_now = int(read.get(parent, 0))
        previous = states.get(parent)
        created = datetime.fromisoformat(fact["created"]) if fact["created"] else None
        if previous is not None and previous.reaches(start):
            landed = previous.landed + landed_now
        elif (
            created is not None
            and created >= start
            and (previous is None or datetime.fromisoformat(previous.through) < through)
        ):
            # No comment of it can be older than the window. (A re-run of an older day keeps a
            # state that reaches further: both are true, the further one still saves requests.)
            landed = landed_now
        else:
            continue
        states[parent] = ParentState(through.isoformat(), landed, int(fact["count"]), fact["activity"])
        advanced += 1
    horizon = (start - FORGET_AFTER).isoformat()
    states = {p: s for p, s in states.items() if s.through >= horizon}
    save_states(lake, asset_path, states)
    return advanced
