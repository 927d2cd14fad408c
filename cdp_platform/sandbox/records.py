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
    source_view,
    uniforms,
)
from cdp_platform.sandbox.purchases import (
    PURCHASE_PARAMETERS,
    SYSTEM_HUBSPOT,
    SYSTEM_SALESFORCE,
    PurchaseHistory,
    PurchaseParameters,
    simulate_purchases,
)
from cdp_platform.sandbox.texts import BRAND_HANDLE, BRAND_NAME, SENTIMENTS, sentiment_labels, social_text

SF_API = "/services/data/v62.0/sobjects"

# Shares of persons present in each system (per person, decided by a counter hash).
SHARES = {
    "salesforce/contacts": 0.45,
    "salesforce/leads": 0.25,
    "hubspot/contacts": 0.60,
    "facebook/leads": 0.10,
    "google_analytics/visitors": 0.45,
}
DUPLICATE_SHARE = 0.03  # of a CRM's contacts entered a second time (true duplicates)
HUBSPOT_COMPANY_SHARE = 0.85  # of companies that also exist in HubSpot
EXTRA_DEAL_SHARE = 0.2  # of CRM contacts with one open or lost deal besides their purchases
# Social volumes per person of the population.
COMMENTS_PER_PERSON = {"facebook/post_comments": 0.12, "instagram/media_comments": 0.08}
MENTIONS_PER_PERSON = 0.2
UPDATE_SHARE = 0.7  # of mutable records changed at least once after creation
GA_LOGIN_SHARE = 0.55  # of a known visitor's days on which they were logged in
_TWITTER_EPOCH_MS = 1288834974657

_SF_PREFIX = {"Account": "001", "Contact": "003", "Lead": "00Q", "Opportunity": "006"}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SF_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
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
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Advertisement")
_OPEN_STAGES = (("Prospecting", 10), ("Qualification", 20), ("Negotiation/Review", 80))
_ORDER_KINDS = ("Online order", "Store order", "Catalog order")
_HS_OPEN_STAGES = ("appointmentscheduled", "qualifiedtobuy", "contractsent")
_SOURCE_MEDIUMS = (
    "google / organic",
    "(direct) / (none)",
    "newsletter / email",
    "facebook / social",
    "google / cpc",
)


# --- timestamp formats, one per vendor ------------------------------------------------------------


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _dt(ms: int) -> datetime.datetime:
    # Integer arithmetic: a float division could round .999 s into the next second.
    return _EPOCH + datetime.timedelta(milliseconds=ms)


