"""The guards of identity resolution, each deciding an outcome on a small hand-built population.

A commenter seen only by a display name and a platform id joins the one rich client carrying that
name (rule ``unique_name``), and every guard below exists to stop that link where the commenter may be
somebody else. Each test has a population where the guard alone decides, so the test fails when the
guard is removed (docs/TESTING.md lists the breaks tried and the failures they gave):

- rarity: a name too common among the clients (John Smith among many Johns and Smiths) never links;
- typo neighbour: a name another client carries with the last name one typo away never links;
- number: a handle carrying a number the client's mailboxes do not carry is another person;
- one profile per network: two Facebook ids with one name are two people, neither links;
- limits: a link that would give a client two Facebook ids is refused, whatever rule proposed it;
- priorities: when two links conflict over a limit, the one of the weaker rule gives way.

Only the public :func:`resolve` with the probabilistic model switched off: these are the structural
guards, and the outcome must not depend on how a model scores names.
"""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import ProbabilisticConfig, Resolution, ResolutionConfig, resolve
from cdp_platform.identity.unique_names import UNIQUE_NAME_RULE

WITHOUT_MODEL = ResolutionConfig(probabilistic=ProbabilisticConfig(enabled=False))

# Rich clients (a CRM contact with a mailbox each): four Johns and four Smiths among 25 named
# clients make "John Smith" expected 4 * 4 / 25 = 0.64 times, far above the 0.1 allowed; every other
# name is expected at most 2 * 1 / 25 = 0.08 times.
CLIENTS = [
    ("John", "Smith"),
    ("John", "Ng"),
    ("John", "Park"),
    ("John", "Ruiz"),
    ("Mary", "Smith"),
    ("Ann", "Smith"),
    ("Paul", "Smith"),
    ("Leocadia", "Brzezinski"),
    ("Casimir", "Wojciechowski"),
    ("Casimir", "Wojciechowksi"),
    ("Ottilie", "Fairweather"),
    ("Wilhelmina", "Achterberg"),
    ("Eulalia", "Fitzwilliam"),
    ("Radomir", "Kowalczuk"),
    ("Thaddeus", "Okonkwo"),
    ("Philippa", "Strandqvist"),
    ("Ysolde", "Quarrington"),
    ("Bartholomew", "Vandermeer"),
    ("Perpetua", "Olawale"),
    ("Ignatius", "Brennan"),
    ("Seraphina", "Lindqvist"),
    ("Cornelius", "Abernathy"),
    ("Marisol", "Etxeberria"),
    ("Leopold", "Drummond"),
    ("Henrietta", "Vasquez"),
]


def _client_rows() -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = []
    for index, (first, last) in enumerate(CLIENTS):
        number = 3302 if (first, last) == ("Ottilie", "Fairweather") else 1000 + index
        rows.append(
            {
                "record_id": f"sf-{first.lower()}-{last.lower()}",
                "source": "salesforce/contacts",
                "first_name": first,
                "last_name": last,
                "email": f"{first[0].lower()}{last.lower()}{number}@fastmail.fm",
            }
        )
    # Eulalia Fitzwilliam is also known on Facebook, by a lead form she filled in with her mailbox.
    rows.append(
        {
            "record_id": "fb-lead-eulalia",
            "source": "facebook/leads",
            "email": "efitzwilliam1012@fastmail.fm",
            "facebook_id": "100088800001",
        }
    )
    return rows


def _commenter(record_id: str, name: str, facebook_id: str) -> dict[str, str | None]:
    return {
        "record_id": record_id,
        "source": "facebook/post_comments",
        "full_name": name,
        "facebook_id": facebook_id,
    }


COMMENTERS = [
    _commenter("fb-leocadia", "Leocadia Brzezinski", "100077700001"),
    _commenter("fb-john-smith", "John Smith", "100077700002"),
    _commenter("fb-casimir", "Casimir Wojciechowski", "100077700003"),
    _commenter("fb-wilhelmina-1", "Wilhelmina Achterberg", "100077700004"),
    _commenter("fb-wilhelmina-2", "Wilhelmina Achterberg", "100077700005"),
    _commenter("fb-eulalia", "Eulalia Fitzwilliam", "100088800002"),
    {
        "record_id": "tw-ottilie",
        "source": "twitter/mentions",
        "full_name": "Ottilie Fairweather",
        "twitter_handle": "ottie_9917",
    },
]


