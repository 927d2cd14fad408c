"""The synthetic population: who the persons are, and how each source sees them with noise.

Everything here is a pure function of (seed, labels, index). A person is never stored: it is rebuilt
on demand from a counter-based hash (splitmix64), so a population of a million costs no memory and
any record can be produced alone, in any order, with the same bytes every time. Faker supplies the
realistic names and addresses; it is re-seeded per person from the same hash.

Hard cases are placed on purpose, decided by the hash of the person index:
- household members share the address and the home phone of the person before them (a different
  first name, usually the same last name) but are different people;
- namesakes carry one of a few very common full names, with their own email, phone and city;
- true duplicates (one person entered twice in the same CRM) are chosen by the records layer, which
  asks for a second, slightly different view of the same person (``copy=1``).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import phonenumbers
from faker import Faker

from cdp_platform.sandbox.config import SandboxConfig

DAY_MS = 86_400_000
_MASK = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def key_of(seed: int, *labels: str | int) -> int:
    """A 64-bit key for one named random stream; blake2b so it is stable across processes and runs.

    Python's ``hash()`` is salted per process, so it can never be used for reproducible data.
    """
    digest = hashlib.blake2b(repr((seed, *labels)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _splitmix(x: np.ndarray) -> np.ndarray:
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _splitmix_int(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def hash64(key: int, index: np.ndarray | Sequence[int] | int) -> np.ndarray:
    """Counter-based hash of ``index`` under ``key``: the same value whether computed alone or in bulk."""
    idx = np.asarray(index, dtype=np.int64)
    if idx.size <= 4:
        # Records are made one at a time; plain ints beat numpy's per-call overhead there.
        flat = [_splitmix_int(key ^ _splitmix_int(int(i) & _MASK)) for i in idx.ravel().tolist()]
        return np.array(flat, dtype=np.uint64).reshape(idx.shape)
    return _splitmix(np.uint64(key) ^ _splitmix(idx.astype(np.uint64)))


def uniforms(key: int, index: np.ndarray | Sequence[int] | int) -> np.ndarray:
    """Uniform floats in [0, 1), one per index, from the top 53 bits of the hash."""
    return (hash64(key, index) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def uniform(key: int, index: int) -> float:
    """The scalar form of :func:`uniforms`, bit-identical to it."""
    return float(uniforms(key, [index])[0])


def record_random(seed: int, *labels: str | int) -> random.Random:
    """A private RNG for one record's on-demand noise, independent of every other record."""
    return random.Random(key_of(seed, "record", *labels))