def sf_timestamp(ms: int) -> str:
    """Salesforce: ``2026-11-25T13:07:00.000+0000``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def hs_timestamp(ms: int) -> str:
    """HubSpot: ``2026-11-25T20:08:49.603Z``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def graph_timestamp(ms: int) -> str:
    """Facebook and Instagram Graph: ``2026-11-25T18:45:03+0000``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S+0000")


def twitter_timestamp(ms: int) -> str:
    """Twitter v2: ``2026-11-25T18:40:40.000Z``."""
    return _dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def salesforce_id(object_type: str, number: int) -> str:
    """An 18-character Salesforce id with its real case-safety suffix, ordered like ``number``."""
    body = ""
    value = number
    for _ in range(7):
        value, digit = divmod(value, 62)
        body = _BASE62[digit] + body
    short = f"{_SF_PREFIX[object_type]}8d000{body}"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(short[chunk * 5 : chunk * 5 + 5]) if "A" <= ch <= "Z")
        suffix += _SF_SUFFIX[bits]
    return short + suffix


def _sf_ref(object_type: str, record_id: str) -> dict[str, str]:
    return {"type": object_type, "url": f"{SF_API}/{object_type}/{record_id}"}


def _hs_str(value: object) -> str | None:
    """HubSpot returns every property value as a string (or null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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


# --- Salesforce ------------------------------------------------------------------------------------


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


class SalesforceAccounts(_Stream):
    name = "salesforce/accounts"

    def size(self) -> int:
        return self.pop.companies

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Companies mostly predate their contacts: creation is weighted towards the start.
        span = self.end_ms - 1 - self.start_ms
        created = self.start_ms + (uniforms(self.key("created"), r) ** 2 * span).astype(np.int64)
        return self.mutable_times(r, created)

    def record_id(self, r: int) -> str:
        return salesforce_id("Account", r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        company = _company(self.seed, r)
        rid = self.record_id(r)
        updated = modified > created
        return {
            "attributes": _sf_ref("Account", rid),
            "Id": rid,
            "IsDeleted": False,
            "Name": company["name"],
            "Type": "Customer - Direct" if updated else "Prospect",
            "Industry": company["industry"][0],
            "BillingCity": company["city"],
            "BillingCountry": company["country"],
            "Phone": company["phone"],
            "Website": f"https://www.{company['domain']}",
            "NumberOfEmployees": company["employees"] + (7 if updated else 0),
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


class SalesforceContacts(_PersonStream):
    name = "salesforce/contacts"
    share = SHARES["salesforce/contacts"]
    duplicate_share = DUPLICATE_SHARE

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.mutable_times(r, self.created_times(r))

    def record_id(self, r: int) -> str:
        return salesforce_id("Contact", r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "salesforce", self.copy_of(r))
        rid = self.record_id(r)
        account_id = salesforce_id("Account", person.company_index)
        rng = record_random(self.seed, self.name, r, int(modified > created))
        return {
            "attributes": _sf_ref("Contact", rid),
            "Id": rid,
            "IsDeleted": False,
            "AccountId": account_id,
            "Account": {
                "attributes": _sf_ref("Account", account_id),
                "Name": company_name(self.seed, person.company_index),
            },
            "FirstName": view.first_name,
            "LastName": view.last_name,
            "Name": f"{view.first_name} {view.last_name}",
            "Email": view.email,
            "Phone": view.phone,
            "Birthdate": view.birth_date.isoformat() if view.birth_date else None,
            "MailingStreet": view.street,
            "MailingCity": view.city,
            "MailingPostalCode": view.postcode,
            "MailingCountry": view.country,
            "Title": _TITLES[rng.randrange(len(_TITLES))],
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "HasOptedOutOfEmail": rng.random() < 0.1,
            "Twitter_Handle__c": view.twitter,
            "Instagram_Username__c": view.instagram,
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


class SalesforceLeads(_PersonStream):
    name = "salesforce/leads"
    share = SHARES["salesforce/leads"]

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # A lead is captured around the time the person first shows up, sometimes a little before.
        persons = self.persons[r]
        acquired = self.pop.acquired_ms(persons)
        before = np.minimum(20 * DAY_MS, acquired - self.start_ms)
        created = _floor(
            acquired - (uniforms(self.key("created"), r) * before).astype(np.int64), self.precision_ms
        )
        return created, created

    def record_id(self, r: int) -> str:
        return salesforce_id("Lead", r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "salesforce_lead")
        rng = record_random(self.seed, self.name, r)
        rid = self.record_id(r)
        return {
            "attributes": _sf_ref("Lead", rid),
            "Id": rid,
            "IsDeleted": False,
            "FirstName": view.first_name,
            "LastName": view.last_name,
            "Name": f"{view.first_name} {view.last_name}",
            "Company": company_name(self.seed, person.company_index)
            if rng.random() < 0.7
            else "[not provided]",
            "Title": _TITLES[rng.randrange(len(_TITLES))],
            "Email": view.email,
            "Phone": view.phone,
            "Street": view.street,
            "City": view.city,
            "PostalCode": view.postcode,
            "Country": view.country,
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "Status": "Open - Not Contacted",
            "IsConverted": False,
            # Its own draws (leads never change, so one answer per lead), leaving the other fields as they were.
            "HasOptedOutOfEmail": record_random(self.seed, self.name, "email_optout", r).random() < 0.1,
            "Twitter_Handle__c": view.twitter,
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(created),
            "SystemModstamp": sf_timestamp(created),
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


class SalesforceOpportunities(_DealStream):
    name = "salesforce/opportunities"
    system = SYSTEM_SALESFORCE

    def record_id(self, r: int) -> str:
        return salesforce_id("Opportunity", r)

    def record(self, r: int) -> dict[str, Any]:
        person_index, created, modified, close, stage, amount, repeat = self.deal(r)
        person = self.pop.person(person_index)
        rid = self.record_id(r)
        account_id = salesforce_id("Account", person.company_index)
        contact_r = self.contacts.main_record(person_index)
        if stage == 0:
            stage_name, probability = "Closed Won", 100
        elif stage == 1:
            stage_name, probability = "Closed Lost", 0
        else:
            stage_name, probability = _OPEN_STAGES[stage - 2]
        rng = record_random(self.seed, self.name, r)
        return {
            "attributes": _sf_ref("Opportunity", rid),
            "Id": rid,
            "IsDeleted": False,
            "Name": f"{person.last_name} - {_ORDER_KINDS[rng.randrange(len(_ORDER_KINDS))]}",
            "AccountId": account_id,
            "Account": {
                "attributes": _sf_ref("Account", account_id),
                "Name": company_name(self.seed, person.company_index),
            },
            "ContactId": salesforce_id("Contact", contact_r) if contact_r is not None else None,
            "Amount": amount,
            "CloseDate": _dt(close).date().isoformat(),
            "StageName": stage_name,
            "Probability": probability,
            "IsClosed": stage in (0, 1),
            "IsWon": stage == 0,
            "Type": "Existing Customer - Upgrade" if repeat else "New Customer",
            "LeadSource": _LEAD_SOURCES[rng.randrange(len(_LEAD_SOURCES))],
            "CreatedDate": sf_timestamp(created),
            "LastModifiedDate": sf_timestamp(modified),
            "SystemModstamp": sf_timestamp(modified),
        }


# --- HubSpot ---------------------------------------------------------------------------------------

_HS_CONTACT_BASE = 10_000_000_000
_HS_COMPANY_BASE = 20_000_000_000
_HS_DEAL_BASE = 30_000_000_000


def _hs_object(
    record_id: str, properties: dict[str, Any], created: int, modified: int, associations: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": {name: _hs_str(value) for name, value in properties.items()},
        "createdAt": hs_timestamp(created),
        "updatedAt": hs_timestamp(modified),
        "archived": False,
        "associations": associations,
    }


class HubSpotCompanies(_Stream):
    name = "hubspot/companies"
    precision_ms = 1

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.companies, dtype=np.int64)
        self.companies = everyone[uniforms(self.key("member"), everyone) < HUBSPOT_COMPANY_SHARE].astype(
            np.int32
        )

    def size(self) -> int:
        return int(self.companies.size)

    def record_for_company(self, company_index: int) -> int | None:
        at = int(np.searchsorted(self.companies, company_index))
        if at < self.companies.size and int(self.companies[at]) == company_index:
            return at
        return None

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        span = self.end_ms - 1 - self.start_ms
        created = self.start_ms + (uniforms(self.key("created"), r) ** 2 * span).astype(np.int64)
        return self.mutable_times(r, created)

    def record_id(self, r: int) -> str:
        return str(_HS_COMPANY_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        company = _company(self.seed, int(self.companies[r]))
        rid = self.record_id(r)
        return _hs_object(
            rid,
            {
                "name": company["name"],
                "domain": company["domain"],
                "city": company["city"],
                "country": company["country"],
                "industry": company["industry"][1],
                "numberofemployees": company["employees"] + (7 if modified > created else 0),
                "phone": company["phone"],
                "createdate": hs_timestamp(created),
                "hs_lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            {},
        )


class HubSpotContacts(_PersonStream):
    name = "hubspot/contacts"
    share = SHARES["hubspot/contacts"]
    duplicate_share = DUPLICATE_SHARE
    precision_ms = 1

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.mutable_times(r, self.created_times(r))

    def record_id(self, r: int) -> str:
        return str(_HS_CONTACT_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, modified = self.created_modified(r)
        person_index = int(self.persons[r])
        person = self.pop.person(person_index)
        view = source_view(self.seed, person, "hubspot", self.copy_of(r))
        rng = record_random(self.seed, self.name, r, int(modified > created))
        # Its own stream of draws, so adding the consent property left every other field as it was;
        # per version, so a later change of the record can be the person opting out (or back in).
        consent = record_random(self.seed, self.name, "email_optout", r, int(modified > created))
        rid = self.record_id(r)
        stage = (
            "customer"
            if self.data.bought_before(person_index, SYSTEM_HUBSPOT, modified)
            else (("subscriber", "lead", "marketingqualifiedlead")[rng.randrange(3)])
        )
        companies: HubSpotCompanies = self.data.streams["hubspot/companies"]  # type: ignore[assignment]
        company_r = companies.record_for_company(person.company_index)
        associations = {}
        if company_r is not None:
            associations["companies"] = {
                "results": [{"id": companies.record_id(company_r), "type": "contact_to_company"}]
            }
        return _hs_object(
            rid,
            {
                "email": view.email,
                "firstname": view.first_name,
                "lastname": view.last_name,
                "phone": view.phone,
                "address": view.street,
                "city": view.city,
                "zip": view.postcode,
                "country": view.country,
                "company": company_name(self.seed, person.company_index) if rng.random() < 0.6 else None,
                "jobtitle": _TITLES[rng.randrange(len(_TITLES))],
                "date_of_birth": view.birth_date.isoformat() if view.birth_date else None,
                "twitterhandle": view.twitter,
                "instagram_username": view.instagram,
                "lifecyclestage": stage,
                "hs_email_optout": consent.random() < 0.1,
                "createdate": hs_timestamp(created),
                "lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            associations,
        )


class HubSpotDeals(_DealStream):
    name = "hubspot/deals"
    system = SYSTEM_HUBSPOT
    precision_ms = 1

    def record_id(self, r: int) -> str:
        return str(_HS_DEAL_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        person_index, created, modified, close, stage, amount, repeat = self.deal(r)
        person = self.pop.person(person_index)
        rid = self.record_id(r)
        if stage == 0:
            dealstage = "closedwon"
        elif stage == 1:
            dealstage = "closedlost"
        else:
            dealstage = _HS_OPEN_STAGES[stage - 2]
        associations: dict[str, Any] = {}
        contact_r = self.contacts.main_record(person_index)
        if contact_r is not None:
            associations["contacts"] = {
                "results": [{"id": self.contacts.record_id(contact_r), "type": "deal_to_contact"}]
            }
        companies: HubSpotCompanies = self.data.streams["hubspot/companies"]  # type: ignore[assignment]
        company_r = companies.record_for_company(person.company_index)
        if company_r is not None:
            associations["companies"] = {
                "results": [{"id": companies.record_id(company_r), "type": "deal_to_company"}]
            }
        return _hs_object(
            rid,
            {
                "dealname": f"{person.last_name} order" + (" (repeat)" if repeat else ""),
                "amount": f"{amount:.2f}",
                "closedate": hs_timestamp(close),
                "dealstage": dealstage,
                "pipeline": "default",
                "hs_is_closed_won": stage == 0,
                "createdate": hs_timestamp(created),
                "hs_lastmodifieddate": hs_timestamp(modified),
                "hs_object_id": rid,
            },
            created,
            modified,
            associations,
        )


# --- Google Analytics 4 ----------------------------------------------------------------------------


class GoogleAnalyticsActivity(_Stream):
    """One row per visitor per active day; the row's time is the start of its day."""

    name = "google_analytics/user_daily_activity"
    precision_ms = DAY_MS

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.size, dtype=np.int64)
        visitors = everyone[uniforms(self.key("visitor"), everyone) < SHARES["google_analytics/visitors"]]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6A4]))
        visits = 1 + rng.poisson(2.0, visitors.size)
        person = np.repeat(visitors, visits)
        first_day = (self.pop.acquired_ms(person) - self.start_ms) // DAY_MS
        days_total = (self.end_ms - self.start_ms) // DAY_MS
        day = first_day + (rng.random(person.size) * (days_total - first_day)).astype(np.int64)
        # One row per (day, visitor), ordered by day then client id: the order windows return.
        # Client keys are a permutation of the visitors (unique, below 10**9), so they pack with the day.
        visitor_keys = self.pop.ga_client_sort_keys(visitors)
        by_key = np.argsort(visitor_keys)
        person_key = visitor_keys[np.searchsorted(visitors, person)]
        combined = np.unique(day * 10**9 + person_key)
        self.day = (combined // 10**9).astype(np.int32)
        found = np.searchsorted(visitor_keys[by_key], combined % 10**9)
        self.persons = visitors[by_key][found].astype(np.int32)

    def size(self) -> int:
        return int(self.day.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        at = self.start_ms + self.day[np.asarray(r)].astype(np.int64) * DAY_MS
        return at, at

    def build_index(self) -> _Index:
        # Rows are generated in (day, client id) order already, so the index is the identity.
        _, modified = self.times(np.arange(self.size()))
        return _Index(sorted_ms=modified, order=np.arange(self.size(), dtype=np.int32))

    def _date(self, r: int) -> str:
        return _dt(self.start_ms + int(self.day[r]) * DAY_MS).strftime("%Y%m%d")

    def record_id(self, r: int) -> str:
        return f"{self._date(r)}:{self.pop.ga_client_id(int(self.persons[r]))}"

    def record_ids(self, r: np.ndarray) -> list[str]:
        dates = (np.datetime64(_dt(self.start_ms).date(), "D") + self.day[r]).astype(str)
        clients = self.pop.ga_client_ids(self.persons[r].astype(np.int64))
        return [f"{date.replace('-', '')}:{client}" for date, client in zip(dates, clients, strict=True)]

    def record(self, r: int) -> dict[str, Any]:
        person_index = int(self.persons[r])
        day_ms = self.start_ms + int(self.day[r]) * DAY_MS
        rng = record_random(self.seed, self.name, r)
        contacts: HubSpotContacts = self.data.streams["hubspot/contacts"]  # type: ignore[assignment]
        crm_id = "(not set)"
        contact_r = contacts.main_record(person_index)
        if contact_r is not None and rng.random() < GA_LOGIN_SHARE:
            contact_created, _ = contacts.created_modified(contact_r)
            # Only a visitor who already has an account can log in, so the id appears from then on.
            if contact_created < day_ms + DAY_MS:
                crm_id = contacts.record_id(contact_r)
        sessions = 1 + int(rng.expovariate(0.8))
        engaged = rng.randint(0, sessions)
        views = sessions + rng.randint(0, 6 * sessions)
        bought = self.data.bought_on_day(person_index, day_ms)
        return {
            "dimensions": {
                "date": self._date(r),
                "customUser:crm_contact_id": crm_id,
                "customUser:ga_client_id": self.pop.ga_client_id(person_index),
                "sessionSourceMedium": _SOURCE_MEDIUMS[rng.randrange(len(_SOURCE_MEDIUMS))],
            },
            "metrics": {
                "sessions": str(sessions),
                "engagedSessions": str(engaged),
                "screenPageViews": str(views),
                "conversions": str(len(bought)),
                "purchaseRevenue": _revenue(bought),
            },
        }


def _revenue(amounts_cents: list[int]) -> str:
    total = sum(amounts_cents)
    return "0" if total == 0 else f"{total / 100:.2f}"


# --- Facebook --------------------------------------------------------------------------------------

_FB_LEAD_BASE = 1_200_000_000_000_000
_FB_POST_BASE = 100_000_000_000_000
_FB_COMMENT_BASE = 500_000_000_000_000
_IG_MEDIA_BASE = 17_900_000_000_000_000
_IG_COMMENT_BASE = 17_800_000_000_000_000


class FacebookLeads(_PersonStream):
    name = "facebook/leads"
    share = SHARES["facebook/leads"]

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        created = _floor(self.created_times(r), self.precision_ms)
        return created, created

    def record_id(self, r: int) -> str:
        return str(_FB_LEAD_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "facebook")
        rng = record_random(self.seed, self.name, r)
        fields = [
            {"name": "email", "values": [view.email]},
            {"name": "full_name", "values": [f"{view.first_name} {view.last_name}"]},
        ]
        if view.phone is not None:
            fields.append({"name": "phone_number", "values": [view.phone]})
        fields.append({"name": "city", "values": [person.city]})
        return {
            "id": self.record_id(r),
            "created_time": graph_timestamp(created),
            "ad_id": self.data.facebook_ad_ids[rng.randrange(len(self.data.facebook_ad_ids))],
            "form_id": self.data.facebook_lead_form_ids[rng.randrange(len(self.data.facebook_lead_form_ids))],
            "field_data": fields,
        }


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


class FacebookPagePosts(_BrandPosts):
    name = "facebook/page_posts"
    every_days = 2

    def record_id(self, r: int) -> str:
        return f"{self.data.facebook_page_id}_{_FB_POST_BASE + r}"

    def number_of(self, post_id: str) -> int | None:
        prefix = f"{self.data.facebook_page_id}_"
        if not post_id.startswith(prefix) or not post_id[len(prefix) :].isdigit():
            return None
        r = int(post_id[len(prefix) :]) - _FB_POST_BASE
        return r if 0 <= r < self.size() else None

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        return {"id": self.record_id(r), "message": self.text(r)[0], "created_time": graph_timestamp(created)}


class InstagramMedia(_BrandPosts):
    name = "instagram/media"
    every_days = 3

    def record_id(self, r: int) -> str:
        return str(_IG_MEDIA_BASE + r)

    def number_of(self, media_id: str) -> int | None:
        if not media_id.isdigit():
            return None
        r = int(media_id) - _IG_MEDIA_BASE
        return r if 0 <= r < self.size() else None

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        rng = record_random(self.seed, self.name, r)
        comments: _Comments = self.data.streams["instagram/media_comments"]  # type: ignore[assignment]
        shortcode = "".join(_BASE62[rng.randrange(62)] for _ in range(11))
        return {
            "id": self.record_id(r),
            "caption": self.text(r)[0],
            "media_type": ("IMAGE", "IMAGE", "VIDEO", "CAROUSEL_ALBUM")[rng.randrange(4)],
            "permalink": f"https://www.instagram.com/p/{shortcode}/",
            "timestamp": graph_timestamp(created),
            "like_count": rng.randrange(20, 2000),
            "comments_count": len(comments.children_of(r)),
        }


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


class FacebookPostComments(_Comments):
    name = "facebook/post_comments"
    per_person = COMMENTS_PER_PERSON["facebook/post_comments"]
    network = "facebook"

    def record_id(self, r: int) -> str:
        return f"{_FB_POST_BASE + int(self.parent[r])}_{_FB_COMMENT_BASE + r}"

    def id_rank(self, r: np.ndarray) -> np.ndarray | None:
        # Graph comment ids start with their post's id, so ids sort by post first.
        return self.parent[r].astype(np.int64) * max(1, self.size()) + r

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        view = source_view(self.seed, person, "facebook")
        return {
            "id": self.record_id(r),
            "message": self.text(r)[0],
            "created_time": graph_timestamp(created),
            "from": {"id": person.facebook_id, "name": f"{view.first_name} {person.last_name}"},
            "post_id": self.parents.record_id(int(self.parent[r])),
        }


class InstagramMediaComments(_Comments):
    name = "instagram/media_comments"
    per_person = COMMENTS_PER_PERSON["instagram/media_comments"]
    network = "instagram"

    def record_id(self, r: int) -> str:
        return str(_IG_COMMENT_BASE + r)

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        person = self.pop.person(int(self.persons[r]))
        rng = record_random(self.seed, self.name, r)
        return {
            "id": self.record_id(r),
            "text": self.text(r)[0],
            "timestamp": graph_timestamp(created),
            "username": person.instagram_username,
            "like_count": rng.randrange(0, 40),
            "media_id": self.parents.record_id(int(self.parent[r])),
        }


# --- Twitter ---------------------------------------------------------------------------------------


class TwitterMentions(_Stream):
    name = "twitter/mentions"

    def __init__(self, data: SandboxData) -> None:
        super().__init__(data)
        everyone = np.arange(self.pop.size, dtype=np.int64)
        authors = everyone[self.pop.has_social("twitter", everyone)]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x7E7]))
        count = round(MENTIONS_PER_PERSON * self.pop.size) if authors.size else 0
        self.persons = rng.choice(authors, size=count).astype(np.int32) if count else np.zeros(0, np.int32)

    def size(self) -> int:
        return int(self.persons.size)

    def person(self, r: np.ndarray) -> np.ndarray:
        return self.persons[np.asarray(r)].astype(np.int64)

    def times(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = np.asarray(r, dtype=np.int64)
        span = self.end_ms - 1 - self.start_ms
        at = _floor(self.start_ms + (uniforms(self.key("at"), r) * span).astype(np.int64), self.precision_ms)
        return at, at

    def record_id(self, r: int) -> str:
        return self.record_ids(np.array([r], dtype=np.int64))[0]

    def record_ids(self, r: np.ndarray) -> list[str]:
        # Snowflake layout: the time in the high bits makes ids grow with time, as since_id relies on.
        r = np.asarray(r, dtype=np.int64)
        created, _ = self.times(r)
        return [str(x) for x in (((created - _TWITTER_EPOCH_MS) << 22) | (r & 0x3FFFFF)).tolist()]

    def record(self, r: int) -> dict[str, Any]:
        created, _ = self.created_modified(r)
        rid = self.record_id(r)
        rng = record_random(self.seed, self.name, r)
        return {
            "id": rid,
            "text": f"@{BRAND_HANDLE} {social_text(self.seed, self.name, r)[0]}",
            "edit_history_tweet_ids": [rid],
            "author_id": self.pop.twitter_user_id(int(self.persons[r])),
            "created_at": twitter_timestamp(created),
            "lang": "en",
            "public_metrics": {
                "retweet_count": rng.randrange(0, 5),
                "reply_count": rng.randrange(0, 3),
                "like_count": rng.randrange(0, 30),
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": rng.randrange(10, 2000),
            },
        }


# --- the facade the HTTP layer uses ----------------------------------------------------------------

_TEXT_STREAMS = {
    "facebook/page_posts": True,
    "instagram/media": True,
    "facebook/post_comments": False,
    "instagram/media_comments": False,
    "twitter/mentions": False,
}


class SandboxData:
    """All records of one sandbox: cheap to query by window, position or id; built once per app."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.population = Population(config)
        self.purchase_parameters: PurchaseParameters = PURCHASE_PARAMETERS
        self.facebook_page_id = str(110_000_000_000_000 + key_of(config.seed, "page") % 10**12)
        # One lead form: the Graph emulation serves a form's leads from the whole stream.
        self.facebook_lead_form_ids = (str(900_000_000_000_000 + key_of(config.seed, "form", 0) % 10**12),)
        self.facebook_ad_ids = tuple(
            str(23_850_000_000_000_000 + key_of(config.seed, "ad", i) % 10**12) for i in range(3)
        )
        self.instagram_user_id = str(17_841_400_000_000_000 + key_of(config.seed, "ig") % 10**12)
        self.twitter_user_id = str(1_500_000_000_000_000_000 + key_of(config.seed, "tw") % 10**12)
        self.twitter_username = BRAND_HANDLE
        self.ga4_property_id = str(300_000_000 + key_of(config.seed, "ga4") % 10**8)
        self.brand_name = BRAND_NAME

        sf_contacts = SalesforceContacts(self)
        hs_contacts = HubSpotContacts(self)
        in_sf = np.zeros(self.population.size, dtype=bool)
        in_sf[sf_contacts.members] = True
        in_hs = np.zeros(self.population.size, dtype=bool)
        in_hs[hs_contacts.members] = True
        self.purchases: PurchaseHistory = simulate_purchases(
            self.population, in_sf, in_hs, self.purchase_parameters
        )
        del in_sf, in_hs
        posts = FacebookPagePosts(self)
        media = InstagramMedia(self)
        streams: list[_Stream] = [
            SalesforceAccounts(self),
            sf_contacts,
            SalesforceLeads(self),
            SalesforceOpportunities(self, sf_contacts),
            hs_contacts,
            HubSpotCompanies(self),
            HubSpotDeals(self, hs_contacts),
            GoogleAnalyticsActivity(self),
            FacebookLeads(self),
            posts,
            FacebookPostComments(self, posts),
            media,
            InstagramMediaComments(self, media),
            TwitterMentions(self),
        ]
        self.streams: dict[str, _Stream] = {stream.name: stream for stream in streams}
        if tuple(self.streams) != plugins.streams():
            raise RuntimeError("every declared stream needs exactly one builder, in the vendors' order")
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
        if stream not in _TEXT_STREAMS:
            raise KeyError(f"{stream} has no texts")
        numbers = self._index(stream).order[np.asarray(positions, dtype=np.int64)]
        labels = sentiment_labels(self.config.seed, stream, numbers, brand=_TEXT_STREAMS[stream])
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

    def twitter_user(self, author_id: str) -> dict[str, str] | None:
        """The ``includes.users`` entry of a tweet author, or None for an unknown id."""
        index = self.population.person_of_twitter_user(author_id)
        if index is None:
            return None
        person = self.population.person(index)
        view = source_view(self.config.seed, person, "facebook")
        return {
            "id": author_id,
            "name": f"{view.first_name} {person.last_name}",
            "username": person.twitter_handle or "",
        }

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
