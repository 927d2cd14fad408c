"""Identity, privacy and cleansing know a social network only from its source's declaration.

What must hold: the identifier types derived from the shipped declarations are exactly the ones
resolution always had (same types, order, limits and priorities: behaviour unchanged); a network
declared in a new folder is linked on, hashed and normalized without editing those modules; a bad
declaration fails naming the fix; and no module of these layers names a vendor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import yaml

import cdp_platform
import cdp_platform.cleansed as cleansed
from cdp_platform.cleansed.normalize import _profile_prefix
from cdp_platform.cleansed.normalize import handle as cleansed_handle
from cdp_platform.identity import evidence
from cdp_platform.identity.config import ResolutionConfig, limit_types, link_types
from cdp_platform.identity.normalize import input_columns
from cdp_platform.identity.resolve import resolve
from cdp_platform.privacy import hashing, pseudonymize
from cdp_platform.sources import profiles, registry
from cdp_platform.sources.declaration import ProfileIdentifier

_CACHED = (
    profiles.profile_identifiers,
    profiles.handle_columns,
    profiles.profile_hosts_pattern,
    _profile_prefix,
    evidence.shared_values,
    hashing.kinds,
    pseudonymize.client_360_columns,
    pseudonymize.identifier_kinds,
    pseudonymize.checked_kinds,
    pseudonymize.policies,
)


def _clear() -> None:
    for function in _CACHED:
        function.cache_clear()


def _declare(monkeypatch: pytest.MonkeyPatch, identifier: ProfileIdentifier) -> None:
    """The shipped sources and one more, ``newnet``, whose people have ``identifier``."""
    shipped = registry.declarations()
    template = next(iter(shipped.values()))
    extra = dataclasses.replace(template, name="newnet", position=None, profile_identifier=identifier)
    monkeypatch.setattr(registry, "declarations", lambda: {**shipped, "newnet": extra})
    _clear()


@pytest.fixture
def new_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new network whose people have a handle on ``social.example``."""
    _declare(
        monkeypatch,
        ProfileIdentifier("newnet_handle", "handle", priority=5, profile_hosts=("social.example",)),
    )
    yield "newnet_handle"
    monkeypatch.undo()
    _clear()


def test_the_shipped_declarations_give_the_identifier_types_resolution_always_had():
    config = ResolutionConfig()
    assert link_types() == (
        "crm_id", "facebook_id", "email", "twitter_handle", "instagram_username", "ga_client_id", "phone_name"
    )  # fmt: skip
    assert limit_types() == (
        "crm_id", "facebook_id", "email", "twitter_handle", "instagram_username", "ga_client_id", "phone",
        "date_of_birth",
    )  # fmt: skip
    assert config.priorities == {
        "crm_id": 1, "facebook_id": 2, "email": 3, "twitter_handle": 4, "instagram_username": 5,
        "ga_client_id": 6, "phone_name": 7,
    }  # fmt: skip
    assert config.limits == {
        "crm_id": 10, "facebook_id": 1, "email": 5, "twitter_handle": 1, "instagram_username": 1,
        "ga_client_id": 50, "phone": 3, "date_of_birth": 1,
    }  # fmt: skip
    assert config.exclusive_sources == {"salesforce/contacts", "salesforce/leads", "hubspot/contacts"}
    assert hashing.kinds() == (
        "email", "phone", "client_id", "record_id", "crm_id", "facebook_id", "handle", "ga_client_id", "name",
        "person",
    )  # fmt: skip
    assert pseudonymize.identifier_kinds() == {
        "email": "email", "phone": "phone", "crm_id": "crm_id", "ga_client_id": "ga_client_id",
        "twitter_handle": "handle", "instagram_username": "handle", "facebook_id": "facebook_id",
    }  # fmt: skip
    for column, kind in {
        "twitter_handles": "handle", "instagram_usernames": "handle", "facebook_ids": "facebook_id",
        "twitter_mentions": "keep", "facebook_comments": "keep", "instagram_comments": "keep", "lead_forms": "keep",
    }.items():  # fmt: skip
        assert pseudonymize.policy("client_360", column) == kind, column


