"""A field is declared once: the schema, the payload drift expects and the query come from it."""

from __future__ import annotations

import pytest

from cdp_platform.cleansed.entity import CleansedEntity, Field, derived_payload
from cdp_platform.sources.salesforce import FIELDS, window_query
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
    assert "MailingPostalCode" in FIELDS["Contact"] and FIELDS["Contact"][:2] == ("Id", "IsDeleted")
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
    import datetime

    start = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)
