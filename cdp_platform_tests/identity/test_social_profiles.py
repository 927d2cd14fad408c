"""Social profiles that share no identifier with a CRM record: a Twitter author (display name and
handle), an Instagram commenter (a username), a Facebook commenter (a display name).

They link on what the person chose (a number carried from mailbox to handle, a handle that spells the
name) or on a name only one rich client carries, and never where a second client could be the person:
a last name one typo from another client's, or a handle number the client's mailboxes do not carry.
"""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import Resolution, ResolutionConfig, resolve
from cdp_platform.identity.handle_email import HANDLE_NAME_RULE
from cdp_platform.identity.merge import PROBABILISTIC_RULE
from cdp_platform.identity.normalize import prepare
from cdp_platform.identity.unique_names import UNIQUE_NAME_RULE
from cdp_platform.sandbox.identity_candidates import IDENTITY_COLUMNS, SandboxCandidates


def _with(candidates: SandboxCandidates, rows: list[dict[str, str | None]]) -> pl.DataFrame:
    extra = pl.DataFrame(rows, schema={column: pl.String for column in IDENTITY_COLUMNS})
    return pl.concat([candidates.records, extra])


def _row(resolution: Resolution, record_id: str) -> dict:
    return resolution.mapping.filter(pl.col("record_id") == record_id).row(0, named=True)


def _same(resolution: Resolution, a: str, b: str) -> bool:
    return _row(resolution, a)["client_id"] == _row(resolution, b)["client_id"]


def test_the_chosen_number_is_read_from_mailboxes_and_handles_before_separators_go() -> None:
    frame = prepare(
        pl.DataFrame(
            {
                "record_id": ["a", "b", "c", "d", "e"],
                "email": ["Jo.Burgess1705+news@gmail.com", None, None, "jo@example.org", "plain@yahoo.com"],
                "twitter_handle": [None, "@jim17_2111", None, None, None],
                "instagram_username": [None, None, "jodie.burgess1705", None, None],
            }
        ),
        ResolutionConfig(),
    )
    # jim17_2111 carries 2111 (not 172111); a blocked mailbox and a plain one carry none.
    assert frame["n_number"].to_list() == ["1705", "2111", "1705", None, None]


@pytest.fixture(scope="module")
def social(small_candidates: SandboxCandidates) -> Resolution:
    rows = [
        # Twitter: the display name and the number in the handle are Ysolde Quarrington's.
        {"record_id": "hs-ysolde", "source": "hubspot/contacts", "first_name": "Ysolde", "last_name": "Quarrington",
         "email": "yquarrington4821@corp.example.net", "phone": "+1 602 555 0143", "city": "Tempe"},
        {"record_id": "tw-ysolde", "source": "twitter/mentions", "full_name": "Ysolde Quarrington",
         "twitter_handle": "lakeview77_4821"},
        # Instagram: the username spells Bartholomew Vandermeer's name (cut short) and his number.
        {"record_id": "sf-barth", "source": "salesforce/contacts", "first_name": "Bartholomew",
         "last_name": "Vandermeer", "email": "bvandermeer6630@corp.example.net"},
        {"record_id": "ig-barth", "source": "instagram/media_comments", "instagram_username": "bartholo.vandermee6630"},
        # The same shape with the number of nobody in the data: not linked.
        {"record_id": "ig-barth-other", "source": "instagram/media_comments",
         "instagram_username": "bartholo.vandermee1199"},
        # A number two clients carry (a year both chose): neither gets the handle.
        {"record_id": "hs-year-1", "source": "hubspot/contacts", "first_name": "Perpetua", "last_name": "Olawale",
         "email": "polawale1987@yahoo.com", "date_of_birth": "1987-02-02"},
        {"record_id": "hs-year-2", "source": "hubspot/contacts", "first_name": "Ignatius",
         "last_name": "Brennan-Oduya", "email": "ibrennanoduya1987@outlook.com", "date_of_birth": "1961-09-09"},
        {"record_id": "ig-year", "source": "instagram/media_comments", "instagram_username": "perpetua.olawale1987"},
        # Facebook: a name only one rich client carries links the commenter ...
        {"record_id": "sf-leocadia", "source": "salesforce/contacts", "first_name": "Leocadia",
         "last_name": "Brzezinski", "email": "lbrzezinski@corp.example.net"},
        {"record_id": "fb-leocadia", "source": "facebook/post_comments", "full_name": "Leocadia Brzezinski",
         "facebook_id": "100077700011"},
        # ... but not when another client is the same first name with the last name one typo away.
        {"record_id": "sf-casimir", "source": "salesforce/contacts", "first_name": "Casimir",
         "last_name": "Wojciechowski", "email": "cwojciechowski@corp.example.net"},
        {"record_id": "hs-casimir-typo", "source": "hubspot/contacts", "first_name": "Casimir",
         "last_name": "Wojciechowksi", "email": "casimir.w@yahoo.com", "date_of_birth": "1950-03-03"},
        {"record_id": "fb-casimir", "source": "facebook/post_comments", "full_name": "Casimir Wojciechowski",
         "facebook_id": "100077700022"},
        # A Twitter author whose handle number is not the client's: a namesake, not linked by name.
        {"record_id": "hs-ottilie", "source": "hubspot/contacts", "first_name": "Ottilie", "last_name": "Fairweather",
         "email": "ofairweather3302@yahoo.com"},
        {"record_id": "tw-ottilie", "source": "twitter/mentions", "full_name": "Ottilie Fairweather",
         "twitter_handle": "ottie_9917"},
    ]  # fmt: skip
    return resolve(_with(small_candidates, rows))


