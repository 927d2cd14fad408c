"""The dbt profile built through Dagster on a crafted warehouse: every test passes, and the marts say
what the population (``warehouse.py``) and the documented rules imply."""

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster_dbt import DbtCliResource

from cdp_platform_tests.profile.conftest import BuiltProfile
from cdp_platform_tests.profile.warehouse import AS_OF, CLIENT_OF


def test_every_dbt_test_passes_as_an_asset_check(built: BuiltProfile):
    assert built.result.success
    evaluations = built.result.evaluations
    models = built.assets("profile_dbt_models")
    assert {e.asset_check_key for e in evaluations} == set(models.check_keys)
    failed = [e.asset_check_key.to_user_string() for e in evaluations if not e.passed]
    assert failed == []


def test_candidates_one_per_person_record(built: BuiltProfile):
    ids = {row[0] for row in built.query("select record_id from intermediate.int_identity_candidates")}
    # The deleted Salesforce contact is nobody's profile; each author, commenter and visitor once.
    assert ids == set(CLIENT_OF)
    ga1 = built.dicts(
        "select crm_id, first_seen_at, last_seen_at from intermediate.int_identity_candidates "
        "where record_id = 'google_analytics:visitors:GA1'"
    )[0]
    assert ga1["crm_id"] == "HS1"  # the latest login
    assert ga1["first_seen_at"] == dt.datetime(2024, 12, 31, tzinfo=dt.UTC)
    assert ga1["last_seen_at"] == dt.datetime(2025, 3, 31, tzinfo=dt.UTC)
    author = built.dicts(
        "select twitter_handle from intermediate.int_identity_candidates where record_id = 'twitter:authors:U1'"
    )[0]
    assert author["twitter_handle"] == "ada_l"  # the handle of the latest tweet


def test_staging_keeps_the_latest_version(built: BuiltProfile):
    rows = built.dicts(
        "select email, first_name from staging.stg_salesforce__contacts where record_id = 'SF1'"
    )
    assert rows == [{"email": "ada@sf.example", "first_name": "Ada"}]
    sessions = built.query(
        "select sessions from staging.stg_google_analytics__user_daily_activity where record_id = '20250331:GA1'"
    )
    assert sessions == [(1,)]


def test_client_360_one_row_per_client(built: BuiltProfile):
    rows = built.query("select client_id, count(*) from marts.client_360 group by all order by 1")
    assert rows == [(client, 1) for client in sorted(set(CLIENT_OF.values()))]


def test_survivorship_source_priority_then_blocks(built: BuiltProfile):
    ada = built.dicts("select * from marts.client_360 where client_id = 'C1'")[0]
    # Salesforce contact outranks the more recent HubSpot contact for email and name...
    assert (ada["email"], ada["email_source"]) == ("ada@sf.example", "salesforce/contacts")
    assert (ada["first_name"], ada["last_name"], ada["full_name"]) == ("Ada", "Lovelace", "Ada Lovelace")
    # ...but has no phone, so the next source's phone survives.
    assert (ada["phone"], ada["phone_source"]) == ("+442071234567", "hubspot/contacts")
    # The address is one record's block: Salesforce's city without HubSpot's street.
    assert (ada["street"], ada["city"], ada["address_source"]) == (None, "London", "salesforce/contacts")
    assert ada["emails"] == ["ada@fb.example", "ada@hs.example", "ada@sf.example"]
    assert ada["twitter_handles"] == ["ada_l"]
    assert ada["ga_client_ids"] == ["GA1"]
    assert ada["crm_ids"] == ["HS1", "SF1"]


def test_survivorship_recency_then_completeness(built: BuiltProfile):
    bob = built.dicts("select * from marts.client_360 where client_id = 'C2'")[0]
    # Same source: the more recent lead wins, even with the shorter name.
    assert (bob["email"], bob["full_name"], bob["first_name"]) == ("bob@new.example", "Bobby", None)
    cy = built.dicts("select * from marts.client_360 where client_id = 'C3'")[0]
    # Same source and instant: the fuller address wins. Its country was typed "United States" and
    # is its ISO 3166-1 alpha-2 code in every dbt output.
    assert (cy["city"], cy["postcode"], cy["country"]) == ("Cambridge", "02139", "US")


