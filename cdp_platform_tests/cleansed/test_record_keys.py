"""Record-key prefixes have one home: the entities' person keys, written out for dbt."""

from __future__ import annotations

import re
from pathlib import Path

from cdp_platform.cleansed.record_keys import MACRO_PATH, declared_keys, macro_text
from cdp_platform.privacy.identifiers import person_stream

DBT = Path(__file__).resolve().parents[2] / "dbt"
# A literal record key in SQL: 'salesforce:contacts:' || ...
LITERAL_KEY = re.compile(r"'([a-z_]+):([a-z_]+):'")
# A record key built through the generated macro: record_key_prefix('salesforce', 'contacts')
MACRO_KEY = re.compile(r"record_key_prefix\(\s*'([a-z_]+)'\s*,\s*'([a-z_]+)'\s*\)")


def test_the_dbt_macro_is_what_the_declarations_generate():
    assert MACRO_PATH.read_text(encoding="utf-8") == macro_text(), (
        "dbt/macros/record_key_prefix.sql is stale: run `python -m cdp_platform.cleansed.record_keys`"
    )


def test_every_record_key_the_dbt_models_build_is_declared_by_an_entity():
    declared = set(declared_keys())
    sql = [path for folder in ("models", "tests") for path in (DBT / folder).rglob("*.sql")]
    used = {
        (match.group(1), match.group(2), path.name)
        for path in sql
        for match in MACRO_KEY.finditer(path.read_text(encoding="utf-8"))
    }
    assert used, "no record_key_prefix(...) calls found in the dbt models: the pattern no longer matches"
    assert {(s, k, f) for s, k, f in used if (s, k) not in declared} == set()


def test_no_dbt_model_spells_a_record_key():
    """The prefixes are spelled once, in the generated macro: a literal one in a model would not
    follow a change of the declaration (and would escape the macro's compile-time check)."""
    literal = {
        (path.relative_to(DBT).as_posix(), match.group(0))
        for folder in ("models", "tests")
        for path in (DBT / folder).rglob("*.sql")
        for match in LITERAL_KEY.finditer(path.read_text(encoding="utf-8"))
    }
    assert literal == set()


def test_privacy_reads_the_same_declarations():
    opportunities = person_stream("salesforce", "opportunities")
    assert opportunities is not None
    assert [(link.field, link.prefixes) for link in opportunities.owners] == [
        ("contact_id", ("salesforce:contacts:",))
    ]
    activity = person_stream("google_analytics", "user_daily_activity")
    assert activity is not None
    crm = next(link for link in activity.owners if link.field == "crm_id")
    assert crm.prefixes == ("salesforce:contacts:", "hubspot:contacts:")
    assert person_stream("hubspot", "companies") is None  # no person keys declared: nobody's data
