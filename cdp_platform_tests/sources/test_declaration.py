"""Source declarations: the registry finds every folder, and every list of sources follows it."""

from __future__ import annotations

import pytest

from cdp_platform.automation.schedules import daily_cron
from cdp_platform.settings import load_settings
from cdp_platform.sources import RESOURCE_CLASSES, SOURCES
from cdp_platform.sources.declaration import DailyWindow, Pagination, Schedule
from cdp_platform.sources.registry import declaration, declarations, source_names


def test_the_registry_lists_the_shipped_sources_in_their_order():
    assert source_names()[:6] == (
        "salesforce",
        "hubspot",
        "google_analytics",
        "facebook",
        "instagram",
        "twitter",
    )
    assert list(declarations()) == list(source_names())


def test_every_list_of_sources_is_the_registry():
    settings = load_settings({})
    assert list(settings.vendors) == list(SOURCES) == list(RESOURCE_CLASSES) == list(declarations())
    for name, source in declarations().items():
        assert [s.name for s in SOURCES[name].STREAMS] == [s.name for s in source.streams]
        assert settings.vendors[name].credential_vars == {
            c.role: f"CDP_{name.upper()}_{c.role.upper()}" for c in source.credentials
        }
        assert daily_cron(name) == f"{source.schedule.minute} 1 * * *"


def test_a_declared_credential_and_option_are_read_from_their_variables():
    twitter = declaration("twitter")
    environ = {"CDP_TWITTER_BASE_URL": "https://api.example.com", "CDP_TWITTER_USER_ID": "42"}
    environ.update({twitter.env_var(c.role): "x" for c in twitter.credentials})
    vendor = load_settings(environ).vendors["twitter"]
    assert vendor.options == {"user_id": "42"}
    assert vendor.credentials_present == frozenset(twitter.credential_roles)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Pagination("cursor_in_header"),
            "pagination kind 'cursor_in_header' does not exist: use one of",
        ),
        (lambda: DailyWindow("since", "until", "epoch"), "window format 'epoch' does not exist"),
        (lambda: Schedule(minute=60), "schedule minute 60 is not within 0-59"),
    ],
)
def test_a_wrong_declaration_fails_naming_the_fix(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_an_unknown_source_is_named_with_the_known_ones():
    with pytest.raises(KeyError, match="no source 'stripe_x'; known: salesforce, hubspot"):
        declaration("stripe_x")


def test_the_readme_documents_every_declared_variable():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [
        source.env_var(role)
        for source in declarations().values()
        for role in (*source.credential_roles, *source.option_names)
        if source.env_var(role) not in readme
    ]
    assert missing == [], f"README 'Connecting the vendors' does not name {missing}"