@pytest.fixture(scope="module")
def resolution() -> Resolution:
    rows = _client_rows() + COMMENTERS
    frame = pl.DataFrame(rows, schema={key: pl.String for row in rows for key in row})
    return resolve(frame, WITHOUT_MODEL)


def _client(resolution: Resolution, record_id: str) -> str:
    return resolution.mapping.filter(pl.col("record_id") == record_id)["client_id"].item()


def _joined(resolution: Resolution, commenter: str) -> list[str]:
    """The other records of the commenter's client."""
    client = _client(resolution, commenter)
    return sorted(
        resolution.mapping.filter((pl.col("client_id") == client) & (pl.col("record_id") != commenter))[
            "record_id"
        ].to_list()
    )


def test_a_rare_name_one_client_carries_links_the_commenter(resolution: Resolution) -> None:
    """The rule the guards restrain does link on this population: the other tests are not vacuous."""
    assert _joined(resolution, "fb-leocadia") == ["sf-leocadia-brzezinski"]
    links = resolution.links.filter(pl.col("rule") == UNIQUE_NAME_RULE)
    assert {"fb-leocadia"} <= set(links["record_id_a"]) | set(links["record_id_b"])


def test_rarity_a_common_name_never_links_even_when_one_client_carries_it(resolution: Resolution) -> None:
    # Exactly one client is John Smith, but with four Johns and four Smiths among 25 clients a
    # second John Smith is likely out there: the commenter may be him.
    assert _joined(resolution, "fb-john-smith") == []


def test_typo_neighbour_a_last_name_one_typo_from_another_clients_blocks_the_link(
    resolution: Resolution,
) -> None:
    # Casimir Wojciechowski and Casimir Wojciechowksi are two clients; one of them is mistyped, and
    # the commenter may be either.
    assert _joined(resolution, "fb-casimir") == []


def test_number_a_handle_number_the_client_does_not_carry_is_another_person(resolution: Resolution) -> None:
    # The client's mailbox carries 3302; the author's handle carries 9917.
    assert _joined(resolution, "tw-ottilie") == []


def test_one_profile_per_network_two_facebook_ids_with_one_name_link_neither(resolution: Resolution) -> None:
    assert _joined(resolution, "fb-wilhelmina-1") == []
    assert _joined(resolution, "fb-wilhelmina-2") == []


def test_limits_a_second_facebook_id_refuses_the_name_link_and_says_why(resolution: Resolution) -> None:
    # Eulalia's client already holds a Facebook id; the commenter's is another one.
    assert _joined(resolution, "fb-eulalia") == []
    refused = resolution.refused.filter(
        (pl.col("record_id_a") == "fb-eulalia") | (pl.col("record_id_b") == "fb-eulalia")
    )
    assert refused.select("rule", "reason").to_dicts() == [
        {"rule": UNIQUE_NAME_RULE, "reason": "limit:facebook_id"}
    ]


@pytest.mark.parametrize(
    ("priorities", "b_joins"),
    [
        ({}, "c"),  # the defaults: a CRM id (1) outranks an email (3)
        ({"email": 1, "crm_id": 3}, "a"),
    ],
)
def test_priorities_decide_which_conflicting_link_gives_way(priorities: dict[str, int], b_joins: str) -> None:
    """a-b share an email, b-c a CRM id, and a and c have different birth dates: one of the links
    must give way, and the priorities say which."""
    frame = pl.DataFrame(
        [
            {"record_id": "a", "email": "shared@fastmail.fm", "date_of_birth": "1980-01-01", "crm_id": None},
            {"record_id": "b", "email": "shared@fastmail.fm", "date_of_birth": None, "crm_id": "003X"},
            {"record_id": "c", "email": None, "date_of_birth": "1991-09-09", "crm_id": "003X"},
        ]
    )
    config = ResolutionConfig(
        probabilistic=ProbabilisticConfig(enabled=False),
        priorities={**WITHOUT_MODEL.priorities, **priorities},
    )
    resolution = resolve(frame, config)
    other = "a" if b_joins == "c" else "c"
    assert _client(resolution, "b") == _client(resolution, b_joins)
    assert _client(resolution, "b") != _client(resolution, other)
