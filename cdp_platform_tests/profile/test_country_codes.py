"""ISO 3166-1 alpha-2 countries in every dbt output (issue 20: client_360 showed "United States"
beside "US"): the committed seeds are current, staging maps names, alpha-3 codes and aliases to
alpha-2, an unknown spelling stays visible, and the tests that guard it fail when they should.

The dbt runs use a copy of the crafted warehouse the profile tests build (``built``), with
countries written into its cleansed tables as people type them.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from cdp_platform_tests.profile.conftest import BuiltProfile

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "dbt" / "seeds"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_country_seeds", ROOT / "scripts" / "generate_country_seeds.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_committed_seeds_are_what_the_generator_makes():
    """Stale seeds (a library update, an alias added to the cleansed layer) fail here with the fix."""
    assert _generator().main(["--check"]) == 0, "run scripts/generate_country_seeds.py"


def test_the_seeds_hold_iso_codes_and_read_what_people_type():
    countries = _seed("iso_3166_countries.csv")
    assert len(countries) == 249
    assert {"alpha2": "NA", "alpha3": "NAM", "name": "Namibia"} in countries  # "NA" is a country
    assert not {"EU", "UN", "XK", "ZZ"} & {c["alpha2"] for c in countries}
    spellings = {row["spelling"]: row["country_code"] for row in _seed("country_spellings.csv")}
    for typed, code in [
        ("united states", "US"), ("usa", "US"), ("us", "US"), ("usa", "US"), ("deu", "DE"),
        ("deutschland", "DE"), ("germany", "DE"), ("allemagne", "DE"), ("gbr", "GB"),
        ("united kingdom", "GB"), ("england", "GB"), ("u.k.", "GB"), ("na", "NA"),
    ]:  # fmt: skip
        assert spellings[typed] == code, typed
    assert set(spellings.values()) == {c["alpha2"] for c in countries}  # the ISO test reads codes here
    assert all(s == s.strip().lower() for s in spellings)


def test_the_seeds_agree_with_the_cleansed_layer():
    """Wherever the cleansed layer's country_code has an ISO answer, dbt gives the same one."""
    import polars as pl

    from cdp_platform.cleansed.normalize import _country_names, country_code

    iso = {c["alpha2"] for c in _seed("iso_3166_countries.csv")}
    spellings = {row["spelling"]: row["country_code"] for row in _seed("country_spellings.csv")}
    typed = sorted(_country_names())
    cleansed = pl.DataFrame({"typed": typed}).select(country_code("typed"))["typed"].to_list()
    disagree = [
        (t, c, spellings.get(t))
        for t, c in zip(typed, cleansed, strict=True)
        if c in iso and spellings.get(t) != c
    ]
    assert not disagree


def _dbt_on_copy(built: BuiltProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: list[str]):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.path, copy)
    with duckdb.connect(str(copy)) as connection:
        for statement in sql:
            connection.execute(statement)
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(copy))
    dbt: DbtCliResource = built.defs.resources["dbt"]
    invocation = dbt.cli(["build", "--select", "+int_countries_unmapped"], raise_on_error=False).wait()
    results = {
        r["unique_id"].split(".")[2]: r for r in invocation.get_artifact("run_results.json")["results"]
    }
    return copy, results


def test_staging_maps_typed_countries_and_keeps_unknown_ones_visible(
    built: BuiltProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    copy, results = _dbt_on_copy(
        built,
        tmp_path,
        monkeypatch,
        [
            "update cleansed_salesforce.contacts set country = ' usa ' where record_id = 'SF9'",
            "update cleansed_salesforce.leads set country = 'DEU'",
            "update cleansed_hubspot.contacts set country = 'Deutschland'",
            "update cleansed_facebook.leads set country = 'Atlantis' where country is null",
        ],
    )
    with duckdb.connect(str(copy), read_only=True) as connection:
        contacts = connection.execute(
            "select record_id, country, country_original from staging.stg_salesforce__contacts order by 1"
        ).fetchall()
        assert contacts == [("SF1", "GB", "United Kingdom"), ("SF9", "US", " usa ")]
        assert {
            r[0] for r in connection.execute("select country from staging.stg_salesforce__leads").fetchall()
        } == {"DE"}
        assert connection.execute("select country from staging.stg_hubspot__contacts").fetchall() == [("DE",)]
        unmapped = connection.execute("select * from intermediate.int_countries_unmapped").fetchall()
        assert unmapped == [("stg_facebook__leads", "Atlantis", 2)]
    # The warning counts the unknown spelling; the ISO tests pass (an unknown spelling is null).
    warning = results["is_empty_int_countries_unmapped_"]
    assert (warning["status"], warning["failures"]) == ("warn", 1)
    iso = {name: r["status"] for name, r in results.items() if name.startswith("iso_country_code_")}
    assert iso and set(iso.values()) == {"pass"}


def test_the_iso_test_fails_on_a_value_that_is_not_a_code(
    built: BuiltProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Not vacuous: a country_code the cleansed layer let through that ISO 3166-1 does not assign
    (Kosovo's user-assigned XK) fails the test on its column, naming the value."""
    _, results = _dbt_on_copy(
        built, tmp_path, monkeypatch, ["update cleansed_salesforce.contacts set country_code = 'XK'"]
    )
    failing = {name: r["failures"] for name, r in results.items() if r["status"] == "fail"}
    assert failing == {"iso_country_code_stg_salesforce__contacts_country_code": 1}


def test_country_tests_are_asset_checks(built: BuiltProfile):
    checks = built.assets("profile_dbt_models").check_keys
    for asset, name in [
        ("client_360", "iso_country_code_client_360_country"),
        ("int_identity_candidates", "iso_country_code_int_identity_candidates_country"),
        ("stg_hubspot__contacts", "iso_country_code_stg_hubspot__contacts_country"),
        ("int_countries_unmapped", "is_empty_int_countries_unmapped_"),
    ]:
        assert dg.AssetCheckKey(dg.AssetKey(asset), name) in checks, name