def test_a_twitter_author_joins_the_client_whose_mailbox_carries_the_handles_number(
    social: Resolution,
) -> None:
    assert _same(social, "tw-ysolde", "hs-ysolde")
    assert PROBABILISTIC_RULE in _row(social, "tw-ysolde")["linked_by"]


def test_a_handle_spelling_the_name_with_the_clients_number_joins_it(social: Resolution) -> None:
    assert _same(social, "ig-barth", "sf-barth")
    assert _row(social, "ig-barth")["linked_by"] == [HANDLE_NAME_RULE]


def test_a_handle_with_a_number_no_client_carries_stays_apart(social: Resolution) -> None:
    assert not _same(social, "ig-barth-other", "sf-barth")
    assert _row(social, "ig-barth-other")["linked_by"] == []


def test_a_number_two_clients_carry_links_the_handle_to_neither(social: Resolution) -> None:
    assert not _same(social, "hs-year-1", "hs-year-2")
    assert not _same(social, "ig-year", "hs-year-1")
    assert not _same(social, "ig-year", "hs-year-2")


def test_a_name_one_rich_client_carries_links_a_commenter(social: Resolution) -> None:
    assert _same(social, "fb-leocadia", "sf-leocadia")
    assert _row(social, "fb-leocadia")["linked_by"] == [UNIQUE_NAME_RULE]


def test_a_last_name_one_typo_from_another_clients_makes_the_name_ambiguous(social: Resolution) -> None:
    assert not _same(social, "sf-casimir", "hs-casimir-typo")
    assert not _same(social, "fb-casimir", "sf-casimir")
    assert not _same(social, "fb-casimir", "hs-casimir-typo")


def test_a_handle_number_the_client_does_not_carry_blocks_a_name_link(social: Resolution) -> None:
    assert not _same(social, "tw-ottilie", "hs-ottilie")


def test_the_handle_name_rule_can_be_switched_off(small_candidates: SandboxCandidates) -> None:
    rows = [
        {"record_id": "sf-b", "source": "salesforce/contacts", "first_name": "Bartholomew",
         "last_name": "Vandermeer", "email": "bvandermeer6630@corp.example.net"},
        {"record_id": "ig-b", "source": "instagram/media_comments", "instagram_username": "bartholo.vandermee6630"},
    ]  # fmt: skip
    records = _with(small_candidates, rows)
    assert _same(resolve(records), "ig-b", "sf-b")
    assert not _same(resolve(records, ResolutionConfig(link_handle_names=False)), "ig-b", "sf-b")
