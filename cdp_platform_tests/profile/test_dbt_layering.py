"""One home per source in the dbt project: a source is its folder under ``dbt/models/staging/``.

The intermediate models stack what the sources declare they contribute (``meta.cdp_contributes``)
through the generated macro ``contributors``; nothing outside the sources' folders names a source,
except the generated macros. These tests read files only (no dbt run), so they fail fast and say
which file breaks the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cdp_platform.cleansed import ENTITIES
from cdp_platform.cleansed.dbt_contributions import (
    IDENTIFIERS_MACRO_PATH,
    MACRO_PATH,
    UNIONS,
    ContributionError,
    declared_contributors,
    identifiers_macro_text,
    macro_text,
)
from cdp_platform.sources.profiles import profile_identifiers

DBT = Path(__file__).resolve().parents[2] / "dbt"
STAGING = DBT / "models" / "staging"
# Written by cdp_platform.cleansed.record_keys / dbt_contributions from the declarations: they
# name every source by design, and a test keeps each equal to what its generator writes.
GENERATED = {"macros/contributors.sql", "macros/profile_identifiers.sql", "macros/record_key_prefix.sql"}
# Reference data about countries, not sources (ISO 3166 codes and their spellings).
REFERENCE = {"seeds/country_spellings.csv", "seeds/iso_3166_countries.csv"}


def source_names() -> list[str]:
    names = sorted({entity.source for entity in ENTITIES})
    assert len(names) >= 7, (
        f"the cleansed entities name only {names}: the registry is not what these tests expect"
    )
    return names


def test_the_contributors_macro_is_what_the_declarations_generate():
    assert MACRO_PATH.read_text(encoding="utf-8") == macro_text(), (
        "dbt/macros/contributors.sql is stale: run `python -m cdp_platform.cleansed.record_keys`"
    )


def test_the_identifier_columns_macro_is_what_the_sources_declare():
    """dbt's network identifier columns are Python's (the identity input's), in the same order."""
    text = IDENTIFIERS_MACRO_PATH.read_text(encoding="utf-8")
    assert text == identifiers_macro_text(), (
        "dbt/macros/profile_identifiers.sql is stale: run `python -m cdp_platform.cleansed.record_keys`"
    )
    columns = [identifier.column for identifier in profile_identifiers()]
    assert columns, "no source declares a profile identifier: the generated list would be empty"
    assert all(f'"{column}"' in text for column in columns)


def test_every_union_has_contributors_and_every_source_gives_identity_candidates():
    contributors = declared_contributors()
    assert set(contributors) == set(UNIONS)
    assert all(contributors[union] for union in UNIONS), contributors
    # Every source with people in it is resolved: each one's folder declares its candidates.
    assert sorted(contributors["identity_candidates"]) == [
        f"stg_{source}__identity_candidates" for source in source_names()
    ]


def test_contributions_live_in_their_sources_folder_and_are_views():
    """A contribution is part of its source's home: in ``staging/<source>/``, named for it, and a
    view: an asset Dagster materializes and draws between the source and the union (as an ephemeral
    model it was an asset of the profile's jobs that no run ever materialized)."""
    misplaced = []
    for path in sorted((DBT / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            config = model.get("config") or {}
            if "cdp_contributes" not in (config.get("meta") or {}):
                continue
            folder = path.parent.relative_to(STAGING).as_posix() if path.is_relative_to(STAGING) else None
            if folder is None or "/" in folder or not model["name"].startswith(f"stg_{folder}__"):
                misplaced.append(
                    (path.relative_to(DBT).as_posix(), model["name"], "not in its source's folder")
                )
            if config.get("materialized") != "view":
                misplaced.append((path.relative_to(DBT).as_posix(), model["name"], "not a view"))
            if not (path.parent / f"{model['name']}.sql").is_file():
                misplaced.append((path.relative_to(DBT).as_posix(), model["name"], "no .sql beside its YAML"))
    assert misplaced == []


def test_each_source_folder_holds_only_its_own_files():
    folders = sorted(p.name for p in STAGING.iterdir() if p.is_dir())
    assert folders == source_names()
    strangers = [
        path.relative_to(STAGING).as_posix()
        for folder in folders
        for path in (STAGING / folder).iterdir()
        if not (path.name.startswith(f"stg_{folder}__") or path.name.startswith(f"_{folder}__"))
    ]
    assert strangers == []
    # Nothing staged outside a source's folder.
    assert sorted(p.name for p in STAGING.iterdir() if p.is_file()) == []


def test_no_dbt_file_outside_the_sources_folders_names_a_source():
    """Adding a source is adding its folder: the intermediate and mart models, their YAML, the
    macros and the tests do not name one (the generated macros and the country seeds aside)."""
    pattern = re.compile("|".join(re.escape(name) for name in source_names()), re.IGNORECASE)
    offending = []
    for path in sorted(DBT.rglob("*")):
        relative = path.relative_to(DBT).as_posix()
        if (
            not path.is_file()
            or path.is_relative_to(STAGING)
            or relative.split("/")[0] in {"target", "logs", "dbt_packages"}
            or relative in GENERATED | REFERENCE
        ):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offending.append(f"{relative}:{number}: {line.strip()}")
    assert offending == []


def test_a_contribution_to_an_unknown_union_is_refused_with_its_file(tmp_path):
    folder = tmp_path / "staging" / "acme"
    folder.mkdir(parents=True)
    (folder / "_acme__contributions.yml").write_text(
        "version: 2\nmodels:\n  - name: stg_acme__people\n    config:\n"
        "      meta:\n        cdp_contributes: identity_candidate\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ContributionError, match=r"_acme__contributions\.yml.*stg_acme__people.*identity_candidate"
    ):
        declared_contributors(tmp_path)


def test_a_contribution_that_is_not_a_name_is_refused(tmp_path):
    (tmp_path / "x.yml").write_text(
        "version: 2\nmodels:\n  - name: stg_acme__people\n    config:\n"
        "      meta:\n        cdp_contributes: {identity_candidates: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(ContributionError, match="must be a union name or a list"):
        declared_contributors(tmp_path)


def test_declarations_are_read_from_any_source_folder(tmp_path):
    """A new source's folder is picked up without an edit anywhere else (sorted by model name)."""
    for source in ("zeta", "acme"):
        folder = tmp_path / "staging" / source
        folder.mkdir(parents=True)
        (folder / f"_{source}__contributions.yml").write_text(
            f"version: 2\nmodels:\n  - name: stg_{source}__interactions\n    config:\n"
            "      materialized: ephemeral\n      meta:\n        cdp_contributes: [interactions]\n",
            encoding="utf-8",
        )
    assert declared_contributors(tmp_path) == {
        "identity_candidates": [],
        "interactions": ["stg_acme__interactions", "stg_zeta__interactions"],
        "crm_records": [],
        "web_activity": [],
    }
