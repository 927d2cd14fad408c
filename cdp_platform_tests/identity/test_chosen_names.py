"""The user name people choose: mailbox user names compared by the model, and handles linked to the
one client whose mailbox carries the same distinctive name (:mod:`cdp_platform.identity.handle_email`)."""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import Resolution, ResolutionConfig, resolve
from cdp_platform.identity.handle_email import HANDLE_EMAIL_RULE, HANDLE_NAME_RULE
from cdp_platform.identity.normalize import prepare
from cdp_platform.sandbox.identity_candidates import IDENTITY_COLUMNS, SandboxCandidates


def _with(candidates: SandboxCandidates, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    extra = pl.DataFrame(rows, schema={column: pl.String for column in IDENTITY_COLUMNS})
    return pl.concat([candidates.records, extra])


def _row(resolution: Resolution, record_id: str) -> dict:
    return resolution.mapping.filter(pl.col("record_id") == record_id).row(0, named=True)


def test_user_key_drops_case_tags_and_separators() -> None:
    frame = prepare(
        pl.DataFrame(
            {
                "record_id": ["a", "b", "c", "d"],
                "email": ["Jane.Doe1982+shop@Yahoo.com", "jane_doe1982@outlook.com", "x@example.com", None],
            }
        ),
        ResolutionConfig(),
    )
    # example.com is a blocked domain: no address, so no user name either.
    assert frame["n_email_user"].to_list() == ["janedoe1982", "janedoe1982", None, None]


@pytest.fixture(scope="module")
def chosen(small_candidates: SandboxCandidates) -> Resolution:
    rows = [
        # Two CRM records of one person: work and home addresses, the same number in both user names.
        {"record_id": "sf-zyx", "source": "salesforce/contacts", "first_name": "Quentin",
         "last_name": "Zyskowski", "email": "qzyskowski7391@corp.example.net", "phone": "+1 602 555 0187"},
        {"record_id": "hs-zyx", "source": "hubspot/contacts", "first_name": "Quentin",
         "last_name": "Zyskowski", "email": "quentin.zyskowski7391@yahoo.com"},
        # An Instagram commenter whose username is Quentin's home user name.
        {"record_id": "ig-zyx", "source": "instagram/media_comments", "instagram_username": "quentin.zyskowski7391"},
        # Another commenter with a plain, short name that two clients' mailboxes could hold: not linked.
        {"record_id": "hs-plain", "source": "hubspot/contacts", "first_name": "Ann", "last_name": "Lee",
         "email": "annlee@gmail.com"},
        {"record_id": "ig-plain", "source": "instagram/media_comments", "instagram_username": "ann.lee"},
        # A user name two clients share (at two providers): ambiguous, not linked.
        {"record_id": "sf-twin-1", "source": "salesforce/contacts", "first_name": "Oscar", "last_name": "Vance",
         "email": "ovance5512@mail.example.org", "date_of_birth": "1980-01-01"},
        {"record_id": "hs-twin-2", "source": "hubspot/contacts", "first_name": "Olive", "last_name": "Vance",
         "email": "ovance5512@yahoo.com", "date_of_birth": "1991-05-05"},
        {"record_id": "ig-twin", "source": "instagram/media_comments", "instagram_username": "ovance5512"},
    ]  # fmt: skip
    return resolve(_with(small_candidates, rows))


def test_the_same_number_in_two_mailboxes_links_a_work_and_a_home_record(chosen: Resolution) -> None:
    work, home = _row(chosen, "sf-zyx"), _row(chosen, "hs-zyx")
    assert work["client_id"] == home["client_id"]
    assert "probabilistic" in home["linked_by"]


def test_a_handle_joins_the_one_client_whose_mailbox_has_that_name(chosen: Resolution) -> None:
    commenter = _row(chosen, "ig-zyx")
    assert commenter["client_id"] == _row(chosen, "hs-zyx")["client_id"]
    assert commenter["linked_by"] == [HANDLE_EMAIL_RULE]


def test_a_plain_short_handle_is_not_distinctive_enough(chosen: Resolution) -> None:
    assert _row(chosen, "ig-plain")["client_id"] != _row(chosen, "hs-plain")["client_id"]
    assert _row(chosen, "ig-plain")["linked_by"] == []


def test_a_user_name_two_clients_hold_links_to_neither(chosen: Resolution) -> None:
    twins = {_row(chosen, "sf-twin-1")["client_id"], _row(chosen, "hs-twin-2")["client_id"]}
    assert len(twins) == 2
    assert _row(chosen, "ig-twin")["client_id"] not in twins


def test_the_rule_can_be_switched_off(small_candidates: SandboxCandidates) -> None:
    rows = [
        {"record_id": "hs-q", "source": "hubspot/contacts", "first_name": "Quentin", "last_name": "Zyskowski",
         "email": "quentin.zyskowski7391@yahoo.com"},
        {"record_id": "ig-q", "source": "instagram/media_comments", "instagram_username": "quentin_zyskowski7391"},
    ]  # fmt: skip
    records = _with(small_candidates, rows)
    on = resolve(records)
    # The handle also spells Quentin's name with his number, so the handle_name rule links it too.
    handle_name_only = resolve(records, ResolutionConfig(link_handle_emails=False))
    off = resolve(records, ResolutionConfig(link_handle_emails=False, link_handle_names=False))
    assert _row(on, "ig-q")["client_id"] == _row(on, "hs-q")["client_id"]
    assert _row(on, "ig-q")["linked_by"] == [HANDLE_EMAIL_RULE]
    assert _row(handle_name_only, "ig-q")["client_id"] == _row(handle_name_only, "hs-q")["client_id"]
    assert _row(handle_name_only, "ig-q")["linked_by"] == [HANDLE_NAME_RULE]
    assert _row(off, "ig-q")["client_id"] != _row(off, "hs-q")["client_id"]
