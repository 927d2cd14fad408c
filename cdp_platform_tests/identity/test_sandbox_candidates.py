"""The sandbox's vendor records mapped to the identity columns, with their true persons."""

from __future__ import annotations

import polars as pl

from cdp_platform.sandbox.identity_candidates import IDENTITY_COLUMNS, SandboxCandidates


def _stream(candidates: SandboxCandidates, stream: str) -> pl.DataFrame:
    return candidates.records.filter(pl.col("source") == stream)


def test_columns_and_one_truth_row_per_record(small_candidates: SandboxCandidates) -> None:
    assert small_candidates.records.columns == list(IDENTITY_COLUMNS)
    assert small_candidates.truth["record_id"].to_list() == small_candidates.records["record_id"].to_list()
    assert small_candidates.truth["person_id"].null_count() == 0


def test_crm_records_carry_their_own_id_and_contact_fields(small_candidates: SandboxCandidates) -> None:
    for stream in ("salesforce/contacts", "salesforce/leads", "hubspot/contacts"):
        rows = _stream(small_candidates, stream)
        assert rows.height > 0
        assert (rows["crm_id"] == rows["record_id"]).all()
        assert rows["first_name"].null_count() == 0
        assert rows["email"].null_count() == 0


def test_logged_in_ga_rows_point_at_hubspot_contacts(small_candidates: SandboxCandidates) -> None:
    ga = _stream(small_candidates, "google_analytics/user_daily_activity")
    assert ga.height > 0
    assert ga["crm_id"].null_count() == 0
    hubspot_ids = _stream(small_candidates, "hubspot/contacts")["record_id"]
    assert ga["crm_id"].is_in(hubspot_ids.implode()).all()
    assert ga["ga_client_id"].null_count() == 0


def test_social_authors_carry_a_profile_id_and_leads_their_form_fields(
    small_candidates: SandboxCandidates,
) -> None:
    comments = _stream(small_candidates, "facebook/post_comments")
    assert comments["facebook_id"].null_count() == 0 and comments["full_name"].null_count() == 0
    assert _stream(small_candidates, "instagram/media_comments")["instagram_username"].null_count() == 0
    mentions = _stream(small_candidates, "twitter/mentions")
    assert mentions["twitter_handle"].null_count() == 0 and mentions["full_name"].null_count() == 0
    leads = _stream(small_candidates, "facebook/leads")
    assert leads["full_name"].null_count() == 0 and leads["email"].null_count() == 0
    assert leads["first_name"].null_count() == leads.height  # only the full name is sent


def test_vendor_noise_reaches_the_resolver_unnormalized(small_candidates: SandboxCandidates) -> None:
    handles = small_candidates.records["twitter_handle"].drop_nulls()
    assert handles.str.starts_with("@").any() or handles.str.starts_with("https://").any()
    phones = small_candidates.records["phone"].drop_nulls()
    assert not phones.str.starts_with("+").all()
