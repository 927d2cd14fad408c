"""Deterministic stitching: strong identifiers link, phones and addresses alone do not, limits hold."""

from __future__ import annotations

import dataclasses

import polars as pl

from cdp_platform.identity import ResolutionConfig, resolve
from cdp_platform.identity.config import ProbabilisticConfig

DETERMINISTIC_ONLY = ResolutionConfig(
    probabilistic=ProbabilisticConfig(enabled=False), link_unique_names=False
)


def _clients(
    rows: list[dict[str, str | None]], config: ResolutionConfig = DETERMINISTIC_ONLY
) -> dict[str, str]:
    frame = pl.DataFrame(rows, schema={key: pl.String for row in rows for key in row})
    mapping = resolve(frame, config).mapping
    return dict(zip(mapping["record_id"], mapping["client_id"], strict=True))


def test_a_shared_mailbox_links_across_sources() -> None:
    clients = _clients(
        [
            {"record_id": "sf1", "source": "salesforce/contacts", "email": "Ann.Lee+promo@gmail.com"},
            {"record_id": "fb1", "source": "facebook/leads", "email": "annlee@googlemail.com"},
        ]
    )
    assert clients["sf1"] == clients["fb1"]


def test_each_strong_identifier_links() -> None:
    for column, left, right in (
        ("crm_id", "003A", "003A"),
        ("twitter_handle", "https://twitter.com/AnnLee", "@annlee"),
        ("instagram_username", "ann.lee", "ANN.LEE"),
        ("facebook_id", "1000123", "1000123"),
        ("ga_client_id", "123.456", "123.456"),
    ):
        clients = _clients([{"record_id": "a", column: left}, {"record_id": "b", column: right}])
        assert clients["a"] == clients["b"], column


def test_a_shared_phone_or_address_alone_never_links_a_household() -> None:
    household = {
        "phone": "+1 415 555 2671",
        "street": "1 Main St",
        "city": "Springfield",
        "postcode": "12345",
        "last_name": "Lee",
    }
    clients = _clients(
        [
            {"record_id": "ann", "first_name": "Ann", **household},
            {"record_id": "bob", "first_name": "Bob", **household},
        ]
    )
    assert clients["ann"] != clients["bob"]


def test_a_phone_with_the_same_name_links() -> None:
    clients = _clients(
        [
            {"record_id": "a", "first_name": "Ann", "last_name": "Lee", "phone": "(415) 555-2671"},
            {"record_id": "b", "full_name": "ann lee", "phone": "+14155552671", "email": "new@mail.com"},
            # The same number and first name, another family: a recycled or mistyped number.
            {"record_id": "c", "first_name": "Ann", "last_name": "Singleton", "phone": "415 555 2671"},
        ]
    )
    assert clients["a"] == clients["b"]
    assert clients["c"] != clients["a"]


def test_blocked_values_never_link() -> None:
    clients = _clients(
        [
            {"record_id": "a", "email": "test@example.com", "phone": "0000000000", "first_name": "X"},
            {"record_id": "b", "email": "TEST@example.com", "phone": "000-000-0000", "first_name": "X"},
            {"record_id": "c", "twitter_handle": "unknown"},
            {"record_id": "d", "twitter_handle": "Unknown"},
        ]
    )
    assert len(set(clients.values())) == 4


def test_a_second_birth_date_refuses_the_weaker_link_and_says_why() -> None:
    # b-c share a CRM id (priority 1), a-b only an email (priority 3): the email link gives way.
    frame = pl.DataFrame(
        [
            {"record_id": "a", "email": "shared@mail.com", "date_of_birth": "1980-01-01", "crm_id": None},
            {"record_id": "b", "email": "shared@mail.com", "date_of_birth": None, "crm_id": "003X"},
            {"record_id": "c", "email": None, "date_of_birth": "1991-09-09", "crm_id": "003X"},
        ]
    )
    resolution = resolve(frame, DETERMINISTIC_ONLY)
    clients = dict(zip(resolution.mapping["record_id"], resolution.mapping["client_id"], strict=True))
    assert clients["b"] == clients["c"]
    assert clients["a"] != clients["b"]
    refused = resolution.refused.to_dicts()
    assert refused == [
        {
            "record_id_a": "a",
            "record_id_b": "b",
            "rule": "email",
            "match_probability": None,
            "reason": "limit:date_of_birth",
        }
    ]


def test_a_shared_office_mailbox_stops_at_the_phone_limit() -> None:
    # Five people typed the same generic address; each has their own phone. With at most two phones
    # per client, at most two of them end up together.
    rows = [
        {
            "record_id": str(i),
            "email": "info@acme.io",
            "phone": f"+1415555{2670 + i:04d}",
            "first_name": f"P{i}",
        }
        for i in range(5)
    ]
    config = dataclasses.replace(DETERMINISTIC_ONLY, limits={**DETERMINISTIC_ONLY.limits, "phone": 2})
    clients = _clients(rows, config)
    sizes = pl.Series(list(clients.values())).value_counts()["count"]
    assert sizes.max() == 2


def test_evidence_lists_the_rules_that_linked_each_record() -> None:
    frame = pl.DataFrame(
        [
            {"record_id": "a", "email": "x@mail.com", "crm_id": None},
            {"record_id": "b", "email": "x@mail.com", "crm_id": "1"},
            {"record_id": "c", "email": None, "crm_id": "1"},
            {"record_id": "d", "email": None, "crm_id": None},
        ]
    )
    mapping = resolve(frame, DETERMINISTIC_ONLY).mapping.sort("record_id")
    assert mapping["linked_by"].to_list() == [["email"], ["crm_id", "email"], ["crm_id"], []]
    assert mapping["match_probability"].null_count() == 4
