"""A field is declared once: the schema, the payload drift expects and the query come from it."""

from __future__ import annotations

import ast
import datetime
import json
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest

import cdp_platform
from cdp_platform.cleansed import ENTITIES, entity
from cdp_platform.cleansed.checks import drift_differences, observed_fields
from cdp_platform.cleansed.entity import CleansedEntity, Field, cleanse, column_descriptions, derived_payload
from cdp_platform.settings import load_settings
from cdp_platform.sources.hubspot import properties
from cdp_platform.sources.salesforce import query_fields, window_query
from cdp_platform.sources.salesforce.cleansed.contacts import ENTITY as CONTACTS


def test_the_schema_has_one_column_per_declared_field_with_the_kinds_rule():
    assert list(CONTACTS.schema.columns) == ["record_id", *(f.name for f in CONTACTS.fields)]
    assert CONTACTS.schema.columns["email"].checks  # the email syntax rule, from kind "email"
    assert CONTACTS.schema.columns["crm_id"].unique  # the id's own rule replaces the kind's
    assert not CONTACTS.schema.columns["created_at"].nullable  # a required field is not nullable


def test_the_payload_and_the_query_read_the_fields_paths():
    assert CONTACTS.expected_payload["MailingPostalCode"] == "string"
    assert CONTACTS.expected_payload["HasOptedOutOfEmail"] == "boolean"
    # A relationship field expects its object, and the envelope the entity declares beside it.
    assert CONTACTS.expected_payload["Account"] == "object"
    assert CONTACTS.expected_payload["Account.attributes.type"] == "string"
    contact_fields = query_fields("Contact")
    assert "MailingPostalCode" in contact_fields and contact_fields[:2] == ("Id", "IsDeleted")
    assert "Account.Name" in window_query("Contact", *_day())


def test_identity_roles_and_pii_are_declared_on_the_field():
    by_name = {f.name: f for f in CONTACTS.fields}
    assert by_name["postcode"].role == "postcode" and by_name["postcode"].pii
    assert by_name["crm_id"].role == "external_id"
    with pytest.raises(ValueError, match="unknown identity role 'zip'"):
        Field("postcode", "string", "$.zip", role="zip")


def test_derived_payload_nests_parents_and_skips_context_fields():
    fields = (Field("a", "amount", "$.deal.amount"), Field("who", "string", "context:$.author.name"))
    assert derived_payload(fields) == {"deal": "object", "deal.amount": "number"}
    entity = CleansedEntity(source="s", entity="e", raw_stream="e", fields=fields)
    assert list(entity.schema.columns) == ["record_id", "a", "who"]


def _day():
    start = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)


def _raw(*payloads: dict) -> pl.DataFrame:
    """A raw partition of these payloads (one version each)."""
    stamp = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
    return pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(len(payloads))],
            "updated_at": [stamp] * len(payloads),
            "payload": [json.dumps(p) for p in payloads],
        },
        schema={"record_id": pl.String, "updated_at": pl.Datetime("us", "UTC"), "payload": pl.String},
    )


def test_no_entity_spells_its_schema_or_payload_beside_its_fields():
    """Every ``CleansedEntity(...)`` in the platform derives both from its fields: one passing
    ``schema=`` or ``expected_payload=`` would be a second spelling of its columns."""

    root = Path(cdp_platform.__file__).parent
    spelled = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CleansedEntity":
                given = {k.arg for k in node.keywords} & {"schema", "expected_payload"}
                if given:
                    spelled.append(f"{path.relative_to(root)}:{node.lineno} {sorted(given)}")
    assert spelled == []

    assert len(ENTITIES) >= 17  # the scan saw the entity modules, not an empty tree
    for e in ENTITIES:
        assert list(e.schema.columns) == ["record_id", *(f.name for f in e.fields)], e.entity
        assert e.expected_payload == derived_payload(e.fields, e.envelope_payload), e.entity


def test_a_key_the_vendor_may_leave_out_is_optional_and_so_is_an_object_of_only_such_keys():
    fields = (
        Field("text", "string", "$.message", may_be_absent=True),
        Field("who", "string", "$.from.id", may_be_absent=True),
        Field("who_name", "display_name", "$.from.name", may_be_absent=True),
        Field("opt_out", "boolean", "$.props.opt_out", may_be_absent=True),
        Field("stage", "string", "$.props.stage"),
    )
    assert derived_payload(fields) == {
        "message": "string?",
        "from": "object?",
        "from.id": "string?",
        "from.name": "string?",
        "props": "object",  # holds a key that is always sent
        "props.opt_out": "boolean?",
        "props.stage": "string",
    }


