"""Vendor-shaped records of every sandbox stream, made on demand from compact sorted indexes.

Building :class:`SandboxData` decides, vectorized, which records exist (which person, which purchase,
which parent post) and when each was last modified; it keeps per stream only the modified times in
sorted order and the record numbers in that order (plus a person or parent per record where one is
needed), a few bytes to a few tens of bytes per record. The content of a record (names, emails, texts)
is a pure function of (seed, stream, record number) and is made only when asked, so a page costs
memory and a million persons do not.

Vocabulary: a record's *number* ``r`` is its stable identity inside a stream (its id is derived from
it); a record's *position* is its rank in (modified time, id) order, which is what windows return.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cdp_platform.sandbox import plugins
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.population import (
    DAY_MS,
    Population,
    company_domain,
    company_name,
    key_of,
    record_random,
    uniforms,
)
from cdp_platform.sandbox.purchases import (
    PURCHASE_PARAMETERS,
    SYSTEM_CRM,
    SYSTEM_SECOND_CRM,
    SYSTEM_SHOP,
    PurchaseHistory,
    PurchaseParameters,
    simulate_purchases,
)
from cdp_platform.sandbox.texts import BRAND_NAME, SENTIMENTS, sentiment_labels, social_text

DUPLICATE_SHARE = 0.03  # of a CRM's contacts entered a second time (true duplicates)
EXTRA_DEAL_SHARE = 0.2  # of CRM contacts with one open or lost deal besides their purchases
UPDATE_SHARE = 0.7  # of mutable records changed at least once after creation

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDUSTRIES = (
    ("Technology", "COMPUTER_SOFTWARE"),
    ("Retail", "RETAIL"),
    ("Healthcare", "HOSPITAL_HEALTH_CARE"),
    ("Finance", "FINANCIAL_SERVICES"),
    ("Manufacturing", "MACHINERY"),
    ("Education", "EDUCATION_MANAGEMENT"),
)
_COMPANY_CITIES = (
    ("New York", "United States"),
    ("San Francisco", "United States"),
    ("Chicago", "United States"),
    ("Austin", "United States"),
    ("London", "United Kingdom"),
    ("Berlin", "Germany"),
    ("Paris", "France"),
)
_TITLES = ("Manager", "Engineer", "Analyst", "Director", "Consultant", "Designer", "Teacher", "Nurse", None)


# --- record times (each vendor module formats them as its API does) -------------------------------


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _dt(ms: int) -> datetime.datetime:
    # Integer arithmetic: a float division could round .999 s into the next second.
    return _EPOCH + datetime.timedelta(milliseconds=ms)


# --- time helpers (vectorized; used for the whole index at build and for one record on demand) -----


def _within(start_ms: np.ndarray, u: np.ndarray, max_ms: float | np.ndarray, end_ms: int) -> np.ndarray:
    """``start + u * min(max, end - 1 - start)``: a time after ``start`` that never passes the end."""
    room = np.minimum(max_ms, end_ms - 1 - start_ms)
    return start_ms + (u * np.maximum(room, 0)).astype(np.int64)


def _floor(ms: np.ndarray, precision_ms: int) -> np.ndarray:
    return ms - ms % precision_ms


@dataclass
class _Index:
    """One stream's sorted index: modified times in window order and record numbers in that order."""

    sorted_ms: np.ndarray
    order: np.ndarray

    @classmethod
    def from_times(cls, modified_ms: np.ndarray, id_rank: np.ndarray | None = None) -> _Index:
        """Order by modified time, then id. ``id_rank`` orders records like their ids; None means ids
        already follow record numbers (true of every stream whose id is a fixed-width encoded number)."""
        if id_rank is None:
            order = np.argsort(modified_ms, kind="stable")
        else:
            order = np.lexsort((id_rank, modified_ms))
        order = order.astype(np.int32)
        return cls(sorted_ms=modified_ms[order], order=order)

    def __len__(self) -> int:
        return int(self.sorted_ms.size)