def test_crm_facts_and_consent(built: BuiltProfile):
    ada = built.dicts("select * from marts.client_360 where client_id = 'C1'")[0]
    # HubSpot (changed 2025-03-10) is more recent than Salesforce for the account.
    assert (ada["account_name"], ada["account_source"]) == ("Engines Ltd", "hubspot/contacts")
    assert ada["lifecycle_stage"] == "customer"
    assert ada["lead_source"] == "Web"
    # Salesforce says subscribed, HubSpot says opted out: the opt-out wins, with its origin.
    assert ada["email_opt_out"] is True
    assert ada["email_opt_out_source"] == "hubspot/contacts"
    assert ada["email_opt_out_at"] == dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
    bob = built.dicts("select lead_status, email_opt_out from marts.client_360 where client_id = 'C2'")[0]
    assert bob == {"lead_status": "Working", "email_opt_out": None}


def test_web_activity_windows(built: BuiltProfile):
    ada = built.dicts("select * from marts.client_360 where client_id = 'C1'")[0]
    assert ada["web_activity_as_of"] == AS_OF
    # Days: as_of (1 session), as_of-29 (2), as_of-30 (4), as_of-89 (8), as_of-90 (16).
    assert (ada["sessions_30d"], ada["sessions_90d"], ada["sessions_lifetime"]) == (3, 15, 31)
    assert (ada["page_views_30d"], ada["page_views_90d"], ada["page_views_lifetime"]) == (9, 45, 93)
    assert (ada["revenue_30d"], ada["revenue_lifetime"]) == (Decimal("3.00"), Decimal("31.00"))
    assert ada["conversions_90d"] == 4
    anonymous = built.dicts("select sessions_30d, purchases from marts.client_360 where client_id = 'C4'")[0]
    assert anonymous == {"sessions_30d": 5, "purchases": 0}
    # Only anonymous web cookies: kept, counted, and not (yet) a known person.
    identified = dict(built.query("select client_id, is_identified from marts.client_360"))
    assert identified["C4"] is False
    assert identified["C1"] is True and identified["C2"] is True
    none = built.dicts("select sessions_lifetime from marts.client_360 where client_id = 'C2'")[0]
    assert none == {"sessions_lifetime": 0}


def test_social_purchases_and_scores(built: BuiltProfile):
    ada = built.dicts("select * from marts.client_360 where client_id = 'C1'")[0]
    assert (
        ada["twitter_mentions"],
        ada["facebook_comments"],
        ada["instagram_comments"],
        ada["lead_forms"],
    ) == (2, 1, 1, 1)
    assert ada["average_sentiment"] == pytest.approx((0.8 - 0.2 + 0.0 + 0.6) / 4)
    # The lost opportunity is no purchase.
    assert (ada["purchases"], ada["purchases_total"]) == (2, Decimal("150.50"))
    assert ada["average_purchase_value"] == pytest.approx(75.25)
    assert ada["first_purchase_at"] == dt.datetime(2025, 2, 15, tzinfo=dt.UTC)
    assert ada["last_purchase_at"] == dt.datetime(2025, 3, 5, tzinfo=dt.UTC)
    assert (ada["churn_probability"], ada["clv_12m"]) == (0.1, 320.5)
    bob = built.dicts(
        "select churn_probability, average_sentiment from marts.client_360 where client_id = 'C2'"
    )[0]
    assert bob == {"churn_probability": None, "average_sentiment": None}


def test_client_purchases_contract(built: BuiltProfile):
    rows = built.dicts("select * from intermediate.int_client_purchases order by record_id")
    assert rows == [
        {
            "client_id": "C1",
            "purchased_at": dt.datetime(2025, 3, 5, tzinfo=dt.UTC),
            "amount": Decimal("50.50"),
            "source": "hubspot",
            "record_id": "hubspot:deals:D1",
            "person_record_id": "hubspot:contacts:HS1",
        },
        {
            "client_id": "C1",
            "purchased_at": dt.datetime(2025, 2, 15, tzinfo=dt.UTC),
            "amount": Decimal("100.00"),
            "source": "salesforce",
            "record_id": "salesforce:opportunities:OP1",
            "person_record_id": "salesforce:contacts:SF1",
        },
    ]