def test_sent_as_documents_the_type_for_drift_without_quarantining_another():

    as_text = CleansedEntity(
        source="s",
        entity="e",
        raw_stream="e",
        fields=(Field("employees", "integer", "$.properties.employees", sent_as="string"),),
    )
    assert as_text.expected_payload == {"properties": "object", "properties.employees": "string"}
    payloads = ({"properties": {"employees": "12"}}, {"properties": {"employees": 40}})
    result = cleanse(_raw(*payloads), as_text, None)
    # Read either way (a value of another type is not quarantined: json_type would do that) ...
    assert result.rejected.is_empty() and sorted(result.clean["employees"].to_list()) == [12, 40]
    # ... and the drift check names the number the vendor was not documented to send.
    observed = observed_fields(result.accepted_payloads.to_list())
    assert drift_differences(as_text.expected_payload, observed) == [
        "changed type of properties.employees: expected string, got number"
    ]


def test_a_computed_column_is_in_the_schema_but_not_read_or_checked_by_cleanse():

    doubled = pa.Check(lambda data: data.lazyframe.select(pl.col("twice") == pl.col("n") * 2), name="twice_n")
    entity = CleansedEntity(
        source="s",
        entity="e",
        raw_stream="e",
        fields=(Field("n", "integer", "$.n"), Field("twice", "integer", computed=True)),
        extra_columns=lambda frame: frame.with_columns((pl.col("n") * 2).alias("twice")),
        checks=(doubled,),
    )
    assert list(entity.schema.columns) == ["record_id", "n", "twice"]
    assert [c.name for c in entity.schema.checks] == ["twice_n"]
    assert entity.expected_payload == {"n": "number"}
    clean = cleanse(_raw({"n": 2}, {"n": 5}), entity, None).clean
    assert sorted(clean["twice"].to_list()) == [4, 10]
    entity.schema.validate(clean)
    with pytest.raises(ValueError, match="a computed column is derived by extra_columns"):
        Field("twice", "integer", "$.twice", computed=True)


def test_payload_attributes_need_a_plain_payload_path_and_a_known_type():
    with pytest.raises(ValueError, match="not a plain payload path"):
        Field("author", "handle", "context:$.author.username", may_be_absent=True)
    with pytest.raises(ValueError, match="unknown JSON type sent_as='text'"):
        Field("n", "integer", "$.n", sent_as="text")
    with pytest.raises(ValueError, match="not both"):
        Field("n", "integer", "$.n", sent_as="string", json_type="number")


def test_hubspot_searches_for_exactly_the_properties_its_entities_expect():
    load_settings({})  # the local default: the sandbox's portal maps its handle properties
    expected = {
        k.removeprefix("properties.")
        for k in entity("hubspot", "contacts").expected_payload
        if k.startswith("properties.")
    }
    assert set(properties("contacts")) == expected
    assert "twitterhandle" in properties("contacts") and "lastmodifieddate" in properties("contacts")
    # A portal that maps no handle property is not asked for one.
    load_settings({"CDP_HUBSPOT_CONTACTS_HANDLE_FIELDS": "instagram_username=ig"})
    assert "twitterhandle" not in properties("contacts") and "ig" in properties("contacts")
    load_settings({})


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: f"{e.source}/{e.entity}")
def test_the_schema_lists_every_column_the_table_gets_in_its_order(entity):
    """A column ``extra_columns`` adds is declared as a computed field, so the schema (and the
    column list) is the table's: cleansing an empty partition yields exactly these columns, beside
    the raw row's time, the originals of emails and phones and the partition date."""
    empty = _raw().with_columns(pl.lit(None, pl.String).alias("context"))
    clean = cleanse(empty, entity, datetime.date(1970, 1, 1)).clean
    kept = [
        c for c in clean.columns if c not in ("updated_at", "partition_date") and not c.endswith("_original")
    ]
    assert kept == entity.columns


def test_a_columns_description_is_the_fields_own_then_the_rules_the_cleansing_applies():
    """The rules a column's description names are those cleanse applies: each row below breaks one,
    and the quarantine names exactly the rules the description lists."""
    email = Field("email", "email", "$.email", required=True, description="The contact's email (email).")
    entity = CleansedEntity(source="s", entity="people", raw_stream="people", fields=(email,))
    text = column_descriptions(entity)["email"]
    assert text == (
        "The contact's email (email). Trimmed and lower-cased. The record goes to people_rejected when "
        "it is missing (missing_required); not a valid address (invalid_email). As sent: email_original."
    )
    result = cleanse(_raw({}, {"email": "jane@@example"}, {"email": " Jane@Example.com "}), entity, None)
    assert sorted(result.rejected["rule"].to_list()) == ["invalid_email", "missing_required"]
    assert all(f"({rule})" in text for rule in result.rejected["rule"])
    assert result.clean["email"].to_list() == ["jane@example.com"]
    # Without a description of its own the column has none: the rules alone say nothing of its meaning.
    undescribed = CleansedEntity(
        source="s", entity="e", raw_stream="e", fields=(Field("email", "email", "$.e"),)
    )
    assert column_descriptions(undescribed)["email"] == ""
    assert column_descriptions(undescribed)["email_original"].startswith(
        "email exactly as the vendor sent it"
    )