class _Stream:
    """Common machinery of a stream: its index, and the per-record functions every stream provides."""

    name: str
    precision_ms: int = 1000

    def __init__(self, data: SandboxData) -> None:
        self.data = data
        self.seed = data.config.seed
        self.pop = data.population
        self.end_ms = self.pop.end_ms
        self.start_ms = self.pop.start_ms

    def key(self, *labels: str) -> int:
        return key_of(self.seed, self.name, *labels)

    def size(self) -> int:
        raise NotImplementedError

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(created, modified) epoch ms of records ``r``, floored to the vendor's precision."""
        raise NotImplementedError

    def record(self, r: int) -> dict[str, Any]:
        raise NotImplementedError

    def record_id(self, r: int) -> str:
        raise NotImplementedError

    def record_ids(self, r: np.ndarray) -> list[str]:
        """Ids of many records; streams whose ids need per-record work override this in bulk."""
        return [self.record_id(int(x)) for x in r]

    def person(self, r: np.ndarray) -> np.ndarray:
        """True person index of records ``r``, -1 where the record is not about a person."""
        return np.full(np.asarray(r).shape, -1, dtype=np.int64)

    def build_index(self) -> _Index:
        r = np.arange(self.size(), dtype=np.int64)
        _, modified = self.times(r)
        return _Index.from_times(modified, self.id_rank(r))

    def id_rank(self, r: np.ndarray) -> np.ndarray | None:
        """Keys that sort records like their ids, when record numbers do not already."""
        return None

    def created_modified(self, r: int) -> tuple[int, int]:
        created, modified = self.times(np.array([r], dtype=np.int64))
        return int(created[0]), int(modified[0])

    def mutable_times(self, r: np.ndarray, created: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Most records change once or more after creation; the last change is what shows.

        Half the changes come within two weeks (a record is enriched soon after it is entered), the rest
        any time later, so even the first days of the history have changes to pick up.
        """
        created = _floor(created, self.precision_ms)
        updated = uniforms(self.key("updated"), r) < UPDATE_SHARE
        soon = uniforms(self.key("soon"), r) < 0.5
        u = uniforms(self.key("when"), r)
        # Cubing skews the quick changes towards the first hours and days after creation.
        when = np.where(
            soon,
            _within(created, u**3, 14 * DAY_MS, self.end_ms),
            _within(created, u, np.inf, self.end_ms),
        )
        modified = _floor(np.where(updated, when, created), self.precision_ms)
        return created, np.maximum(modified, created)


class _PersonStream(_Stream):
    """A stream with one record per member person, plus second entries (true duplicates) at the end."""

    share: float
    duplicate_share: float = 0.0
    created_window_ms: float = 30 * DAY_MS

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.size, dtype=np.int64)
        self.members = everyone[uniforms(key_of(self.seed, self.name, "member"), everyone) < self.share]
        duplicated = uniforms(key_of(self.seed, self.name, "duplicate"), self.members) < self.duplicate_share
        self.n_main = int(self.members.size)
        self.persons = np.concatenate((self.members, self.members[duplicated])).astype(np.int32)

    def size(self) -> int:
        return int(self.persons.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def copy_of(self, r: int) -> int:
        return 1 if r >= self.n_main else 0

    def main_record(self, person: int) -> int | None:
        """The first (non-duplicate) record of a person, if the person is in this system."""
        at = int(np.searchsorted(self.members, person))
        if at < self.n_main and int(self.members[at]) == person:
            return at
        return None

    def first_created(self, r: np.ndarray) -> np.ndarray:
        persons = self.persons[r]
        acquired = self.pop.acquired_ms(persons)
        return _within(acquired, uniforms(self.key("created"), persons), self.created_window_ms, self.end_ms)

    def created_times(self, r: np.ndarray) -> np.ndarray:
        """The main entry appears soon after the person; a second entry any time after the first."""
        main_created = self.first_created(r)
        later = _within(main_created, uniforms(self.key("copy_created"), r), np.inf, self.end_ms)
        return np.where(r >= self.n_main, later, main_created)


# --- what the vendors' streams share (their generators are in sandbox/vendors/<name>) -------------------


@functools.lru_cache(maxsize=4096)
def _company(seed: int, index: int) -> dict[str, Any]:
    rng = record_random(seed, "company", index)
    industry = _INDUSTRIES[rng.randrange(len(_INDUSTRIES))]
    city, country = _COMPANY_CITIES[rng.randrange(len(_COMPANY_CITIES))]
    return {
        "name": company_name(seed, index),
        "domain": company_domain(seed, index),
        "industry": industry,
        "employees": int(10 ** rng.uniform(0.7, 4.5)),
        "city": city,
        "country": country,
        "phone": f"+1{rng.randrange(200, 999)}{rng.randrange(200, 999)}{rng.randrange(10000):04d}",
    }


class _DealStream(_Stream):
    """Won deals are the simulated purchases recorded in this CRM; the rest are open or lost deals."""

    system: int
    contacts: _PersonStream

    def __init__(self, data: SandboxData, contacts: _PersonStream) -> None:
        super().__init__(data)
        self.contacts = contacts
        purchases = data.purchases
        self.won = np.flatnonzero(purchases.system == self.system).astype(np.int64)
        members = contacts.members
        extra = uniforms(self.key("extra"), members) < EXTRA_DEAL_SHARE
        self.extra_persons = members[extra].astype(np.int32)
        self.n_won = int(self.won.size)

    def size(self) -> int:
        return self.n_won + int(self.extra_persons.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, dtype=np.int64)
        won = r < self.n_won
        purchase_person = (
            self.data.purchases.person[self.won[np.where(won, r, 0)]] if self.n_won else np.zeros_like(r)
        )
        extra_person = self.extra_persons[np.where(won, 0, r - self.n_won)] if self.extra_persons.size else r
        return np.where(won, purchase_person, extra_person).astype(np.int64)

    def deal_times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(created, modified, close, stage) where stage 0 won, 1 lost, 2.. open stages."""
        r = np.asarray(r, dtype=np.int64)
        won = r < self.n_won
        persons = self.person(r)
        purchase_ms = (
            self.data.purchases.time_ms[self.won[np.where(won, r, 0)]] if self.n_won else np.zeros_like(r)
        )
        opened = _within(self.pop.acquired_ms(persons), uniforms(self.key("opened"), r), np.inf, self.end_ms)
        stage_u = uniforms(self.key("stage"), r)
        stage = np.where(won, 0, np.where(stage_u < 0.4, 1, 2 + (stage_u * 10).astype(np.int64) % 3))
        # A won deal was opened up to 30 days before it closed, and last changed when it closed;
        # one closed before the history began (a short sandbox's earlier purchases, see
        # ``purchases.PURCHASE_HISTORY_DAYS``) was last changed when its customer's CRM record came in.
        won_created = purchase_ms - (
            uniforms(self.key("lead_time"), r) * np.clip(purchase_ms - self.start_ms, 0, 30 * DAY_MS)
        ).astype(np.int64)
        won_modified = np.where(
            purchase_ms < self.start_ms, np.maximum(purchase_ms, self.pop.acquired_ms(persons)), purchase_ms
        )
        lost_at = _within(opened, uniforms(self.key("lost_at"), r), 45 * DAY_MS, self.end_ms)
        created = np.where(won, won_created, opened)
        modified = np.where(won, won_modified, np.where(stage == 1, lost_at, opened))
        close_open = opened + (30 + uniforms(self.key("close"), r) * 60).astype(np.int64) * DAY_MS
        close = np.where(won, purchase_ms, np.where(stage == 1, lost_at, close_open))
        created = _floor(created, self.precision_ms)
        modified = np.maximum(_floor(modified, self.precision_ms), created)
        return created, modified, close, stage

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        created, modified, _, _ = self.deal_times(r)
        return created, modified

    def deal(self, r: int) -> tuple[int, int, int, int, int, float, bool]:
        """(person, created, modified, close, stage, amount, repeat) of one deal."""
        arr = np.array([r], dtype=np.int64)
        created, modified, close, stage = (int(x[0]) for x in self.deal_times(arr))
        person = int(self.person(arr)[0])
        if r < self.n_won:
            purchase = int(self.won[r])
            amount = int(self.data.purchases.amount_cents[purchase]) / 100
            repeat = bool(self.data.purchases.repeat[purchase])
        else:
            amount = round(record_random(self.seed, self.name, r).gammavariate(6.0, 18.0), 2)
            repeat = False
        return person, created, modified, close, stage, amount, repeat


class _BrandPosts(_Stream):
    """Posts by the brand, roughly evenly spread over the history (one every ``every_days``)."""

    every_days: int

    def size(self) -> int:
        return self.data.config.span_days // self.every_days + 1

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.int64)
        slot = (self.end_ms - self.start_ms) / self.size()
        at = self.start_ms + ((r + uniforms(self.key("at"), r)) * slot).astype(np.int64)
        at = _floor(np.minimum(at, self.end_ms - 1), self.precision_ms)
        return at, at

    def text(self, r: int) -> tuple[str, str]:
        return social_text(self.seed, self.name, r, brand=True)