@dataclass(frozen=True)
class Bijection:
    """An affine permutation of [0, modulus): unique, reversible, non-sequential ids from an index."""

    multiplier: int
    offset: int
    modulus: int

    def forward(self, index: int) -> int:
        return (index * self.multiplier + self.offset) % self.modulus

    def forward_array(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        if index.size and int(index.max()) * self.multiplier + self.offset < 2**63:
            return (index * self.multiplier + self.offset) % self.modulus
        # Python ints avoid int64 overflow of index * multiplier at large moduli.
        return np.array([self.forward(int(i)) for i in index], dtype=np.int64)

    def inverse(self, value: int) -> int:
        return ((value - self.offset) * pow(self.multiplier, -1, self.modulus)) % self.modulus


def bijection(seed: int, label: str, digits: int) -> Bijection:
    """A seed-dependent permutation of all ``digits``-digit numbers (multiplier coprime with 10)."""
    modulus = 10**digits
    key = key_of(seed, "bijection", label)
    multiplier = (key % (modulus // 10)) * 10 + 7  # ends in 7: odd and not a multiple of 5
    return Bijection(multiplier=multiplier, offset=(key >> 20) % modulus, modulus=modulus)


# --- reference tables -------------------------------------------------------------------------------

# Formal first name -> nicknames people actually use; persons are biased towards these names so
# that "Bob" in one system and "Robert" in another happens often enough to matter.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Robert": ("Bob", "Rob", "Bobby"),
    "William": ("Bill", "Will", "Billy"),
    "Richard": ("Rick", "Rich", "Dick"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Michael": ("Mike", "Mikey"),
    "Christopher": ("Chris",),
    "Thomas": ("Tom", "Tommy"),
    "Joseph": ("Joe", "Joey"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Steven": ("Steve",),
    "Andrew": ("Andy", "Drew"),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Charles": ("Charlie", "Chuck"),
    "Alexander": ("Alex",),
    "Benjamin": ("Ben",),
    "Nicholas": ("Nick",),
    "Samuel": ("Sam",),
    "Timothy": ("Tim",),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Rebecca": ("Becky", "Becca"),
    "Jessica": ("Jess", "Jessie"),
    "Victoria": ("Vicky", "Tori"),
    "Deborah": ("Debbie", "Deb"),
    "Kimberly": ("Kim",),
    "Jacqueline": ("Jackie",),
}
_FORMAL_MALE = (
    "Robert", "William", "Richard", "James", "Michael", "Christopher", "Thomas", "Joseph", "Daniel",
    "Matthew", "Anthony", "Steven", "Andrew", "Edward", "Charles", "Alexander", "Benjamin", "Nicholas",
    "Samuel", "Timothy",
)  # fmt: skip
_FORMAL_FEMALE = (
    "Elizabeth", "Katherine", "Margaret", "Jennifer", "Patricia", "Susan", "Rebecca", "Jessica",
    "Victoria", "Deborah", "Kimberly", "Jacqueline",
)  # fmt: skip

# Namesakes: common full names shared by several different persons of the population.
COMMON_NAMES: tuple[tuple[str, str, str], ...] = (
    ("John", "Smith", "M"),
    ("Michael", "Johnson", "M"),
    ("David", "Brown", "M"),
    ("James", "Williams", "M"),
    ("Maria", "Garcia", "F"),
    ("Mary", "Jones", "F"),
    ("Jennifer", "Miller", "F"),
    ("Sarah", "Davis", "F"),
)

_LOCALES = {"US": "en_US", "GB": "en_GB", "DE": "de_DE", "FR": "fr_FR"}
_COUNTRY_SHARES = (("US", 0.82), ("GB", 0.06), ("DE", 0.06), ("FR", 0.06))
_FREE_DOMAINS = {
    "US": ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"),
    "GB": ("gmail.com", "gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
    "DE": ("gmail.com", "gmx.de", "web.de", "t-online.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net"),
}
_US_AREA_CODES = (
    "212", "213", "312", "415", "617", "206", "512", "303", "404", "305", "702", "214", "615", "503",
    "602", "619", "720", "773", "646", "818",
)  # fmt: skip
# National significant number templates per country: first digits fixed, the rest random digits.
_MOBILE_PREFIXES = {
    "GB": ("74", "75", "77", "78", "79"),
    "DE": ("151", "152", "160", "170", "171", "176"),
    "FR": ("6", "7"),
}
_NSN_LENGTH = {"US": 10, "GB": 10, "DE": 11, "FR": 9}

INITIAL_BASE_SHARE = 0.2
INITIAL_BASE_DAYS = 14
HOUSEHOLD_SHARE = 0.06
NAMESAKE_SHARE = 0.04
SOCIAL_SHARES = {"twitter": 0.40, "instagram": 0.35, "facebook": 0.60}


# --- the person ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One true person; every source record about them derives from this and only this."""

    index: int
    person_id: str
    first_name: str
    last_name: str
    gender: str
    birth_date: datetime.date
    country: str
    street: str
    city: str
    postcode: str
    phone_e164: str
    personal_email: str
    work_email: str
    company_index: int
    twitter_handle: str | None
    instagram_username: str | None
    facebook_id: str | None
    ga_client_id: str
    acquired_ms: int
    household_of: int | None
    namesake: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def person_id(index: int) -> str:
    """The true person id the ground truth uses (never served by any vendor API)."""
    return f"P{index:07d}"


def company_count(persons: int) -> int:
    return max(1, persons // 10)


class Population:
    """Persons of one sandbox, made on demand; vectorized helpers serve the index builders."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.seed = config.seed
        self.size = config.persons
        self.companies = company_count(config.persons)
        self.start_ms = int(config.history_start.timestamp() * 1000)
        self.end_ms = int(config.history_end.timestamp() * 1000)
        self._kind_key = key_of(self.seed, "person", "kind")
        self._acquired_key = key_of(self.seed, "person", "acquired")
        self._country_key = key_of(self.seed, "person", "country")
        self._social_keys = {name: key_of(self.seed, "person", name) for name in SOCIAL_SHARES}
        self._client_ids = bijection(self.seed, "ga_client", 9)
        self._twitter_ids = bijection(self.seed, "twitter_user", 12)
        self._facebook_ids = bijection(self.seed, "facebook_user", 12)
        self._unique_suffix = bijection(self.seed, "email_suffix", max(4, len(str(self.size))))
        self._fakers = threading.local()
        self.person = functools.lru_cache(maxsize=8192)(self._build_person)

    # vectorized attributes (pure functions of the index; also used one at a time)

    def kinds(self, index: np.ndarray) -> np.ndarray:
        """0 regular, 1 household member of ``index - 1``, 2 namesake (a common full name).

        A member needs its predecessor's raw draw outside the member band, so households are pairs and
        the root of a household is never itself a member (no chains to walk).
        """
        index = np.asarray(index, dtype=np.int64)
        u = uniforms(self._kind_key, index)
        u_prev = uniforms(self._kind_key, index - 1)
        member = (u < HOUSEHOLD_SHARE) & (u_prev >= HOUSEHOLD_SHARE) & (index > 0)
        namesake = (u >= HOUSEHOLD_SHARE) & (u < HOUSEHOLD_SHARE + NAMESAKE_SHARE)
        return np.where(member, 1, np.where(namesake, 2, 0)).astype(np.int8)

    def acquired_ms(self, index: np.ndarray) -> np.ndarray:
        """When the person first appears anywhere.

        A share of the population arrives in the first two weeks (the base a business already had when
        its systems went live), the rest uniformly over the history so every day has arrivals; without
        that base the first weeks would have almost nothing to change.
        """
        span = self.end_ms - self.start_ms
        u = uniforms(self._acquired_key, index)
        base = u < INITIAL_BASE_SHARE
        early = (u / INITIAL_BASE_SHARE) * min(span, INITIAL_BASE_DAYS * DAY_MS)
        later = (u - INITIAL_BASE_SHARE) / (1 - INITIAL_BASE_SHARE) * span
        return self.start_ms + np.where(base, early, later).astype(np.int64)

    def initial_base(self, index: np.ndarray) -> np.ndarray:
        """Whether each person belongs to the base the business already had (see ``acquired_ms``)."""
        return uniforms(self._acquired_key, index) < INITIAL_BASE_SHARE

    def has_social(self, network: str, index: np.ndarray) -> np.ndarray:
        return uniforms(self._social_keys[network], index) < SOCIAL_SHARES[network]

    def countries(self, index: np.ndarray) -> np.ndarray:
        u = uniforms(self._country_key, index)
        edges = np.cumsum([share for _, share in _COUNTRY_SHARES])
        return np.searchsorted(edges, u, side="right").clip(0, len(_COUNTRY_SHARES) - 1)

    def ga_client_ids(self, index: np.ndarray) -> list[str]:
        """GA's ``<random>.<first visit unix seconds>``; the random part has a fixed width of 10 digits
        so that ordering the ids as text orders them as numbers."""
        keys = self.ga_client_sort_keys(index)
        acquired_s = self.acquired_ms(index) // 1000
        return [f"1{k:09d}.{a}" for k, a in zip(keys.tolist(), acquired_s.tolist(), strict=True)]

    def ga_client_id(self, index: int) -> str:
        return self.ga_client_ids(np.array([index]))[0]

    def ga_client_sort_keys(self, index: np.ndarray) -> np.ndarray:
        """The random part of each client id, so GA rows can be ordered by client id per day."""
        return self._client_ids.forward_array(np.asarray(index, dtype=np.int64))

    def twitter_user_id(self, index: int) -> str:
        return str(10**18 + self._twitter_ids.forward(index))

    def person_of_twitter_user(self, user_id: str) -> int | None:
        """Inverse of :meth:`twitter_user_id`; None when the id is not one of this population's users."""
        try:
            value = int(user_id) - 10**18
        except ValueError:
            return None
        if not 0 <= value < self._twitter_ids.modulus:
            return None
        index = self._twitter_ids.inverse(value)
        if index >= self.size or not bool(self.has_social("twitter", np.array([index]))[0]):
            return None
        return index

    def facebook_user_id(self, index: int) -> str:
        return str(10**15 + self._facebook_ids.forward(index))

    # one person

    def _faker(self, country: str) -> Faker:
        # Faker instances are not thread-safe; one set per thread keeps concurrent requests apart.
        fakers = getattr(self._fakers, "by_country", None)
        if fakers is None:
            # Unweighted picks are several times faster and the names stay just as realistic.
            fakers = {code: Faker(locale, use_weighting=False) for code, locale in _LOCALES.items()}
            self._fakers.by_country = fakers
        return fakers[country]

    def _build_person(self, index: int) -> Person:
        if not 0 <= index < self.size:
            raise IndexError(f"person {index} outside population of {self.size}")
        arr = np.array([index])
        kind = int(self.kinds(arr)[0])
        # The household root is built first: building it re-seeds the shared Faker instance, which
        # must not happen halfway through this person or the result would depend on cache state.
        root = self.person(index - 1) if kind == 1 else None
        country = _COUNTRY_SHARES[int(self.countries(arr)[0])][0]
        rng = record_random(self.seed, "person", index)
        fake = self._faker(country)
        fake.seed_instance(key_of(self.seed, "faker", index))

        gender = "F" if rng.random() < 0.5 else "M"
        if kind == 2:
            first, last, gender = COMMON_NAMES[rng.randrange(len(COMMON_NAMES))]
        else:
            first = _first_name(fake, rng, gender)
            last = fake.last_name()
        street, city, postcode = fake.street_address().replace("\n", ", "), fake.city(), fake.postcode()
        phone = _phone_number(country, rng)
        household_of = None
        if root is not None:
            household_of = root.index
            country, street, city, postcode, phone = (
                root.country, root.street, root.city, root.postcode, root.phone_e164,
            )  # fmt: skip
            if rng.random() < 0.75:
                last = root.last_name
            while first == root.first_name:
                first = _first_name(fake, rng, gender)

        age_days = rng.randrange(18 * 365, 80 * 365)
        birth_date = self.config.today - datetime.timedelta(days=age_days)
        company_index = rng.randrange(self.companies)
        suffix = f"{self._unique_suffix.forward(index):0{len(str(self._unique_suffix.modulus - 1))}d}"
        personal_email = _personal_email(first, last, suffix, country, rng)
        work_email = (
            f"{(_ascii(first) or 'x')[0]}{_ascii(last)}{suffix}@{company_domain(self.seed, company_index)}"
        )
        handle_base = _ascii(fake.user_name())[:10] or _ascii(last)[:10] or "user"
        acquired = int(self.acquired_ms(arr)[0])
        return Person(
            index=index,
            person_id=person_id(index),
            first_name=first,
            last_name=last,
            gender=gender,
            birth_date=birth_date,
            country=country,
            street=street,
            city=city,
            postcode=postcode,
            phone_e164=phone,
            personal_email=personal_email,
            work_email=work_email,
            company_index=company_index,
            twitter_handle=f"{handle_base}_{suffix}" if self.has_social("twitter", arr)[0] else None,
            instagram_username=(
                f"{_ascii(first)[:8]}.{_ascii(last)[:8]}{suffix}"
                if self.has_social("instagram", arr)[0]
                else None
            ),
            facebook_id=self.facebook_user_id(index) if self.has_social("facebook", arr)[0] else None,
            ga_client_id=self.ga_client_id(index),
            acquired_ms=acquired,
            household_of=household_of,
            namesake=kind == 2,
        )


def _first_name(fake: Faker, rng: random.Random, gender: str) -> str:
    if rng.random() < 0.35:
        names = _FORMAL_FEMALE if gender == "F" else _FORMAL_MALE
        return names[rng.randrange(len(names))]
    return fake.first_name_female() if gender == "F" else fake.first_name_male()


_ASCII_MAP = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ê": "e", "ë": "e", "à": "a", "â": "a",
     "ç": "c", "î": "i", "ï": "i", "ô": "o", "û": "u", "ù": "u", "ÿ": "y", "œ": "oe", "æ": "ae"}
)  # fmt: skip


def _ascii(text: str) -> str:
    """Lowercase letters and digits only, the way people turn their name into an address."""
    lowered = text.lower().translate(_ASCII_MAP)
    return "".join(ch for ch in lowered if ch.isascii() and ch.isalnum())


def _personal_email(first: str, last: str, suffix: str, country: str, rng: random.Random) -> str:
    # The unique numeric suffix guarantees two different persons never share an address, so an
    # email match in the data is always a true match (namesakes included).
    f, surname = _ascii(first) or "x", _ascii(last) or "x"
    pattern = rng.randrange(4)
    local = (f"{f}.{surname}", f"{f[0]}{surname}", f"{f}{surname}", f"{f}_{surname}")[pattern]
    domains = _FREE_DOMAINS[country]
    return f"{local}{suffix}@{domains[rng.randrange(len(domains))]}"


def company_domain(seed: int, company_index: int) -> str:
    return f"{company_slug(seed, company_index)}.com"


@functools.lru_cache(maxsize=4096)
def company_name(seed: int, company_index: int) -> str:
    fake = _company_faker()
    fake.seed_instance(key_of(seed, "company", company_index))
    return fake.company()


def company_slug(seed: int, company_index: int) -> str:
    # The index keeps the domain unique even when Faker repeats a company name.
    return f"{_ascii(company_name(seed, company_index))[:20] or 'company'}{company_index}"


_company_fakers = threading.local()


def _company_faker() -> Faker:
    fake = getattr(_company_fakers, "fake", None)
    if fake is None:
        fake = Faker("en_US", use_weighting=False)
        _company_fakers.fake = fake
    return fake


def _phone_number(country: str, rng: random.Random) -> str:
    """A valid number for the country (checked with phonenumbers) in E.164."""
    for _ in range(50):
        if country == "US":
            nsn = (
                _US_AREA_CODES[rng.randrange(len(_US_AREA_CODES))]
                + str(rng.randrange(2, 10))
                + f"{rng.randrange(100):02d}"
                + f"{rng.randrange(10000):04d}"
            )
        else:
            prefixes = _MOBILE_PREFIXES[country]
            prefix = prefixes[rng.randrange(len(prefixes))]
            rest = _NSN_LENGTH[country] - len(prefix)
            nsn = prefix + f"{rng.randrange(10**rest):0{rest}d}"
        parsed = phonenumbers.parse(nsn if country == "US" else "0" + nsn, country)
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"could not draw a valid {country} phone number")  # pragma: no cover


# --- how one source sees a person ------------------------------------------------------------------


@dataclass(frozen=True)
class SourceProfile:
    """How carefully one system's users type: the chances of each kind of noise in its records."""

    work_email: float  # chance the system holds the work address rather than the personal one
    missing_phone: float
    missing_address: float
    missing_birth_date: float
    nickname: float
    typo: float
    email_case: float
    email_space: float
    gmail_variant: float
    country_style: tuple[str, ...]  # which spellings of the country this system's users type




@functools.cache
def _profiles() -> dict[str, SourceProfile]:
    """Each system's typing habits, as the vendor modules declare them (EmulatedVendor.noise_profiles);
    a system's name also keys its random draws."""
    from cdp_platform.sandbox.plugins import emulated_vendors

    return {name: profile for vendor in emulated_vendors() for name, profile in vendor.noise_profiles.items()}


def __getattr__(name: str) -> dict[str, SourceProfile]:
    # ``PROFILES``: system -> SourceProfile, read on use (the vendor modules import this module).
    if name == "PROFILES":
        return dict(_profiles())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_COUNTRY_NAMES = {
    "US": ("United States", "US", "USA"),
    "GB": ("United Kingdom", "GB", "UK"),
    "DE": ("Germany", "DE", "Deutschland"),
    "FR": ("France", "FR", "France"),
}


@dataclass(frozen=True)
class SourceView:
    """The fields of one person as typed into one system; None where the system lacks the field."""

    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    street: str | None
    city: str | None
    postcode: str | None
    country: str | None
    birth_date: datetime.date | None
    twitter: str | None
    instagram: str | None


def source_view(seed: int, person: Person, source: str, copy: int = 0) -> SourceView:
    """The person as system ``source`` holds them; ``copy=1`` is a second entry of the same person.

    A second entry is typed by someone else on another day: a nickname or a typo is likelier, the
    email usually the same address in another case, so it is a true duplicate a resolver should merge.
    """
    profiles = _profiles()
    if source not in profiles:
        raise KeyError(f"no vendor module declares how {source!r} types a person; known: {sorted(profiles)}")
    profile = profiles[source]
    rng = record_random(seed, "view", source, person.index, copy)
    if copy:
        first_rng = record_random(seed, "view", source, person.index, 0)
        base_email = person.work_email if first_rng.random() < profile.work_email else person.personal_email
    else:
        base_email = person.work_email if rng.random() < profile.work_email else person.personal_email
    nickname_chance = 0.6 if copy else profile.nickname
    first = person.first_name
    if first in NICKNAMES and rng.random() < nickname_chance:
        options = NICKNAMES[first]
        first = options[rng.randrange(len(options))]
    last = person.last_name
    if rng.random() < (0.3 if copy else profile.typo):
        last = _typo(last, rng)
    email = _noisy_email(base_email, profile, rng, force_case=bool(copy))
    if copy and email == source_view(seed, person, source, 0).email:
        # The second entry must not be a byte-identical row: someone typed it again.
        email = email.swapcase()
    phone = (
        None if rng.random() < profile.missing_phone else format_phone(person.phone_e164, person.country, rng)
    )
    has_address = rng.random() >= profile.missing_address
    style = profile.country_style[rng.randrange(len(profile.country_style))]
    country = _COUNTRY_NAMES[person.country][{"name": 0, "code": 1, "alias": 2}[style]]
    twitter = None
    if person.twitter_handle is not None and rng.random() < 0.7:
        twitter = (
            person.twitter_handle,
            "@" + person.twitter_handle,
            f"https://twitter.com/{person.twitter_handle}",
        )[rng.randrange(3)]
    return SourceView(
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        street=person.street if has_address else None,
        city=person.city if has_address or rng.random() < 0.5 else None,
        postcode=person.postcode if has_address else None,
        country=country if has_address or rng.random() < 0.5 else None,
        birth_date=None if rng.random() < profile.missing_birth_date else person.birth_date,
        twitter=twitter,
        instagram=person.instagram_username if person.instagram_username and rng.random() < 0.5 else None,
    )


def _typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: swap two letters, drop one, or double one."""
    if len(word) < 3:
        return word
    at = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :]
    if kind == 1:
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at] + word[at:]


def _noisy_email(email: str, profile: SourceProfile, rng: random.Random, force_case: bool) -> str:
    local, domain = email.split("@", 1)
    if domain == "gmail.com" and rng.random() < profile.gmail_variant:
        # Gmail ignores dots and everything after '+', so these are the same mailbox.
        if "." in local and rng.random() < 0.5:
            local = local.replace(".", "")
        elif rng.random() < 0.5:
            local = f"{local}+{('shop', 'news', 'promo', 'orders')[rng.randrange(4)]}"
        else:
            cut = rng.randrange(1, len(local))
            local = f"{local[:cut]}.{local[cut:]}"
    address = f"{local}@{domain}"
    if force_case or rng.random() < profile.email_case:
        address = (address.upper(), address.title(), local.capitalize() + "@" + domain.upper())[
            rng.randrange(3)
        ]
    if rng.random() < profile.email_space:
        address = (f" {address}", f"{address} ", f"  {address}  ")[rng.randrange(3)]
    return address


def format_phone(e164: str, country: str, rng: random.Random) -> str:
    """The same number the way people type it: E.164, national, international, with odd separators."""
    parsed = phonenumbers.parse(e164)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    nsn = phonenumbers.national_significant_number(parsed)
    choice = rng.randrange(7)
    if choice == 0:
        return e164
    if choice == 1:
        return national
    if choice == 2:
        return international
    if country == "US":
        variants = (
            f"{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}",
            f"{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}",
            f"1-{nsn[:3]}-{nsn[3:6]}-{nsn[6:]}",
            nsn,
        )
    else:
        trunk = "0" + nsn
        variants = (
            trunk,
            f"{trunk[:4]}-{trunk[4:]}",
            f"00{parsed.country_code} {nsn}",
            f"+{parsed.country_code} (0){nsn}",
        )
    return variants[choice - 3]
