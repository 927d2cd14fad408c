"""A CRM's person records carry the people's handles in the fields the account maps
(``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS``): one column per declared handle, null where unmapped."""

from __future__ import annotations

import datetime

import dagster as dg
import polars as pl
import pytest

from cdp_platform import cleansed
from cdp_platform.cleansed import checks
from cdp_platform.cleansed.entity import cleanse
from cdp_platform.cleansed.handles import configured, handle_fields_var, parse_handle_fields, with_handles
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform.sources.hubspot import properties
from cdp_platform.sources.hubspot.cleansed.contacts import ENTITY as HUBSPOT_CONTACTS
from cdp_platform.sources.hubspot.cleansed.objects import requested_properties
from cdp_platform.sources.profiles import handle_columns, profile_identifiers
from cdp_platform.sources.salesforce import query_fields
from cdp_platform_tests.cleansed.raw_rows import PARTITION, raw_frame, records, shaped

VARIABLE = "CDP_HUBSPOT_CONTACTS_HANDLE_FIELDS"
FIRST, SECOND = handle_columns()[:2]
USER_ID = next(p.column for p in profile_identifiers() if p.kind != "handle")


@pytest.fixture(autouse=True)
def _local_default_after():
    """Each test loads its own settings; the next module finds the local default again."""
    yield
    load_settings({})


def test_the_setting_maps_declared_handles_to_field_names():
    assert handle_fields_var("salesforce", "leads") == "CDP_SALESFORCE_LEADS_HANDLE_FIELDS"
    text = f" {FIRST}=Handle__c , {SECOND}=ig_name ,"
    assert parse_handle_fields(VARIABLE, text) == {FIRST: "Handle__c", SECOND: "ig_name"}
    assert parse_handle_fields(VARIABLE, None) == {} == parse_handle_fields(VARIABLE, " ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FIRST, rf"{VARIABLE}: entry '{FIRST}' is not <identifier column>=<field name>: write each entry as"),
        (f"{FIRST}=", r"is not <identifier column>=<field name>"),
        ("=twitterhandle", r"is not <identifier column>=<field name>"),
        (
            "tiktok_handle=tt",
            rf"{VARIABLE}: entry 'tiktok_handle=tt': tiktok_handle is no declared identifier; "
            rf"map one of the declared handles \({FIRST}, {SECOND}",
        ),
        (f"{USER_ID}=fb", rf"{USER_ID} is a platform's user id, not a handle people type in; map one of"),
        (f"{FIRST}=a,{FIRST}=b", rf"{VARIABLE}: {FIRST} is mapped twice \({FIRST}=a and '{FIRST}=b'\)"),
        (f"{FIRST}=Twitter Handle", r"'Twitter Handle' is not a field's API name .* not its label"),
        (f"{FIRST}=properties.x", r"'properties.x' is not a field's API name"),
    ],
)
def test_each_wrong_entry_stops_the_load_naming_the_variable_the_entry_and_the_fix(text, message):
    with pytest.raises(SettingsError, match=message):
        parse_handle_fields(VARIABLE, text)
    with pytest.raises(SettingsError, match=message):
        load_settings({VARIABLE: text})


def test_the_sandbox_accounts_map_their_fields_and_a_real_account_maps_what_it_says():
    local = load_settings({})
    assert local.vendors["hubspot"].handle_fields == {
        "contacts": {"twitter_handle": "twitterhandle", "instagram_username": "instagram_username"}
    }
    assert local.vendors["salesforce"].handle_fields["leads"] == {"twitter_handle": "Twitter_Handle__c"}
    assert configured()[("salesforce", "leads")] == {"twitter_handle": "Twitter_Handle__c"}
    # The SOQL of an org without an Instagram field on Lead never asks for one (it would fail).
    assert "Twitter_Handle__c" in query_fields("Lead") and "Instagram_Username__c" not in query_fields("Lead")

    real = {"CDP_HUBSPOT_BASE_URL": "https://api.hubapi.com", "CDP_HUBSPOT_ACCESS_TOKEN": "t"}
    assert load_settings(real).vendors["hubspot"].handle_fields == {"contacts": {}}
    assert not {"twitterhandle", "instagram_username"} & set(properties("contacts"))
    mapped = load_settings({**real, VARIABLE: "instagram_username=ig_handle"})
    assert mapped.vendors["hubspot"].handle_fields == {"contacts": {"instagram_username": "ig_handle"}}
    assert "ig_handle" in properties("contacts") and "twitterhandle" not in properties("contacts")
    # A variable set for a sandboxed source replaces the sandbox's mapping.
    overridden = load_settings({"CDP_SALESFORCE_LEADS_HANDLE_FIELDS": "instagram_username=Insta__c"})
    assert overridden.vendors["salesforce"].handle_fields["leads"] == {"instagram_username": "Insta__c"}
    assert "Insta__c" in query_fields("Lead") and "Twitter_Handle__c" not in query_fields("Lead")