def test_a_network_declared_in_a_new_folder_is_linked_hashed_and_normalized(new_network: str):
    assert new_network in link_types() and ResolutionConfig().limits[new_network] == 1
    records = pl.DataFrame(
        {
            "record_id": ["crm:1", "newnet:a", "newnet:b"],
            "source": ["crm/contacts", "newnet/comments", "newnet/comments"],
            "email": ["ann.lee@example.org", None, None],
            new_network: ["https://www.social.example/Ann_Lee", "@ann_lee", "someone_else"],
        }
    )
    # Built after the declaration: a config's limits and priorities are the declared ones.
    config = ResolutionConfig(
        probabilistic=dataclasses.replace(ResolutionConfig().probabilistic, enabled=False),
        link_handle_emails=False,
        link_handle_names=False,
        link_unique_names=False,
    )
    clients = resolve(records, config).mapping.sort("record_id")
    by_record = dict(zip(clients["record_id"], clients["client_id"], strict=True))
    assert by_record["crm:1"] == by_record["newnet:a"] != by_record["newnet:b"]
    assert hashing.normalize("handle", "https://social.example/Ann_Lee/") == "ann_lee"
    assert pl.select(cleansed_handle(pl.lit("http://social.example/Ann_Lee"))).item() == "ann_lee"
    assert pseudonymize.policy("client_360", f"{new_network}s") == "handle"
    assert evidence.shared_values()[new_network] == ("handle", f"n_{new_network}")


def test_a_profile_identifier_of_an_unknown_kind_fails_naming_the_kinds():
    with pytest.raises(ValueError, match="kind 'nickname' does not exist: use one of user_id, handle"):
        ProfileIdentifier("newnet_nick", "nickname", priority=4)
    with pytest.raises(ValueError, match="priority and limit must be at least 1"):
        ProfileIdentifier("newnet_id", "user_id", priority=0)


def test_a_profile_identifier_named_like_an_identity_type_fails_naming_it(monkeypatch: pytest.MonkeyPatch):
    _declare(monkeypatch, ProfileIdentifier("email", "user_id", priority=2))
    try:
        with pytest.raises(ValueError, match=r"takes the name of an identity type: \['email'\]; rename it"):
            ResolutionConfig()
    finally:
        monkeypatch.undo()
        _clear()


CORE = ("identity", "privacy", "predictive", "cleansed", "profile", "io/checkpoints.py", "settings.py",
        "sources/profiles.py", "sources/declaration.py")  # fmt: skip


def test_no_module_of_the_core_names_a_vendor():
    root = Path(cdp_platform.__file__).parent
    files = [
        p
        for entry in CORE
        for p in ([root / entry] if entry.endswith(".py") else (root / entry).rglob("*.py"))
    ]
    assert len(files) > 40
    named = [
        f"{path.relative_to(root)}: {source}"
        for path in files
        for source in registry.declarations()
        if source in path.read_text(encoding="utf-8").lower()
    ]
    assert named == []


def _dbt_meta(key: str) -> list[object]:
    """Every value of ``config.meta.<key>`` the sources' dbt staging models declare."""
    found = []
    for path in sorted(
        (Path(cdp_platform.__file__).parents[1] / "dbt" / "models" / "staging").rglob("*.yml")
    ):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            value = ((model.get("config") or {}).get("meta") or {}).get(key)
            if value is not None:
                found.append(value)
    return found


def test_the_profile_and_identity_read_the_same_declared_identifiers_and_counts():
    """The dbt side declares the countable interactions and the anonymous sources in each source's
    staging folder; they must agree with the entities. (The networks' identifier columns reach dbt
    through the macro generated from the same declarations, checked current by the record-key
    tests; identity reads them in the same order, after the generic columns.)"""
    networks = [*(p.column for p in profiles.profile_identifiers()), "ga_client_id"]
    assert [c for c in input_columns() if c in networks] == networks
    counts = {column for meta in _dbt_meta("cdp_interaction_counts") for column in meta}
    assert counts == {e.engagement_count for e in cleansed.ENTITIES if e.engagement_count is not None}
    anonymous = {source for meta in _dbt_meta("cdp_anonymous_sources") for source in meta}
    assert anonymous == {f"{e.source}/{e.entity}" for e in cleansed.ENTITIES if e.device_records}
