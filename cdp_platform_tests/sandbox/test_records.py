"""Vendor-shaped records: reproducible bytes, exact windows, and the shapes API_FACTS documents."""

from __future__ import annotations

import collections
import datetime
import hashlib
import itertools
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

from cdp_platform.sandbox.config import IMMUTABLE_STREAMS, STREAMS, SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.vendors.salesforce import salesforce_id
from cdp_platform.sandbox.vendors.stripe import stripe_data

UTC = datetime.UTC
SF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$")
HS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GRAPH_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$")
TWITTER_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
SF_ID = re.compile(r"^[0-9A-Za-z]{18}$")


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return SandboxData(SandboxConfig())


@pytest.fixture(scope="module")
def small() -> SandboxData:
    return SandboxData(SandboxConfig(persons=400, seed=11, span_days=60))


def _parse(text: str) -> datetime.datetime:
    if re.fullmatch(r"\d{8}", text):
        return datetime.datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _served_modified(stream: str, record: dict) -> str:
    """The field a client would read as the record's modified time."""
    source = stream.split("/")[0]
    if source == "salesforce":
        return record["SystemModstamp"]
    if stream == "hubspot/contacts":
        assert record["updatedAt"] == record["properties"]["lastmodifieddate"]
        return record["updatedAt"]
    if source == "hubspot":
        assert record["updatedAt"] == record["properties"]["hs_lastmodifieddate"]
        return record["updatedAt"]
    if source == "google_analytics":
        return record["dimensions"]["date"]
    if source == "twitter":
        return record["created_at"]
    return record.get("created_time") or record["timestamp"]


def _sample(data: SandboxData, stream: str, k: int = 40) -> list[int]:
    n = data.count(stream)
    return sorted(set(random.Random(stream).sample(range(n), min(n, k))) | {0, n - 1})


def test_every_stream_has_records_and_realistic_volumes(data: SandboxData) -> None:
    counts = {stream: data.count(stream) for stream in STREAMS}
    assert all(counts[stream] > 0 for stream in STREAMS)
    persons = data.config.persons
    assert 0.35 * persons < counts["salesforce/contacts"] < 0.6 * persons
    assert 0.5 * persons < counts["hubspot/contacts"] < 0.75 * persons
    assert 0.05 * persons < counts["facebook/leads"] < 0.15 * persons
    assert 0.08 * persons < counts["salesforce/accounts"] <= 0.12 * persons
    assert 5_000 < sum(counts.values()) < 60_000


def test_same_seed_same_bytes_other_seed_other_bytes(small: SandboxData) -> None:
    again = SandboxData(SandboxConfig(persons=400, seed=11, span_days=60))
    other = SandboxData(SandboxConfig(persons=400, seed=12, span_days=60))
    for stream in STREAMS:
        mine = [json.dumps(small.record(stream, p)) for p in small.all_positions(stream)]
        assert mine == [json.dumps(again.record(stream, p)) for p in again.all_positions(stream)], stream
        theirs = [json.dumps(other.record(stream, p)) for p in other.all_positions(stream)]
        assert mine != theirs, stream


_DIGEST_PROBE = """
import hashlib, json
from cdp_platform.sandbox.config import STREAMS, SandboxConfig
from cdp_platform.sandbox.records import SandboxData
data = SandboxData(SandboxConfig(persons=400, seed=11, span_days=60))
made = {}
for stream in STREAMS:
    for position in reversed(data.all_positions(stream)):
        made[stream, position] = json.dumps(data.record(stream, position), sort_keys=True)
digest = hashlib.sha256()
for stream in STREAMS:
    for position in data.all_positions(stream):
        digest.update(made[stream, position].encode())
print(digest.hexdigest())
"""


def test_bytes_do_not_depend_on_the_process_or_the_order_records_are_made(small: SandboxData) -> None:
    # Another interpreter, another hash seed, records made in reverse order: the same bytes.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    completed = subprocess.run(
        [sys.executable, "-c", _DIGEST_PROBE],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    digest = hashlib.sha256()
    for stream in STREAMS:
        for position in small.all_positions(stream):
            digest.update(json.dumps(small.record(stream, position), sort_keys=True).encode())
    assert completed.stdout.strip() == digest.hexdigest()