class _Comments(_Stream):
    """Comments by persons on brand posts, each within 7 days after its parent."""

    per_person: float
    network: str
    parents: _BrandPosts

    def __init__(self, data: SandboxData, parents: _BrandPosts) -> None:
        super().__init__(data)
        self.parents = parents
        everyone = np.arange(self.pop.size, dtype=np.int64)
        authors = everyone[self.pop.has_social(self.network, everyone)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, key_of(0, self.name) % 2**32]))
        count = round(self.per_person * self.pop.size) if authors.size else 0
        self.persons = rng.choice(authors, size=count).astype(np.int32) if count else np.zeros(0, np.int32)
        self.parent = rng.integers(0, parents.size(), size=count).astype(np.int32)
        # Comments grouped by parent, by time within a parent: children() is a slice of this.
        _, modified = self.times(np.arange(count, dtype=np.int64))
        self.by_parent = np.lexsort((np.arange(count), modified, self.parent)).astype(np.int32)
        self.parent_sorted = self.parent[self.by_parent]

    def size(self) -> int:
        return int(self.persons.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.int64)
        parent_created, _ = self.parents.times(self.parent[r].astype(np.int64))
        created = _within(parent_created, uniforms(self.key("after"), r), 7 * DAY_MS, self.end_ms)
        created = np.maximum(_floor(created, self.precision_ms), parent_created)
        return created, created

    def children_of(self, parent_r: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.parent_sorted, [parent_r, parent_r + 1])
        return self.by_parent[lo:hi]

    def text(self, r: int) -> tuple[str, str]:
        return social_text(self.seed, self.name, r)


