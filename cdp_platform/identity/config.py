"""The knobs of identity resolution, with defaults that follow Segment's and RudderStack's safeguards.

Everything a data team would tune lives in one frozen object so that a resolution is reproducible
from its input and its config alone: which values never link (blocked values), how many distinct
values of each identifier one client may hold (limits), which link gives way when a limit would be
broken (priorities), and how sure the probabilistic model must be before it links.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from cdp_platform.sources.profiles import profile_identifiers

# Identifier types the deterministic graph links on, and the limit types checked on every merge:
# these, and the identifier each declared social network gives its people (a platform user id, a
# handle: ``profile_identifier`` in the source's folder, with its priority and limit).
# ``date_of_birth`` never creates a link: it is only a limit, so two records with different birth
# dates are never joined, whatever else they share, unless the two dates are one typing error apart
# (one digit, two neighbouring digits or the day and month swapped: :mod:`.birth_dates`).
#
# Priorities, lower wins: a CRM id is an identifier a system of record assigned; a platform user id
# comes next (2); an email is a mailbox the person controls; a handle is public and can be mistyped
# into a CRM (4 and after); a cookie is shared by everyone using one browser; a phone with a name is
# the weakest rule because households share phones (and names, now and then).
_LINK_PRIORITIES: dict[str, int] = {"crm_id": 1, "email": 3, "ga_client_id": 6, "phone_name": 7}
# A person has one birth date (and one profile per social network, as each network declares); a few
# mailboxes (personal, work, an old one) and phones; several CRM objects (contact, lead, a
# duplicate entry) and many browser cookies. A merge that would exceed one of these joins two people.
_LIMITS: dict[str, int] = {"crm_id": 10, "email": 5, "ga_client_id": 50, "phone": 3, "date_of_birth": 1}


def _default_priorities() -> dict[str, int]:
    """Every link type's priority, in priority order (ties by name)."""
    declared = {p.column: p.priority for p in profile_identifiers()}
    taken = sorted(set(declared) & (set(_LINK_PRIORITIES) | set(_LIMITS)))
    if taken:
        raise ValueError(
            f"a source's profile_identifier takes the name of an identity type: {taken}; rename it"
        )
    priorities = {**_LINK_PRIORITIES, **declared}
    return dict(sorted(priorities.items(), key=lambda item: (item[1], item[0])))


def link_types() -> tuple[str, ...]:
    """The link types, in their default priority order."""
    return tuple(_default_priorities())


def limit_types() -> tuple[str, ...]:
    """The limit types: each link type's identifier (the phone of ``phone_name``), then the birth date."""
    return (*("phone" if t == "phone_name" else t for t in link_types()), "date_of_birth")


def _default_limits() -> dict[str, int]:
    declared = {p.column: p.limit for p in profile_identifiers()}
    return {kind: {**_LIMITS, **declared}[kind] for kind in limit_types()}


def _default_exclusive_sources() -> frozenset[str]:
    """The entities declaring themselves ``exclusive`` (a CRM's contacts), as ``<source>/<entity>``."""
    from cdp_platform.cleansed import ENTITIES  # the entities live in the sources' folders

    return frozenset(f"{e.source}/{e.entity}" for e in ENTITIES if e.exclusive)


BLOCKED_EMAILS: frozenset[str] = frozenset(
    {
        "test@example.com",
        "test@test.com",
        "noreply@example.com",
        "no-reply@example.com",
        "none@none.com",
        "null@null.com",
        "na@na.com",
        "unknown@unknown.com",
        "email@example.com",
        "user@example.com",
    }
)
# Domains reserved for documentation (RFC 2606) or used as placeholders: no real person reads them.
BLOCKED_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {"example.com", "example.org", "example.net", "test.com", "localhost", "invalid", "mailinator.com"}
)
BLOCKED_EMAIL_LOCAL_PARTS: frozenset[str] = frozenset(
    {"test", "noreply", "no-reply", "donotreply", "do-not-reply", "unknown", "none", "null", "na", "n/a"}
)
# Values people type when a field is required but unknown; compared after normalization.
BLOCKED_TEXT: frozenset[str] = frozenset(
    {"", "unknown", "none", "null", "nil", "n/a", "na", "-", "test", "(not set)", "not set", "undefined", "0"}
)
BLOCKED_DATES_OF_BIRTH: frozenset[datetime.date] = frozenset(
    {datetime.date(1900, 1, 1), datetime.date(1970, 1, 1), datetime.date(2000, 1, 1)}
)