def test_window_matches_a_brute_force_scan(small: SandboxData) -> None:
    rng = random.Random(5)
    start, end = small.config.history_start, small.config.history_end
    span_s = int((end - start).total_seconds())
    bounds = [
        (start, end),
        (start - datetime.timedelta(days=9), start),
        (end, end + datetime.timedelta(days=1)),
    ]
    for _ in range(12):
        a = start + datetime.timedelta(seconds=rng.randrange(span_s), microseconds=rng.randrange(10**6))
        bounds.append((a, a + datetime.timedelta(hours=rng.choice([1, 6, 24, 24 * 7]))))
    for day in range(0, 61, 10):
        midnight = start + datetime.timedelta(days=day)
        bounds.append((midnight, midnight + datetime.timedelta(days=1)))
    for stream in STREAMS:
        everything = list(small.all_positions(stream))
        times = [small.modified_at(stream, p) for p in everything]
        ids = small.record_ids(stream, everything)
        assert all(start <= t < end for t in times), stream
        assert times == sorted(times)
        for lo, hi in bounds:
            expected = [p for p, t in zip(everything, times, strict=True) if lo <= t < hi]
            assert list(small.window(stream, lo, hi)) == expected, (stream, lo, hi)
        # Ties in time are broken by id (ids of one stream have one width, so text order is id order).
        keys = list(zip(times, ids, strict=True))
        assert keys == sorted(keys), stream


def test_ties_in_time_are_ordered_by_id(data: SandboxData) -> None:
    ties = 0
    for stream in STREAMS:
        everything = list(data.all_positions(stream))
        ms = data.modified_ms(stream, everything).tolist()
        ids = data.record_ids(stream, everything)
        assert len({len(i) for i in ids}) == 1, stream
        keys = list(zip(ms, ids, strict=True))
        assert keys == sorted(keys), stream
        ties += sum(a == b for a, b in itertools.pairwise(ms))
    assert ties > 100  # GA rows share their day, so ties are exercised


def test_window_rejects_naive_datetimes(small: SandboxData) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        small.window("hubspot/contacts", datetime.datetime(2026, 1, 1), datetime.datetime(2026, 1, 2))


def test_served_modified_time_is_the_indexed_time(data: SandboxData) -> None:
    for stream in STREAMS:
        for position in _sample(data, stream):
            record = data.record(stream, position)
            served = _parse(_served_modified(stream, record))
            assert served == data.modified_at(stream, position), (stream, position)


def test_ids_are_unique_per_stream(data: SandboxData) -> None:
    for stream in STREAMS:
        ids = data.record_ids(stream, data.all_positions(stream))
        assert len(set(ids)) == len(ids), stream
        sample = _sample(data, stream, 10)
        assert [data.record_id(stream, p) for p in sample] == [ids[p] for p in sample]


