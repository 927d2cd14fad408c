"""The synthetic population: reproducible, with the noise and the hard cases identity resolution must face."""

from __future__ import annotations

import collections
import random

import numpy as np
import phonenumbers
import pytest

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.population import (
    NICKNAMES,
    PROFILES,
    Population,
    bijection,
    format_phone,
    key_of,
    source_view,
    uniform,
    uniforms,
)


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(SandboxConfig())


def _mailbox(address: str) -> str:
    """What a careful resolver compares: case, spaces, gmail dots and +tags do not matter."""
    local, domain = address.strip().lower().split("@")
    if domain == "gmail.com":
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def test_scalar_and_vector_hash_agree_and_spread() -> None:
    key = key_of(7, "test")
    index = np.arange(10_000)
    bulk = uniforms(key, index)
    assert [uniform(key, i) for i in (0, 1, 9_999)] == [bulk[0], bulk[1], bulk[9_999]]
    assert 0.0 <= bulk.min() and bulk.max() < 1.0
    assert abs(bulk.mean() - 0.5) < 0.01
    assert not np.array_equal(bulk, uniforms(key_of(8, "test"), index))


def test_bijection_is_a_permutation_with_an_inverse() -> None:
    mapping = bijection(7, "ids", 4)
    values = mapping.forward_array(np.arange(10_000))
    assert np.unique(values).size == 10_000
    assert all(mapping.inverse(mapping.forward(i)) == i for i in (0, 17, 9_999))


def test_same_seed_same_person_other_seed_other_person() -> None:
    first, again = Population(SandboxConfig(seed=3)), Population(SandboxConfig(seed=3))
    other = Population(SandboxConfig(seed=4))
    assert [first.person(i) for i in range(30)] == [again.person(i) for i in range(30)]
    assert [first.person(i).personal_email for i in range(30)] != [
        other.person(i).personal_email for i in range(30)
    ]


def test_person_does_not_depend_on_the_order_it_is_asked_for() -> None:
    forward = Population(SandboxConfig())
    backward = Population(SandboxConfig())
    members = [i for i in range(400) if forward.kinds(np.array([i]))[0] == 1]
    assert members, "the range must include household members, whose root is built on the way"
    ahead = [forward.person(i) for i in range(400)]
    behind = [backward.person(i) for i in reversed(range(400))][::-1]
    assert ahead == behind


def test_every_person_has_a_valid_phone_and_unique_emails(population: Population) -> None:
    persons = [population.person(i) for i in range(population.size)]
    countries = collections.Counter(p.country for p in persons)
    assert set(countries) == {"US", "GB", "DE", "FR"} and countries["US"] > population.size * 0.7
    for person in persons:
        parsed = phonenumbers.parse(person.phone_e164)
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.region_code_for_number(parsed) == person.country
    # Different people never share an address, so an email match is always a true match.
    assert len({p.personal_email for p in persons}) == len(persons)
    assert len({p.work_email for p in persons}) == len(persons)


def test_households_share_address_and_phone_but_not_the_person(population: Population) -> None:
    members = [
        population.person(i) for i in range(population.size) if population.person(i).household_of is not None
    ]
    assert len(members) >= 20
    same_last_name = 0
    for member in members:
        root = population.person(member.household_of)
        assert root.household_of is None
        assert (member.street, member.city, member.postcode, member.phone_e164) == (
            root.street,
            root.city,
            root.postcode,
            root.phone_e164,
        )
        assert member.first_name != root.first_name
        assert member.personal_email != root.personal_email
        same_last_name += member.last_name == root.last_name
    assert same_last_name > len(members) / 2


def test_namesakes_share_a_full_name_and_nothing_else(population: Population) -> None:
    by_name = collections.defaultdict(list)
    for i in range(population.size):
        person = population.person(i)
        if person.namesake:
            by_name[person.full_name].append(person)
    groups = [group for group in by_name.values() if len(group) >= 2]
    assert len(groups) >= 4
    for group in groups:
        assert len({p.personal_email for p in group}) == len(group)
        assert len({p.phone_e164 for p in group if p.household_of is None}) == len(
            [p for p in group if p.household_of is None]
        )
        assert len({p.city for p in group}) > 1


def test_true_duplicate_is_the_same_mailbox_typed_differently(population: Population) -> None:
    changed = 0
    for i in range(300):
        person = population.person(i)
        for source in ("salesforce", "hubspot"):
            first = source_view(7, person, source, copy=0)
            second = source_view(7, person, source, copy=1)
            assert _mailbox(first.email) == _mailbox(second.email)
            changed += (first.email, first.first_name, first.last_name) != (
                second.email,
                second.first_name,
                second.last_name,
            )
    assert changed == 600  # a second entry always differs somewhere: case at least


def test_sources_see_the_same_person_with_noise(population: Population) -> None:
    noisy_email = nickname = missing_phone = different_email = 0
    for i in range(600):
        person = population.person(i)
        sf, hs = source_view(7, person, "salesforce"), source_view(7, person, "hubspot")
        for view in (sf, hs):
            noisy_email += view.email != view.email.strip().lower() or "+" in view.email
            nickname += view.first_name != person.first_name and person.first_name in NICKNAMES
            missing_phone += view.phone is None
        different_email += _mailbox(sf.email) != _mailbox(hs.email)
        assert _mailbox(sf.email) in {_mailbox(person.personal_email), _mailbox(person.work_email)}
    assert noisy_email > 50 and nickname > 20 and missing_phone > 100 and different_email > 100


@pytest.mark.parametrize("country", ["US", "GB", "DE", "FR"])
def test_phone_formats_all_parse_back_to_the_same_number(population: Population, country: str) -> None:
    person = next(
        population.person(i) for i in range(population.size) if population.person(i).country == country
    )
    rng = random.Random(1)
    seen = set()
    for _ in range(60):
        text = format_phone(person.phone_e164, country, rng)
        seen.add(text)
        parsed = phonenumbers.parse(text, country)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == person.phone_e164
    assert len(seen) >= 5


def test_profiles_cover_every_source_the_records_use() -> None:
    assert {"salesforce", "hubspot", "salesforce_lead", "facebook"} <= set(PROFILES)


def test_twitter_user_ids_invert(population: Population) -> None:
    tweeters = [i for i in range(200) if population.person(i).twitter_handle]
    assert tweeters
    for index in tweeters:
        assert population.person_of_twitter_user(population.twitter_user_id(index)) == index
    silent = next(i for i in range(200) if not population.person(i).twitter_handle)
    assert population.person_of_twitter_user(population.twitter_user_id(silent)) is None
    assert population.person_of_twitter_user("not-a-number") is None
