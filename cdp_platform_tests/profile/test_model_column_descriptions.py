"""What a dbt model's columns hold, in its schema: its YAML's, its union's, the declared identifiers'."""

import duckdb

from cdp_platform.profile.column_descriptions import column_descriptions
from cdp_platform.profile.table_metadata import table_metadata
from cdp_platform.sources.profiles import profile_identifiers

MANIFEST = {
    "nodes": {
        "model.p.int_people": {
            "raw_code": "with unioned as ({{ union_contributions('identity_candidates') }}) select * from unioned",
            "columns": {
                "email": {"name": "email", "description": "The person's email address."},
                "city": {"name": "city", "description": ""},
            },
        },
        "model.p.stg_shop__people": {
            "raw_code": "select email, city from {{ ref('stg_shop__customers') }}",
            "config": {"meta": {"cdp_contributes": "identity_candidates"}},
            "columns": {"city": {"name": "city", "description": "The shop customer's city."}},
        },
        "model.p.stg_shop__orders": {"raw_code": "select 1 as email", "columns": {}},
    }
}


def test_a_contribution_takes_its_unions_descriptions_and_its_own_win():
    described = column_descriptions(MANIFEST, "model.p.stg_shop__people")
    assert described["email"] == "The person's email address."
    assert described["city"] == "The shop customer's city."
    identifier = profile_identifiers()[0]
    assert described[identifier.column] == identifier.description != ""
    # A model that neither builds nor joins a union has only its own YAML's.
    assert column_descriptions(MANIFEST, "model.p.stg_shop__orders") == {}


def test_the_materialization_schema_describes_the_columns_the_table_has():
    identifier = profile_identifiers()[0].column
    with duckdb.connect() as connection:
        connection.execute(
            f"create table people (email varchar, city varchar, {identifier} varchar, extra int)"
        )
        meta = table_metadata(connection, "people", column_descriptions(MANIFEST, "model.p.stg_shop__people"))
    columns = {c.name: c.description for c in meta["dagster/column_schema"].columns}
    assert columns["email"] == "The person's email address."
    assert columns[identifier] and columns["extra"] is None
