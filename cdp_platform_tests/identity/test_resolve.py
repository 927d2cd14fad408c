"""resolve() end to end on a small sandbox population plus hand-made records that test one rule each."""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import (
    ProbabilisticConfig,
    Resolution,
    ResolutionConfig,
    evaluate,
    resolve,
    summarize,
)
from cdp_platform.sandbox.identity_candidates import IDENTITY_COLUMNS, SandboxCandidates

# A person the sandbox does not have: a rare name, a phone, a city, and two mailboxes.
ROBERT = {
    "first_name": "Robert",
    "last_name": "Zyskowski",
    "phone": "+1 602 555 0187",
    "city": "Flagstaff",
    "postcode": "86001",
    "country": "US",
}


def _with(candidates: SandboxCandidates, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    extra = pl.DataFrame(rows, schema={column: pl.String for column in IDENTITY_COLUMNS})
    return pl.concat([candidates.records, extra])


def _client(resolution: Resolution, record_id: str) -> str:
    return resolution.mapping.filter(pl.col("record_id") == record_id)["client_id"].item()


@pytest.fixture(scope="module")
def nickname_case(small_candidates: SandboxCandidates) -> Resolution:
    rows = [
        {
            "record_id": "crm-robert",
            "source": "salesforce/contacts",
            "email": "rz@corp.example.net",
            **ROBERT,
        },
        # A Facebook lead: a new mailbox, the nickname, the same phone and city. No identifier is
        # shared (the phone rule needs the same name as typed), so only the model can link it.
        {
            "record_id": "fb-bob",
            "source": "facebook/leads",
            "email": "bobz@gmail.com",
            **{**ROBERT, "first_name": "Bob", "postcode": None, "country": None},
        },
        # The same name, phone and city but another birth date: a conflict, never merged.
        {"record_id": "hs-robert-dob", "source": "hubspot/contacts", "date_of_birth": "1970-02-02", **ROBERT},
        {"record_id": "sf-robert-dob", "source": "salesforce/leads", "date_of_birth": "1990-03-03", **ROBERT},
    ]
    return resolve(_with(small_candidates, rows))


def test_one_row_per_record_with_the_contract_columns(small_candidates: SandboxCandidates) -> None:
    resolution = resolve(small_candidates.records)
    mapping = resolution.mapping
    assert mapping.columns == ["record_id", "client_id", "first_seen", "linked_by", "match_probability"]
    assert mapping.height == small_candidates.records.height
    assert mapping["record_id"].n_unique() == mapping.height
    assert mapping["record_id"].to_list() == small_candidates.records["record_id"].to_list()
    assert mapping["client_id"].null_count() == 0


def test_missing_columns_count_as_null() -> None:
    mapping = resolve(pl.DataFrame({"record_id": ["a", "b"], "email": ["x@mail.com", "X@mail.com"]})).mapping
    assert mapping["client_id"].n_unique() == 1


def test_a_nickname_with_the_same_phone_and_city_links_probabilistically(nickname_case: Resolution) -> None:
    assert _client(nickname_case, "fb-bob") == _client(nickname_case, "crm-robert")
    evidence = nickname_case.mapping.filter(pl.col("record_id") == "fb-bob").row(0, named=True)
    assert "probabilistic" in evidence["linked_by"]
    assert evidence["match_probability"] >= ResolutionConfig().probabilistic.threshold


def test_different_birth_dates_are_never_merged(nickname_case: Resolution) -> None:
    assert _client(nickname_case, "hs-robert-dob") != _client(nickname_case, "sf-robert-dob")
    reasons = set(nickname_case.refused["reason"].to_list())
    assert "limit:date_of_birth" in reasons


def test_two_contacts_of_one_crm_are_not_merged_by_the_model(small_candidates: SandboxCandidates) -> None:
    rows = [
        {"record_id": "hs-1", "source": "hubspot/contacts", "email": "r1@mail.com", **ROBERT},
        {
            "record_id": "hs-2",
            "source": "hubspot/contacts",
            "email": "r2@mail.com",
            **{**ROBERT, "first_name": "Bob"},
        },
    ]
    resolution = resolve(_with(small_candidates, rows))
    assert _client(resolution, "hs-1") != _client(resolution, "hs-2")
    refused = resolution.refused.filter(pl.col("record_id_a").is_in(["hs-1", "hs-2"]))
    assert refused["reason"].to_list() == ["exclusive_source:hubspot/contacts"]


def test_the_model_links_records_on_the_sandbox_and_stays_precise(
    small_candidates: SandboxCandidates,
) -> None:
    resolution = resolve(small_candidates.records)
    summary = summarize(resolution)
    assert summary["links_by_rule"].get("probabilistic", 0) > 0
    assert summary["records"] == small_candidates.records.height
    scores = evaluate(resolution.mapping, small_candidates.truth)
    assert scores["multi_person_clusters"] == 0
    assert scores["precision"] == 1.0
    # Deterministic rules alone find about 78% of true pairs on the sandbox; the model and the
    # unique-name rule must add to that.
    deterministic = resolve(
        small_candidates.records,
        ResolutionConfig(probabilistic=ProbabilisticConfig(enabled=False), link_unique_names=False),
    )
    assert scores["recall"] > evaluate(deterministic.mapping, small_candidates.truth)["recall"] + 0.05


def test_summary_counts_what_happened(nickname_case: Resolution) -> None:
    summary = summarize(nickname_case)
    assert summary["clients"] == nickname_case.mapping["client_id"].n_unique()
    assert summary["refused_merges"] == nickname_case.refused.height > 0
    assert summary["changes"] == {"new": summary["clients"]}
    assert set(summary["links_by_rule"]) >= {"email", "crm_id", "probabilistic"}
    assert summary["largest_client_records"] >= 2


def test_empty_and_tiny_inputs_resolve_without_a_model() -> None:
    empty = resolve(pl.DataFrame(schema={"record_id": pl.String}))
    assert empty.mapping.height == 0
    assert summarize(empty)["clients"] == 0
    # Too few pairs to train the model on: the deterministic result stands, nothing is guessed.
    tiny = resolve(
        pl.DataFrame(
            {
                "record_id": ["a", "b", "c"],
                "first_name": ["Ann", "Ann", "Bob"],
                "last_name": ["Lee", "Lee", "Ray"],
                "email": ["ann@mail.com", "ANN@mail.com", None],
            }
        )
    )
    assert tiny.mapping["client_id"].n_unique() == 2
    assert "probabilistic" not in summarize(tiny)["links_by_rule"]