@dataclass(frozen=True)
class ProbabilisticConfig:
    """The Splink stage: on by default; ``threshold`` is the match probability a link needs."""

    enabled: bool = True
    threshold: float = 0.95
    # Pairs scored at or above this (and below ``threshold``) are kept with their evidence for a
    # reviewer (``ScoredPairs.evidence``); they never link on their own.
    review_threshold: float = 0.5
    # Pairs sampled to estimate u (non-match) probabilities; more is steadier and slower. Splink's
    # default; 2e6 gave the same links on FEBRL and the sandbox (2,000 and 100,000 persons) at twice
    # the time, now that every random pair is tested for typos in names, dates and addresses.
    u_max_pairs: float = 1e6
    # Share of records EM samples per training blocking rule (Splink's ``record_sample_proportion``).
    em_record_sample_proportion: float = 1.0
    em_max_pairs: float = 5e5
    seed: int = 42
    # A probabilistic pair whose two records carry different birth dates was scored with that
    # disagreement (strong evidence against, m fixed at 0.01): when True the score decides, and the
    # date_of_birth limit no longer vetoes such a pair a second time. A birth date is the field most
    # often mistyped or defaulted beyond one typo (on FEBRL, whose duplicates have it replaced now and
    # then, the veto alone cost 5 points of recall). The price: a father and son with one name at one
    # address can be scored as one person when nothing else tells them apart; set False where the
    # data holds such pairs and a hard "two birth dates are two people" is worth the missed links.
    weigh_birth_date_conflicts: bool = True
    # DuckDB threads for Splink; None lets DuckDB decide (all cores).
    threads: int | None = None


@dataclass(frozen=True)
class ResolutionConfig:
    """How records are matched and which merges are refused.

    ``exclusive_sources`` names the sources (``<system>/<object>``) that hold a person at most once
    unless an exact identifier says otherwise: the probabilistic stage never joins two clusters that
    each hold a different record of one of them (two contacts of one CRM with different ids and no
    shared email are two people to the CRM, and Splink is not allowed to overrule it). By default,
    the cleansed entities declaring themselves ``exclusive``.
    """

    default_region: str = "US"
    limits: dict[str, int] = field(default_factory=_default_limits)
    priorities: dict[str, int] = field(default_factory=_default_priorities)
    blocked_emails: frozenset[str] = BLOCKED_EMAILS
    blocked_email_domains: frozenset[str] = BLOCKED_EMAIL_DOMAINS
    blocked_email_local_parts: frozenset[str] = BLOCKED_EMAIL_LOCAL_PARTS
    blocked_text: frozenset[str] = BLOCKED_TEXT
    blocked_dates_of_birth: frozenset[datetime.date] = BLOCKED_DATES_OF_BIRTH
    exclusive_sources: frozenset[str] = field(default_factory=_default_exclusive_sources)
    probabilistic: ProbabilisticConfig = field(default_factory=ProbabilisticConfig)
    # Link handle-only social profiles to the one rich client whose mailbox has the same user name
    # (see handle_email); a key without a two-digit number must be at least this long to count.
    link_handle_emails: bool = True
    handle_email_min_plain_length: int = 12
    # Link handle-only social profiles whose handle spells a client's name and carries the number
    # only that client's mailbox carries (``james.dumont8427``; see handle_email.handle_name_pairs).
    link_handle_names: bool = True
    # Link name-only social profiles to the one rich client carrying their name (see unique_names).
    link_unique_names: bool = True
    # How many holders of a name may be expected among the rich clients before it is too common to
    # link on (clients * share of the first name * share of the last name). Higher links more
    # commenters and, in a large population, more of them to a stranger with the same name: on the
    # 2,000-person sandbox 0.1 reaches recall 0.991 with no wrong merge (0.01: 0.953); on 100,000
    # records (45,000 persons) 0.1 gives precision 0.99957 and 15 clients holding two people, 0.01
    # gives 0.99991 and 2 (recall 0.951 vs 0.905). Measured in benchmarks/README.md; lower it where
    # a wrong merge costs more than a missed commenter.
    unique_name_max_expected_holders: float = 0.1

    def __post_init__(self) -> None:
        unknown = (set(self.limits) - set(limit_types())) | (set(self.priorities) - set(link_types()))
        if unknown:
            raise ValueError(f"unknown identifier types in limits or priorities: {sorted(unknown)}")
        missing = set(link_types()) - set(self.priorities)
        if missing:
            raise ValueError(f"every link type needs a priority; missing: {sorted(missing)}")
        if any(limit < 1 for limit in self.limits.values()):
            raise ValueError("limits must be at least 1")
        if not 0.0 < self.probabilistic.threshold < 1.0:
            raise ValueError("the match probability threshold must be strictly between 0 and 1")
        if not 0.0 < self.probabilistic.review_threshold <= self.probabilistic.threshold:
            raise ValueError("the review threshold must be above 0 and at most the match threshold")
