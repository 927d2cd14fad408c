"""Every raw, cleansed (and quarantine) and identity column says what it holds (issue 20).

What a user reads in the Dagster UI beside a column's type is the ``dagster/column_schema`` its
asset declares: for the raw, cleansed and identity_map assets, built by the platform; for the dbt
identity candidates, the model's YAML ``columns:``. A description is missing when it is empty, or
is no more than the column's name or its kind ("email", "string"), or too short to say anything
(one or two words).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from cdp_platform import cleansed
from cdp_platform.cleansed.entity import KINDS
from cdp_platform.definitions import build_definitions
from cdp_platform.identity.normalize import input_columns
from cdp_platform.profile import DBT_PROJECT
from cdp_platform.profile.column_descriptions import column_descriptions
from cdp_platform.settings import load_settings

# The dbt model identity resolution reads, and the columns beyond the resolver's input it carries.
CANDIDATES_MODEL = "int_identity_candidates"
CANDIDATE_EXTRA_COLUMNS = ("first_seen_at", "last_seen_at")


@pytest.fixture(scope="module")
def specs() -> dict[str, dg.AssetSpec]:
    defs = build_definitions(load_settings({}))
    return {
        spec.key.to_user_string(): spec
        for assets_def in defs.assets or []
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.specs
    }


def _in_scope(key: str) -> bool:
    return key.startswith(("raw/", "cleansed/")) or key in ("identity_map", CANDIDATES_MODEL)


def _expected_candidate_columns() -> list[str]:
    # The resolver also reads a region where a source has one; no source's candidates do.
    return [*(c for c in input_columns() if c != "region"), *CANDIDATE_EXTRA_COLUMNS]


def says_what_it_holds(name: str, description: str | None) -> bool:
    text = " ".join((description or "").split()).rstrip(".").lower()
    trivial = {name.lower(), name.replace("_", " ").lower(), *KINDS}
    return bool(text) and text not in trivial and len(text.split()) >= 3


def _columns(spec: dg.AssetSpec) -> list[dg.TableColumn] | None:
    schema = spec.metadata.get("dagster/column_schema")
    if schema is None:
        return None
    return list(getattr(schema, "schema", schema).columns)


def test_the_identity_assets_are_in_scope(specs):
    """The scope below is not empty by accident: renamed keys would make the test pass vacuously."""
    keys = [key for key in specs if _in_scope(key)]
    assert "identity_map" in keys and CANDIDATES_MODEL in keys
    assert sum(k.startswith("raw/") for k in keys) >= 15
    assert sum(k.startswith("cleansed/") and k.endswith("_rejected") for k in keys) >= 15


def test_every_raw_cleansed_and_identity_column_has_a_description(specs):
    missing = []
    for key, spec in sorted(specs.items()):
        if not _in_scope(key):
            continue
        columns = _columns(spec)
        if columns is None:
            missing.append(f"{key}: (no dagster/column_schema declared)")
            continue
        missing.extend(
            f"{key}: {column.name}"
            for column in columns
            if not says_what_it_holds(column.name, column.description)
        )
    assert not missing, f"{len(missing)} column(s) without a description:\n" + "\n".join(missing)


def test_every_cleansed_field_says_what_it_holds_at_the_vendor():
    """A cleansed column's description is the field's own, then what the cleansing does (derived
    from its kind and rules): the latter alone, or with a name-like description, says nothing about
    what the vendor's value is."""
    missing = [
        f"{'/'.join(entity.asset_path)}: {field.name}"
        for entity in cleansed.ENTITIES
        for field in entity.fields
        if not says_what_it_holds(field.name, field.description)
    ]
    assert not missing, f"{len(missing)} field(s) without a description of their own:\n" + "\n".join(missing)


def test_the_candidates_model_documents_every_column_it_has(specs):
    """dbt lists only the columns the YAML names: every column identity resolution reads must be
    among them (an undocumented column would not be checked above at all)."""
    documented = {column.name for column in _columns(specs[CANDIDATES_MODEL]) or []}
    assert [c for c in _expected_candidate_columns() if c not in documented] == []


def test_every_source_s_identity_candidates_describe_their_columns():
    """A source's contribution to the candidates (``meta.cdp_contributes: identity_candidates``) has
    the candidates' shape: whichever of their columns it has, its materialization's schema (written
    from the warehouse, :mod:`cdp_platform.profile.table_metadata`) says what each holds."""
    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text())
    contributions = [
        unique_id
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
        and ((node.get("config") or {}).get("meta") or {}).get("cdp_contributes") == "identity_candidates"
    ]
    assert len(contributions) >= 7
    missing = [
        f"{manifest['nodes'][unique_id]['name']}: {name}"
        for unique_id in sorted(contributions)
        for name in _expected_candidate_columns()
        if not says_what_it_holds(name, column_descriptions(manifest, unique_id).get(name))
    ]
    assert not missing, f"{len(missing)} column(s) without a description:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("name", "description", "ok"),
    [
        ("email", "email", False),
        ("email", "", False),
        ("job_title", "Job title.", False),
        ("first_name", "First name", False),
        ("email", "The contact's email, lower-cased.", True),
    ],
)
def test_what_counts_as_a_description(name, description, ok):
    assert says_what_it_holds(name, description) is ok
