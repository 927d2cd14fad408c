"""Normalization for matching: one key per mailbox, phone, handle and name; placeholders dropped."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.nicknames import canonical_first_name
from cdp_platform.identity.normalize import prepare


def _prepared(**columns: list[str | None]) -> pl.DataFrame:
    size = len(next(iter(columns.values())))
    frame = pl.DataFrame(
        {"record_id": [str(i) for i in range(size)], **columns},
        schema_overrides={name: pl.String for name in columns},
    )
    return prepare(frame, ResolutionConfig())


def test_gmail_dots_and_tags_fold_to_one_mailbox_other_providers_keep_dots() -> None:
    prepared = _prepared(
        email=[
            " John.Smith+shop@Gmail.com ",
            "johnsmith@googlemail.com",
            "JOHN.SMITH@GMAIL.COM",
            "john.smith@outlook.com",
            "johnsmith@outlook.com",
        ]
    )
    assert prepared["n_email"].to_list() == [
        "johnsmith@gmail.com",
        "johnsmith@gmail.com",
        "johnsmith@gmail.com",
        "john.smith@outlook.com",
        "johnsmith@outlook.com",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        "test@example.com",
        "TEST@EXAMPLE.COM",
        "anyone@example.org",
        "noreply@shop.com",
        "unknown",
        "",
        "not-an-email",
    ],
)
def test_placeholder_and_malformed_emails_are_blocked(raw: str) -> None:
    assert _prepared(email=[raw])["n_email"].to_list() == [None]


def test_phones_become_e164_in_the_records_country() -> None:
    prepared = _prepared(
        phone=[
            "(415) 555-2671",
            "+1 415-555-2671",
            "1-415-555-2671",
            "0151 23456789",
            "000-000-0000",
            "n/a",
            "+44 20 7946 0958",
            "212-777-7777",
        ],
        country=["US", "United States", None, "Germany", "US", "US", "US", "US"],
    )
    assert prepared["n_phone"].to_list() == [
        "+14155552671",
        "+14155552671",
        "+14155552671",
        "+4915123456789",
        None,
        None,
        "+442079460958",
        None,
    ]


def test_default_region_reads_national_numbers_without_a_country() -> None:
    frame = pl.DataFrame({"record_id": ["1"], "phone": ["020 7946 0958"]})
    assert prepare(frame, ResolutionConfig(default_region="GB"))["n_phone"].to_list() == ["+442079460958"]


def test_handles_lose_url_at_sign_and_case() -> None:
    prepared = _prepared(
        twitter_handle=[
            "https://twitter.com/Jane_Doe",
            "@jane_doe",
            "JANE_DOE",
            "https://x.com/jane_doe/",
            "unknown",
        ]
    )
    assert prepared["n_twitter_handle"].to_list() == ["jane_doe"] * 4 + [None]


def test_names_fold_accents_and_fall_back_to_full_name() -> None:
    prepared = _prepared(
        first_name=["José", None, "  BOB "],
        last_name=["Müller-Lüdenscheidt", None, "O'Brien"],
        full_name=[None, "Kate van Dyke", None],
    )
    assert prepared["n_first"].to_list() == ["jose", "kate", "bob"]
    assert prepared["n_last"].to_list() == ["mullerludenscheidt", "vandyke", "obrien"]
    assert prepared["n_first_canonical"].to_list() == ["jose", "katherine", "robert"]


def test_nicknames_map_to_the_formal_name() -> None:
    assert canonical_first_name("bob") == "robert"
    assert canonical_first_name("bill") == "william"
    assert canonical_first_name("robert") == "robert"
    assert canonical_first_name("zygmunt") == "zygmunt"


def test_birth_dates_parse_and_placeholders_drop() -> None:
    prepared = _prepared(date_of_birth=["1980-05-17", "1900-01-01", "2999-01-01", "garbage", None])
    assert prepared["n_date_of_birth"].to_list() == [datetime.date(1980, 5, 17), None, None, None, None]


def test_phone_with_name_key_needs_phone_first_and_last_name() -> None:
    prepared = _prepared(
        phone=["+14155552671", "+14155552671", None, "+14155552671"],
        first_name=["Ann", None, "Ann", "Ann"],
        last_name=["Lee", "Lee", "Lee", None],
    )
    assert prepared["n_phone_name"].to_list() == ["+14155552671|ann|lee", None, None, None]


def test_record_ids_must_be_unique_and_present() -> None:
    with pytest.raises(ValueError, match="unique"):
        prepare(pl.DataFrame({"record_id": ["a", "a"]}), ResolutionConfig())
    with pytest.raises(ValueError, match="null"):
        prepare(pl.DataFrame({"record_id": ["a", None]}), ResolutionConfig())
