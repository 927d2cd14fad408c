"""The framework's field options on a synthetic entity: context paths, JSON types, formats."""

from __future__ import annotations

import json
from datetime import date

import pandera.polars as pa
import polars as pl
import pytest

from cdp_platform.cleansed.entity import CleansedEntity, Field, cleanse

ENTITY = CleansedEntity(
    source="acme",
    entity="events",
    raw_stream="events",
    fields=(
        Field("event_id", "string", "$.id", required=True, json_type="string"),
        Field("day", "date", "$.day", required=True, pattern=r"^\d{8}$"),
        Field("code", "string", "$.code", pattern=r"^[A-Z]{3}$"),
        Field("visits", "integer", "$.stats['visits:total']", json_type="string"),
        Field("author", "handle", "context:$.author.username"),
        Field("parent_id", "string", "context:$.parent_id"),
    ),
    schema=pa.DataFrameSchema({"record_id": pa.Column(pl.String, unique=True)}),
    key_columns=("record_id",),
    expected_payload={},
)


def _event(i: int, **overrides) -> dict:
    event = {"id": f"e{i}", "day": "20261102", "code": "ABC", "stats": {"visits:total": "3"}}
    event.update(overrides)
    return event


def _raw(rows: list[tuple[dict, dict | None]], with_context: bool = True) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "record_id": [str(p.get("id")) for p, _ in rows],
            "updated_at": [None] * len(rows),
            "payload": [json.dumps(p) for p, _ in rows],
            "context": [json.dumps(c) if c is not None else None for _, c in rows],
        },
        schema={
            "record_id": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "payload": pl.String,
            "context": pl.String,
        },
    )
    return frame if with_context else frame.drop("context")


def test_fields_read_the_context_and_tolerate_its_absence():
    rows = [
        (_event(1), {"author": {"username": "@Jane_Doe"}, "parent_id": "p1"}),
        (_event(2), None),
    ]
    clean = cleanse(_raw(rows), ENTITY, date(2026, 11, 2)).clean.sort("record_id")
    assert clean["author"].to_list() == ["jane_doe", None]
    assert clean["parent_id"].to_list() == ["p1", None]
    without = cleanse(_raw(rows, with_context=False), ENTITY, date(2026, 11, 2)).clean
    assert without["author"].null_count() == 2 and without.height == 2


@pytest.mark.parametrize(
    ("event", "rule", "field", "value"),
    [
        (_event(1, id=17), "wrong_type", "event_id", "17"),
        (_event(1, id=False), "wrong_type", "event_id", "false"),
        (_event(1, id={"a": 1}), "wrong_type", "event_id", '{"a":1}'),
        (_event(1, id=None), "missing_required", "event_id", None),
        (_event(1, stats={"visits:total": 3.0}), "wrong_type", "visits", "3.0"),
        (_event(1, day="2026-11-02"), "unparseable_timestamp", "day", "2026-11-02"),
        (_event(1, day="11/02/2026"), "unparseable_timestamp", "day", "11/02/2026"),
        (_event(1, code="abc"), "unexpected_format", "code", "abc"),
    ],
)
def test_type_and_format_rules(event, rule, field, value):
    result = cleanse(_raw([(event, None)]), ENTITY, date(2026, 11, 2))
    assert result.clean.is_empty()
    assert result.rejected.select("rule", "field", "value").row(0) == (rule, field, value)


def test_type_changes_are_kept_for_drift_but_unreadable_values_are_not():
    rows = [(_event(1), None), (_event(2, stats={"visits:total": 3}), None), (_event(3, day="x"), None)]
    result = cleanse(_raw(rows), ENTITY, date(2026, 11, 2))
    assert result.rejected.height == 2
    kept = [json.loads(p)["id"] for p in result.accepted_payloads]
    assert kept == ["e1", "e2"]


def test_a_json_type_needs_a_plain_payload_path():
    with pytest.raises(ValueError, match="plain payload path"):
        Field("x", "string", "context:$.a", json_type="string")
    with pytest.raises(ValueError, match="plain payload path"):
        Field("x", "string", "$.items[?(@.name == 'a')].value", json_type="string")
    with pytest.raises(ValueError, match="unknown JSON type"):
        Field("x", "string", "$.a", json_type="text")


def test_a_phone_region_must_come_from_a_field_of_the_entity():
    with pytest.raises(ValueError, match="only a phone"):
        Field("x", "string", "$.a", region_from="country")
    with pytest.raises(ValueError, match="unknown field country"):
        CleansedEntity(
            source="acme",
            entity="people",
            raw_stream="people",
            fields=(Field("phone", "phone", "$.phone", region_from="country"),),
            schema=ENTITY.schema,
            key_columns=("record_id",),
            expected_payload={},
        )