def test_salesforce_shapes(data: SandboxData) -> None:
    sobjects = {
        "salesforce/accounts": "Account",
        "salesforce/contacts": "Contact",
        "salesforce/leads": "Lead",
        "salesforce/opportunities": "Opportunity",
    }
    stages = collections.Counter()
    for stream, sobject in sobjects.items():
        for position in _sample(data, stream):
            record = data.record(stream, position)
            assert record["attributes"] == {
                "type": sobject,
                "url": f"/services/data/v62.0/sobjects/{sobject}/{record['Id']}",
            }
            assert SF_ID.match(record["Id"]) and record["Id"] == data.record_id(stream, position)
            for field in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                assert SF_TIME.match(record[field]), (stream, field, record[field])
            assert record["CreatedDate"] <= record["SystemModstamp"]
            if "AccountId" in record:
                assert record["Account"]["attributes"]["type"] == "Account"
                assert isinstance(record["Account"]["Name"], str)
            if sobject == "Opportunity":
                assert isinstance(record["Amount"], float)
                assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["CloseDate"])
                assert record["IsWon"] == (record["StageName"] == "Closed Won")
                stages[record["StageName"]] += 1
            if sobject == "Contact":
                assert "Twitter_Handle__c" in record
                assert record["Birthdate"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", record["Birthdate"])
    assert stages["Closed Won"] > 0 and len(stages) >= 2


def test_salesforce_id_has_the_real_case_safe_suffix() -> None:
    # The suffix encodes which of each 5 characters are upper case (Salesforce's documented scheme).
    assert salesforce_id("Contact", 0) == "0038d0000000000AAA"
    assert salesforce_id("Account", 10)[-3:] == "AAQ"  # "A" is the 15th character
    assert salesforce_id("Contact", 61) < salesforce_id("Contact", 62) < salesforce_id("Contact", 3844)


def test_hubspot_shapes(data: SandboxData) -> None:
    modified_property = {
        "hubspot/contacts": "lastmodifieddate",
        "hubspot/companies": "hs_lastmodifieddate",
        "hubspot/deals": "hs_lastmodifieddate",
    }
    for stream, modified in modified_property.items():
        for position in _sample(data, stream):
            record = data.record(stream, position)
            assert set(record) == {"id", "properties", "createdAt", "updatedAt", "archived", "associations"}
            assert record["id"].isdigit() and record["archived"] is False
            assert all(v is None or isinstance(v, str) for v in record["properties"].values()), record
            assert HS_TIME.match(record["createdAt"]) and HS_TIME.match(record["updatedAt"])
            assert record["properties"][modified] == record["updatedAt"]
            assert record["properties"]["createdate"] == record["createdAt"]
            assert record["properties"]["hs_object_id"] == record["id"]
            for kind, linked in record["associations"].items():
                assert kind in {"companies", "contacts"}
                suffix = "contact" if kind == "contacts" else "company"
                assert all(
                    link["id"].isdigit() and link["type"].endswith(suffix) for link in linked["results"]
                )
    deals = [data.record("hubspot/deals", p) for p in data.all_positions("hubspot/deals")]
    won = [d for d in deals if d["properties"]["dealstage"] == "closedwon"]
    assert won and all(float(d["properties"]["amount"]) > 0 for d in won)
    assert all(HS_TIME.match(d["properties"]["closedate"]) for d in deals)


def test_ga4_rows_are_strings_and_tied_to_crm_only_when_logged_in(data: SandboxData) -> None:
    stream = "google_analytics/user_daily_activity"
    contacts = {data.record_id("hubspot/contacts", p): p for p in data.all_positions("hubspot/contacts")}
    person_of_contact = dict(
        zip(contacts, data.person_index("hubspot/contacts", list(contacts.values())).tolist(), strict=True)
    )
    positions = list(data.all_positions(stream))
    persons = data.person_index(stream, positions)
    logged_in = anonymous = 0
    for position in positions[::7]:
        record = data.record(stream, position)
        assert set(record["dimensions"]) == {
            "date",
            "customUser:crm_contact_id",
            "customUser:ga_client_id",
            "sessionSourceMedium",
        }
        assert all(isinstance(v, str) for v in record["dimensions"].values())
        assert all(isinstance(v, str) for v in record["metrics"].values())
        assert re.fullmatch(r"\d{8}", record["dimensions"]["date"])
        assert re.fullmatch(r"\d+\.\d+", record["dimensions"]["customUser:ga_client_id"])
        assert int(record["metrics"]["engagedSessions"]) <= int(record["metrics"]["sessions"])
        crm_id = record["dimensions"]["customUser:crm_contact_id"]
        if crm_id == "(not set)":
            anonymous += 1
        else:
            logged_in += 1
            assert person_of_contact[crm_id] == persons[position]
    assert logged_in > 50 and anonymous > 50


def test_graph_and_twitter_shapes(data: SandboxData) -> None:
    for position in _sample(data, "facebook/leads"):
        lead = data.record("facebook/leads", position)
        assert GRAPH_TIME.match(lead["created_time"]) and lead["form_id"] in data.facebook_lead_form_ids
        names = [field["name"] for field in lead["field_data"]]
        assert {"email", "full_name", "city"} <= set(names)
        assert all(isinstance(field["values"], list) for field in lead["field_data"])
    for position in _sample(data, "facebook/page_posts"):
        post = data.record("facebook/page_posts", position)
        assert set(post) == {"id", "message", "created_time"} and post["id"].startswith(
            f"{data.facebook_page_id}_"
        )
    for position in _sample(data, "instagram/media"):
        media = data.record("instagram/media", position)
        assert GRAPH_TIME.match(media["timestamp"]) and media["media_type"] in {
            "IMAGE",
            "VIDEO",
            "CAROUSEL_ALBUM",
        }
        assert media["comments_count"] == len(data.children("instagram/media_comments", media["id"]))
    for position in _sample(data, "twitter/mentions"):
        tweet = data.record("twitter/mentions", position)
        assert TWITTER_TIME.match(tweet["created_at"]) and tweet["edit_history_tweet_ids"] == [tweet["id"]]
        assert tweet["text"].startswith(f"@{data.twitter_username} ")
        user = data.twitter_user(tweet["author_id"])
        assert user is not None and user["id"] == tweet["author_id"] and user["username"]
    assert data.twitter_user("123") is None


def test_tweet_ids_grow_with_time(data: SandboxData) -> None:
    ids = [int(i) for i in data.record_ids("twitter/mentions", data.all_positions("twitter/mentions"))]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("comments", "parents"),
    [("facebook/post_comments", "facebook/page_posts"), ("instagram/media_comments", "instagram/media")],
)
def test_children_are_the_comments_of_a_parent_within_a_week(
    data: SandboxData, comments: str, parents: str
) -> None:
    parent_field = "post_id" if comments == "facebook/post_comments" else "media_id"
    time_field = "created_time" if comments == "facebook/post_comments" else "timestamp"
    seen = 0
    for parent_position in data.all_positions(parents):
        parent = data.record(parents, parent_position)
        children = data.children(comments, parent["id"])
        times = [data.modified_at(comments, p) for p in children]
        assert times == sorted(times)
        parent_time = _parse(parent[time_field])
        for position in children:
            comment = data.record(comments, position)
            assert comment[parent_field] == parent["id"]
            assert (
                datetime.timedelta(0)
                <= _parse(comment[time_field]) - parent_time
                <= datetime.timedelta(days=7)
            )
        seen += len(children)
    assert seen == data.count(comments)
    assert list(data.children(comments, "nonsense")) == []


