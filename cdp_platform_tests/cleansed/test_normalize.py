"""Normalization of vendor values: every format a vendor sends, and what cannot be read."""

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from cdp_platform.cleansed import normalize


def _one(expr: pl.Expr, value) -> object:
    return pl.DataFrame({"v": [value]}).select(expr.alias("out"))["out"][0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-25T13:07:00.000+0000", datetime(2026, 11, 25, 13, 7, tzinfo=UTC)),  # Salesforce
        ("2026-11-25T18:45:03+0000", datetime(2026, 11, 25, 18, 45, 3, tzinfo=UTC)),  # Graph
        ("2026-11-25T20:08:49.603Z", datetime(2026, 11, 25, 20, 8, 49, 603000, tzinfo=UTC)),  # HubSpot
        ("2026-11-25T18:40:40.000Z", datetime(2026, 11, 25, 18, 40, 40, tzinfo=UTC)),  # Twitter
        ("2026-11-25T10:00:00+0200", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),  # offsets become UTC
        ("1764097729603", datetime(2025, 11, 25, 19, 8, 49, 603000, tzinfo=UTC)),  # ms epoch
        ("20261125", datetime(2026, 11, 25, tzinfo=UTC)),  # GA4 date
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
        ("25/11/2026", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamps_from_every_vendor(raw, expected):
    assert _one(normalize.timestamp("v"), raw) == expected


def test_timestamp_dtype_is_utc_microseconds():
    frame = pl.DataFrame({"v": ["2026-11-25T13:07:00.000+0000"]}).select(normalize.timestamp("v"))
    assert frame.schema["v"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("raw", "clean", "valid"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com", True),
        ("bob+news@gmail.com", "bob+news@gmail.com", True),
        ("not-an-email", "not-an-email", False),
        ("a@b", "a@b", False),
        ("two@@example.com", "two@@example.com", False),
        ("   ", None, None),
    ],
)
def test_emails(raw, clean, valid):
    assert _one(normalize.email("v"), raw) == clean
    assert _one(normalize.email_is_valid("v"), raw) == valid


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+1 415-555-2671", "DE", "+14155552671"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("030 901820", "DE", "+4930901820"),
        ("000-000-0000", "US", None),
        ("call me", "US", None),
        (None, "US", None),
    ],
)
def test_phones_to_e164(raw, region, expected):
    assert _one(normalize.phone("v", region), raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  ROBERT   smith ", "Robert Smith"), ("McDonald", "McDonald"), ("jane", "Jane"), ("  ", None)],
)
def test_names(raw, expected):
    assert _one(normalize.name("v"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1234.5, Decimal("1234.50")),
        ("99.999", Decimal("100.00")),
        ("1,200", Decimal("1200.00")),
        ("n/a", None),
    ],
)
def test_amounts(raw, expected):
    assert _one(normalize.amount("v"), raw) == expected


def test_dates_and_booleans():
    assert _one(normalize.date("v"), "2026-11-25") == date(2026, 11, 25)
    assert [_one(normalize.boolean("v"), v) for v in ["true", "FALSE", "1", "maybe"]] == [
        True,
        False,
        True,
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Jane_Doe", "jane_doe"),
        ("jane_doe", "jane_doe"),
        ("https://twitter.com/Jane_Doe", "jane_doe"),
        ("http://www.x.com/jane_doe/", "jane_doe"),
        ("https://www.instagram.com/jane.doe/?hl=en", "jane.doe"),
        ("  ", None),
        ("two words", None),
        (None, None),
    ],
)
def test_handles(raw, expected):
    assert _one(normalize.handle("v"), raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Germany", "DE"),
        (" deutschland ", "DE"),
        ("DE", "DE"),
        ("United States", "US"),
        ("USA", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("France", "FR"),
        ("Narnia", None),
        (None, None),
    ],
)
def test_country_codes(raw, expected):
    assert _one(normalize.country_code("v"), raw) == expected


def test_phones_are_read_in_the_rows_own_region_then_the_default():
    frame = pl.DataFrame(
        {
            "number": [
                "0170 1234567",
                "0170 1234567",
                "+1 415 555 2671",
                "(415) 555-2671",
                "020 7946 0958",
                None,
            ],
            "region": ["DE", None, "DE", "FR", "GB", "DE"],
        }
    )
    out = frame.select(normalize.phone("number", "US", pl.col("region")))["number"].to_list()
    # A national number not valid in the row's region (a US number on a French record) is read in
    # the default region; a number with its country code ignores both.
    assert out == ["+491701234567", None, "+14155552671", "+14155552671", "+442079460958", None]