def test_client_identities_every_identifier(built: BuiltProfile):
    rows = set(
        built.query(
            "select client_id, identifier_type, identifier_value, source, record_id from marts.client_identities"
        )
    )
    assert (
        "C1",
        "ga_client_id",
        "GA1",
        "google_analytics/user_daily_activity",
        "google_analytics:visitors:GA1",
    ) in rows
    assert (
        "C1",
        "crm_id",
        "HS1",
        "google_analytics/user_daily_activity",
        "google_analytics:visitors:GA1",
    ) in rows
    assert ("C1", "email", "ada@hs.example", "hubspot/contacts", "hubspot:contacts:HS1") in rows
    assert (
        "C1",
        "instagram_username",
        "ada_ig",
        "instagram/media_comments",
        "instagram:commenters:ada_ig",
    ) in rows
    assert {r[4] for r in rows} <= set(CLIENT_OF)
    assert not any(r[2] is None for r in rows)


def test_timeline_partitions_add_only_their_window(built: BuiltProfile):
    timeline = built.assets("profile_dbt_timeline")
    target = built.defs.resources["dbt"].project_dir + "/target"

    def invocation_folders() -> set[str]:
        return {p.name for p in Path(target).iterdir() if p.is_dir()}

    def run(**kwargs) -> None:
        before = invocation_folders()
        result = dg.materialize([timeline], resources=built.resources(), **kwargs)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert evaluations and all(e.passed for e in evaluations)
        # dagster-dbt made a folder for the invocation; a successful one leaves nothing behind. The
        # folder is named after the step and the run: only this run's count, since under
        # pytest-xdist the other worker's dbt runs come and go in the same dbt/target meanwhile.
        made = f"{timeline.node_def.name}-{result.run_id[:7]}-"
        assert not {name for name in invocation_folders() - before if name.startswith(made)}

    run(partition_key="2025-03-20")
    first = built.query("select interaction_id, client_id, sentiment_label from marts.client_interactions")
    assert first == [("twitter:mentions:T1", "C1", "positive")]
    # A backfill is one run over its range; it re-runs 2025-03-20, which replaces, never doubles.
    run(tags={ASSET_PARTITION_RANGE_START_TAG: "2025-03-20", ASSET_PARTITION_RANGE_END_TAG: "2025-03-22"})
    rows = built.query("select interaction_id, occurred_at from marts.client_interactions order by 1")
    assert [r[0] for r in rows] == ["facebook:post_comments:FC1", "twitter:mentions:T1"]
    assert all(
        dt.datetime(2025, 3, 20, tzinfo=dt.UTC) <= r[1] < dt.datetime(2025, 3, 23, tzinfo=dt.UTC)
        for r in rows
    )


def test_reconciliation_test_finds_an_unresolved_record(
    built: BuiltProfile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The singular test is an asset check of client_360, and it is not vacuous: a copy of the
    warehouse whose identity_map lost a record fails it."""
    check = dg.AssetCheckKey(dg.AssetKey("client_360"), "assert_every_person_record_is_resolved")
    assert check in built.assets("profile_dbt_models").check_keys
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(built.path, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute("delete from identity.identity_map where record_id = 'twitter:authors:U1'")
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(copy))
    dbt: DbtCliResource = built.defs.resources["dbt"]
    invocation = dbt.cli(["test", "--select", "assert_every_person_record_is_resolved"], raise_on_error=False)
    invocation.wait()
    assert not invocation.is_successful()
    results = invocation.get_artifact("run_results.json")["results"]
    assert [(r["status"], r["failures"]) for r in results] == [("fail", 1)]


def test_docs_generate_catalogs_the_marts(built: BuiltProfile, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(built.path))
    dbt: DbtCliResource = built.defs.resources["dbt"]
    invocation = dbt.cli(["docs", "generate"]).wait()
    catalog = invocation.get_artifact("catalog.json")
    client_360 = catalog["nodes"]["model.cdp_platform.client_360"]
    assert {"client_id", "email_source", "sessions_90d", "clv_12m"} <= set(client_360["columns"])
    assert (invocation.target_path / "index.html").exists()