# --- the facade the HTTP layer uses ----------------------------------------------------------------


class SandboxData:
    """All records of one sandbox: cheap to query by window, position or id; built once per app."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.population = Population(config)
        self.purchase_parameters: PurchaseParameters = PURCHASE_PARAMETERS
        self.brand_name = BRAND_NAME
        # The vendors' own facts about this world (account ids, look-ups their records need), as
        # attributes: ``data.<name>`` (EmulatedVendor.facts).
        for vendor in plugins.emulated_vendors():
            for name, value in (vendor.facts(self) if vendor.facts is not None else {}).items():
                if hasattr(self, name):
                    raise RuntimeError(f"the vendor module {vendor.name!r} redefines SandboxData.{name}")
                setattr(self, name, value)

        # The streams the vendor modules declare (cdp_platform.sandbox.plugins), in their order; first
        # those whose persons are a purchase system's customers, since the purchases depend on who
        # is in which system, and the other streams may read the purchases.
        declared = plugins.builders()
        built: dict[str, _Stream] = {}
        customers: dict[int, np.ndarray] = {}
        for builder in declared:
            if builder.customers_of is not None:
                stream = built[builder.stream] = builder.build(self, built)
                members = np.zeros(self.population.size, dtype=bool)
                members[stream.members] = True
                customers[builder.customers_of] = members
        missing = {SYSTEM_CRM, SYSTEM_SECOND_CRM} - set(customers)
        if missing:
            raise RuntimeError(f"no vendor module declares the contacts of purchase systems {sorted(missing)}")
        # The shop's customers are drawn by a hash keyed with the name of the vendor serving it.
        shops = [v.name for v in plugins.emulated_vendors() for p in v.purchases if p.system == SYSTEM_SHOP]
        self.purchases: PurchaseHistory = simulate_purchases(
            self.population,
            customers[SYSTEM_CRM],
            customers[SYSTEM_SECOND_CRM],
            self.purchase_parameters,
            shop=shops[0] if shops else None,
        )
        del customers
        for builder in declared:
            if builder.stream not in built:
                built[builder.stream] = builder.build(self, built)
        self.streams: dict[str, _Stream] = {builder.stream: built[builder.stream] for builder in declared}
        wrong = [name for name, stream in self.streams.items() if stream.name != name]
        if wrong:
            raise RuntimeError(f"the builders of {wrong} made a generator of another stream")
        self._texts = {builder.stream: builder.texts for builder in declared if builder.texts is not None}
        self._indexes = {name: stream.build_index() for name, stream in self.streams.items()}
        self._positions_by_number: dict[str, np.ndarray] = {}

    # queries by position (the HTTP layer's view)

    def count(self, stream: str) -> int:
        return len(self._index(stream))

    def window(self, stream: str, start: datetime.datetime, end: datetime.datetime) -> Sequence[int]:
        """Positions of records last modified in [start, end), in (modified time, id) order."""
        index = self._index(stream)
        lo, hi = np.searchsorted(index.sorted_ms, [_ceil_ms(start), _ceil_ms(end)], side="left")
        return range(int(lo), int(max(lo, hi)))

    def all_positions(self, stream: str) -> Sequence[int]:
        return range(len(self._index(stream)))

    def record(self, stream: str, position: int) -> dict[str, Any]:
        return self.streams[stream].record(self._number(stream, position))

    def record_id(self, stream: str, position: int) -> str:
        return self.streams[stream].record_id(self._number(stream, position))

    def record_ids(self, stream: str, positions: Sequence[int] | np.ndarray) -> list[str]:
        """Ids of many positions at once (bulk, for the truth writer and tests)."""
        numbers = self._index(stream).order[np.asarray(positions, dtype=np.int64)]
        return self.streams[stream].record_ids(numbers)

    def modified_at(self, stream: str, position: int) -> datetime.datetime:
        return _dt(int(self._index(stream).sorted_ms[position]))

    def modified_ms(self, stream: str, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """Modified times (epoch ms) of many positions at once, for the truth writer."""
        return self._index(stream).sorted_ms[np.asarray(positions, dtype=np.int64)]

    def person_index(self, stream: str, positions: Sequence[int] | np.ndarray) -> np.ndarray:
        """True person index of each position (-1 for company records and brand posts)."""
        numbers = self._index(stream).order[np.asarray(positions, dtype=np.int64)]
        return self.streams[stream].person(numbers)

    def sentiment(self, stream: str, positions: Sequence[int] | np.ndarray) -> list[str]:
        """True sentiment label of each post, comment or tweet at ``positions`` (vectorized)."""
        if stream not in self._texts:
            raise KeyError(f"{stream} has no texts")
        numbers = self._index(stream).order[np.asarray(positions, dtype=np.int64)]
        labels = sentiment_labels(self.config.seed, stream, numbers, brand=self._texts[stream])
        return [SENTIMENTS[label] for label in labels]

    def children(self, stream: str, parent_id: str) -> Sequence[int]:
        """Positions of the comments of one post or media, in time order; empty for unknown ids."""
        comments = self.streams[stream]
        if not isinstance(comments, _Comments):
            raise KeyError(f"{stream} has no parents")
        parent_r = comments.parents.number_of(parent_id)  # type: ignore[attr-defined]
        if parent_r is None:
            return []
        return [self._position(stream, int(r)) for r in comments.children_of(parent_r)]

    # purchase look-ups used while making records

    def purchases_of(self, person: int) -> slice:
        lo, hi = np.searchsorted(self.purchases.person, [person, person + 1])
        return slice(int(lo), int(hi))

    def bought_before(self, person: int, system: int, at_ms: int) -> bool:
        span = self.purchases_of(person)
        return bool(np.any((self.purchases.system[span] == system) & (self.purchases.time_ms[span] <= at_ms)))

    def bought_on_day(self, person: int, day_ms: int) -> list[int]:
        span = self.purchases_of(person)
        times = self.purchases.time_ms[span]
        on_day = (times >= day_ms) & (times < day_ms + DAY_MS)
        return [int(c) for c in self.purchases.amount_cents[span][on_day]]

    # internals

    def _index(self, stream: str) -> _Index:
        try:
            return self._indexes[stream]
        except KeyError:
            raise KeyError(f"unknown stream {stream!r}; known: {', '.join(self.streams)}") from None

    def _number(self, stream: str, position: int) -> int:
        index = self._index(stream)
        if not 0 <= position < len(index):
            raise IndexError(f"{stream} has no position {position} (size {len(index)})")
        return int(index.order[position])

    def _position(self, stream: str, number: int) -> int:
        """Inverse of the index order, built lazily per stream (only comment streams need it)."""
        inverse = self._positions_by_number.get(stream)
        if inverse is None:
            order = self._index(stream).order
            inverse = np.empty_like(order)
            inverse[order] = np.arange(order.size, dtype=order.dtype)
            self._positions_by_number[stream] = inverse
        return int(inverse[number])


def _ceil_ms(moment: datetime.datetime) -> int:
    """Epoch ms of the first whole millisecond at or after ``moment`` (aware datetimes only)."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware UTC datetimes")
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micros // 1000)
