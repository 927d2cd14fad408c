"""Bad input: resolve returns a correct mapping (each record its own client, or merged only by an
identifier) or raises a named error, quickly, and says why the match model did not train.

The million identical records are in benchmarks/identity_benchmarks.py (``--identical``)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cdp_platform.identity import resolve
from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.normalize import prepare
from cdp_platform.identity.probabilistic import BLOCK_LIMIT, blocking_rules, candidate_rows


def _clients(frame: pl.DataFrame) -> dict[str, str]:
    mapping = resolve(frame).mapping
    assert mapping["record_id"].to_list() == frame["record_id"].to_list()
    return dict(zip(mapping["record_id"], mapping["client_id"], strict=True))


def test_no_usable_column_gives_each_record_its_own_client() -> None:
    frame = pl.DataFrame({"record_id": [f"r{i}" for i in range(30)], "source": ["crm/contacts"] * 30})
    resolution = resolve(frame)
    assert resolution.mapping["client_id"].n_unique() == 30
    assert not resolution.model.trained
    assert resolution.model.reason == "0 record(s) with a name: nothing to compare"


def test_placeholders_everywhere_are_no_column_at_all() -> None:
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(20)],
            "first_name": ["unknown"] * 20,
            "last_name": ["N/A"] * 20,
            "email": ["test@example.com"] * 20,
            "phone": ["000-000-0000"] * 20,
        }
    )
    assert len(set(_clients(frame).values())) == 20


def test_a_column_of_one_repeated_value_is_left_out_of_the_model() -> None:
    people = 60
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(people)],
            "first_name": [f"Given{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(people)],
            "last_name": ["Family"] * people,
            "city": ["Springfield"] * people,
            "postcode": [f"{10000 + i}" for i in range(people)],
        }
    )
    resolution = resolve(frame)
    # One last name for everybody and one city: neither tells anyone apart, so neither links.
    assert resolution.mapping["client_id"].n_unique() == people
    assert resolution.model.comparisons == ("name", "postcode")
    assert not resolution.model.trained and "too few pairs" in (resolution.model.reason or "")


def test_identical_records_without_identifiers_are_not_merged_by_the_model() -> None:
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(50)],
            "first_name": ["Jane"] * 50,
            "last_name": ["Doe"] * 50,
            "date_of_birth": ["1980-05-17"] * 50,
            "city": ["Springfield"] * 50,
        }
    )
    resolution = resolve(frame)
    # Nothing varies, so there is no model; and no identifier says they are one person.
    assert resolution.mapping["client_id"].n_unique() == 50
    assert not resolution.model.trained
    assert "fewer than two different values" in (resolution.model.reason or "")


def test_identical_records_with_an_email_merge_by_the_identifier_only() -> None:
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(500)],
            "first_name": ["Jane"] * 500,
            "last_name": ["Doe"] * 500,
            "email": ["jane.doe@mail.net"] * 500,
        }
    )
    resolution = resolve(frame)
    assert resolution.mapping["client_id"].n_unique() == 1
    assert set(resolution.links["rule"].unique()) == {"email"}


def test_all_null_names_link_by_identifiers_only() -> None:
    frame = pl.DataFrame(
        {
            "record_id": ["a", "b", "c", "d"],
            "first_name": [None, None, None, None],
            "last_name": [None, None, None, None],
            "email": ["x@mail.net", "x@mail.net", "y@mail.net", None],
            "city": ["Paris", "Paris", "Paris", "Paris"],
        },
        schema_overrides={"first_name": pl.String, "last_name": pl.String},
    )
    clients = _clients(frame)
    assert clients["a"] == clients["b"]
    assert len({clients["a"], clients["c"], clients["d"]}) == 3


@pytest.mark.parametrize(
    ("second", "together"),
    [
        ({"first_name": "Jane", "last_name": "Doe", "email": "JANE.DOE@mail.net"}, True),
        ({"first_name": "Jane", "last_name": "Doe", "email": "other@mail.net"}, False),
        ({"first_name": "John", "last_name": "Roe", "email": None}, False),
    ],
)
def test_two_records(second: dict, together: bool) -> None:
    first = {"first_name": "Jane", "last_name": "Doe", "email": "jane.doe@mail.net"}
    frame = pl.DataFrame([{"record_id": "1", **first}, {"record_id": "2", **second}])
    resolution = resolve(frame)
    assert (resolution.mapping["client_id"].n_unique() == 1) is together
    assert not resolution.model.trained and resolution.model.reason


def test_no_records_at_all() -> None:
    frame = pl.DataFrame(schema={"record_id": pl.String, "email": pl.String})
    resolution = resolve(frame)
    assert resolution.mapping.height == 0
    assert not resolution.model.trained


def test_missing_or_repeated_record_ids_are_named_errors() -> None:
    with pytest.raises(ValueError, match="record_id must not be null"):
        resolve(pl.DataFrame({"email": ["a@mail.net"]}))
    with pytest.raises(ValueError, match="record_id must be unique"):
        resolve(pl.DataFrame({"record_id": ["1", "1"], "email": ["a@mail.net", "b@mail.net"]}))


def test_a_value_shared_by_thousands_makes_no_giant_block() -> None:
    # One birth date and one postcode for everybody (a placeholder nobody blocked, a one-town
    # customer base): blocking on them would score 4.5 million pairs; the rules leave that value out.
    n = 3000
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "first_name": [f"First{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(n)],
            "last_name": [f"Last{chr(97 + i // 676)}{chr(97 + i % 23)}" for i in range(n)],
            "date_of_birth": ["1990-06-15"] * n,
            "postcode": ["12345"] * (n - 2) + ["54321", "54322"],
            "phone": [f"+1 415 555 {i:04d}" for i in range(n)],
        }
    )
    prepared = prepare(frame, ResolutionConfig())
    rows = candidate_rows(prepared, np.arange(n))
    _, rules = blocking_rules(
        rows, {"n_first_canonical", "n_last", "n_first", "n_date_of_birth", "n_postcode"}
    )
    by_postcode = {
        rule.split(" AND l.block")[0]: rule for rule in rules if "l.n_postcode = r.n_postcode" in rule
    }
    # Birth date and postcode: one block of 2,998 records, left out; last name and postcode: small.
    assert (
        f"<= {BLOCK_LIMIT}"
        in by_postcode["l.n_date_of_birth = r.n_date_of_birth AND l.n_postcode = r.n_postcode"]
    )
    assert by_postcode["l.n_last = r.n_last AND l.n_postcode = r.n_postcode"] == (
        "l.n_last = r.n_last AND l.n_postcode = r.n_postcode"
    )
    resolution = resolve(frame)
    assert resolution.mapping["client_id"].n_unique() == n