def test_every_day_has_creations_and_updates(data: SandboxData) -> None:
    start, days = data.config.history_start, data.config.span_days + 1
    start_ms = int(start.timestamp() * 1000)
    created_days = np.zeros(days, dtype=bool)
    updated_days = np.zeros(days, dtype=bool)
    for stream in STREAMS:
        created_days[(data.modified_ms(stream, data.all_positions(stream)) - start_ms) // 86_400_000] = True
    for stream in (s for s in STREAMS if s not in IMMUTABLE_STREAMS):
        for position in data.all_positions(stream):
            record = data.record(stream, position)
            created = _parse(record.get("CreatedDate") or record["createdAt"])
            if created < data.modified_at(stream, position):
                updated_days[(data.modified_at(stream, position) - start).days] = True
    # The web shop's changes (customers updated, charges refunded) are changes of the same world.
    shop = stripe_data(data)
    for seconds in (shop.customer_updated[shop.customer_updated >= 0], shop.refund_created):
        updated_days[(seconds * 1000 - start_ms) // 86_400_000] = True
    assert created_days.all()
    # About six changes a day at 2,000 persons: a day without any is rare but possible (Poisson).
    # Since a third of the buyers pay in the web shop (a Stripe charge, no CRM deal closing), 8 of
    # the 731 days have none at seed 7 (measured; 0.989), so the bound is 0.98.
    assert updated_days.mean() >= 0.98
    assert updated_days[:7].sum() >= 4, "the initial base gives the first week changes too"


def test_true_duplicates_exist_in_both_crms(data: SandboxData) -> None:
    for stream in ("salesforce/contacts", "hubspot/contacts"):
        persons = data.person_index(stream, data.all_positions(stream))
        counts = collections.Counter(persons.tolist())
        twice = [person for person, n in counts.items() if n == 2]
        assert len(twice) >= 10, stream


def test_crm_fields_carry_social_handles(data: SandboxData) -> None:
    sf = [
        data.record("salesforce/contacts", p)["Twitter_Handle__c"]
        for p in data.all_positions("salesforce/contacts")
    ]
    hs = [
        data.record("hubspot/contacts", p)["properties"]["twitterhandle"]
        for p in data.all_positions("hubspot/contacts")
    ]
    assert sum(h is not None for h in sf) > 50 and sum(h is not None for h in hs) > 50
    assert any(h and h.startswith("@") for h in sf) and any(h and h.startswith("https://") for h in hs)


def test_unknown_stream_and_position_fail_clearly(data: SandboxData) -> None:
    with pytest.raises(KeyError, match="unknown stream"):
        data.window("shopify/orders", data.config.history_start, data.config.history_end)
    with pytest.raises(IndexError):
        data.record("hubspot/contacts", data.count("hubspot/contacts"))