def _contacts(portal_properties: dict[str, str], mapping: dict[str, str]) -> pl.DataFrame:
    """Sandbox contacts as a portal whose handle properties are ``portal_properties`` (name to
    value) sends them: the properties the search asked for, nothing else."""
    entity = with_handles(HUBSPOT_CONTACTS, mapping)
    asked = set(requested_properties(entity))
    shaped_rows = []
    for record in records("hubspot/contacts", 5):
        payload, context = shaped("hubspot/contacts", record)
        kept = {k: v for k, v in payload["properties"].items() if k in asked}
        kept.update({k: v for k, v in portal_properties.items() if k in asked})
        shaped_rows.append(({**payload, "properties": kept}, context))
    return raw_frame("hubspot/contacts", shaped_rows)


def _passes_every_check(entity, result) -> None:
    assert result.rejected.is_empty(), result.rejected
    key = dg.AssetKey(entity.asset_path)
    for columns in (entity.key_columns, [c for c in entity.schema.columns if c not in entity.key_columns]):
        check = checks.schema_check(
            result.clean,
            entity.schema,
            columns,
            check_name="schema",
            asset_key=key,
            severity=dg.AssetCheckSeverity.ERROR,
        )
        assert check.passed, check.description
    drift = checks.drift_check(
        asset_key=key, payloads=result.accepted_payloads, expected=entity.expected_payload
    )
    assert drift.passed, drift.description


def test_a_mapped_handle_fills_its_column_and_an_unmapped_one_is_null_without_failing_checks():
    entity = with_handles(HUBSPOT_CONTACTS, {FIRST: "social_handle"})
    raw = _contacts({"social_handle": "@Ann_Lee"}, {FIRST: "social_handle"})
    result = cleanse(raw, entity, PARTITION)
    assert result.clean[FIRST].to_list() == ["ann_lee"] * 5  # bare, as every handle
    assert result.clean[SECOND].null_count() == 5 and result.clean[SECOND].dtype == pl.String
    _passes_every_check(entity, result)
    assert "properties.social_handle" in entity.expected_payload
    by_name = {f.name: f for f in entity.fields}
    assert by_name[FIRST].path == "$.properties.social_handle" and by_name[SECOND].computed
    assert by_name[FIRST].role == by_name[SECOND].role == "handle" and by_name[SECOND].pii


def test_an_account_mapping_nothing_gets_null_handle_columns_and_passes_every_check():
    entity = with_handles(HUBSPOT_CONTACTS, {})
    result = cleanse(_contacts({}, {}), entity, PARTITION)
    assert result.clean.height == 5
    assert result.clean.select(pl.col(FIRST, SECOND).null_count()).row(0) == (5, 5)
    _passes_every_check(entity, result)
    assert not any(key.endswith(("twitterhandle", "instagram_username")) for key in entity.expected_payload)


def test_the_table_has_the_same_columns_and_types_whatever_the_account_maps():
    def table(mapping: dict[str, str]) -> pl.Schema:
        entity = with_handles(HUBSPOT_CONTACTS, mapping)
        clean = cleanse(raw_frame("hubspot/contacts", []), entity, datetime.date(1970, 1, 1)).clean
        kept = [
            c
            for c in clean.columns
            if c not in ("updated_at", "partition_date") and not c.endswith("_original")
        ]
        assert kept == entity.columns  # the schema lists the table's columns in their order
        return clean.schema

    none, one, both = table({}), table({FIRST: "a"}), table({FIRST: "a", SECOND: "b"})
    assert dict(none) == dict(one) == dict(both)
    assert {FIRST, SECOND} <= set(none)


def test_every_crm_person_entity_carries_every_declared_handle():
    load_settings({})
    carriers = [e for e in cleansed.ENTITIES if e.handle_path is not None]
    assert {(e.source, e.entity) for e in carriers} == {
        ("hubspot", "contacts"),
        ("salesforce", "contacts"),
        ("salesforce", "leads"),
    }
    for entity in carriers:
        assert set(handle_columns()) <= set(entity.columns), entity.entity


def test_the_sandbox_on_a_port_tells_the_same_handle_fields_the_local_default_maps():
    from cdp_platform.sandbox.cli import account_settings
    from cdp_platform_tests.cleansed.raw_rows import sandbox

    told = {k: v for k, v in account_settings(sandbox()).items() if k.endswith("_HANDLE_FIELDS")}
    assert set(told) == {
        "CDP_HUBSPOT_CONTACTS_HANDLE_FIELDS",
        "CDP_SALESFORCE_CONTACTS_HANDLE_FIELDS",
        "CDP_SALESFORCE_LEADS_HANDLE_FIELDS",
    }
    local = load_settings({})
    for source in ("hubspot", "salesforce"):
        for entity, mapping in local.vendors[source].handle_fields.items():
            variable = handle_fields_var(source, entity)
            assert parse_handle_fields(variable, told[variable]) == mapping
