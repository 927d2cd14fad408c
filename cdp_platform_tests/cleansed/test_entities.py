"""The fourteen cleansed entities on real sandbox records: typed output, quarantine of every
malformation the sandbox injects, drift named per field, the accounting invariant, blocking ids."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import phonenumbers
import polars as pl
import pytest

from cdp_platform import cleansed
from cdp_platform.cleansed import cleansed_assets, entity
from cdp_platform.cleansed.checks import drift_check, schema_check
from cdp_platform.cleansed.columns import E164_PATTERN
from cdp_platform.cleansed.entity import cleanse
from cdp_platform.cleansed.normalize import EMAIL_PATTERN
from cdp_platform.settings import load_settings
from cdp_platform_tests.cleansed.malformations import MALFORMED_VARIANTS, corrupt, drift
from cdp_platform_tests.cleansed.raw_rows import (
    PARTITION,
    STREAMS,
    raw_frame,
    raw_of,
    records,
    sandbox,
    shaped,
)

# The entities as the local default completes them: the sandbox's CRM accounts map their handle
# fields (kept here, whatever settings a later module loads).
load_settings({})
SPECS = {f"{e.source}/{e.raw_stream}": e for e in cleansed.ENTITIES}
ROWS = 60


def _cleansed(stream: str, rows: int = ROWS):
    return cleanse(raw_of(stream, rows), SPECS[stream], PARTITION, "US")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00")).astimezone(UTC)


# How the sandbox spells its four countries (names, codes, aliases).
COUNTRIES = {
    "United States": "US",
    "US": "US",
    "USA": "US",
    "United Kingdom": "GB",
    "GB": "GB",
    "UK": "GB",
    "Germany": "DE",
    "DE": "DE",
    "Deutschland": "DE",
    "France": "FR",
    "FR": "FR",
}


def _e164(text: str | None, country: str | None = None) -> str | None:
    """Read in the record's country first, then in the default region (US)."""
    if text is None:
        return None
    for region in (COUNTRIES.get(country or ""), "US"):
        if region is None:
            continue
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _email(text: str | None) -> str | None:
    return text.strip().lower() if text else None


def _handle(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip().lower().removeprefix("https://twitter.com/").removeprefix("@")
    return text


def test_registry_covers_every_sandbox_stream_once():
    # Stripe's streams are served by its own emulator module, not from the sandbox's STREAMS.
    stripe = ["stripe/customers", "stripe/charges", "stripe/refunds"]
    assert sorted(SPECS) == sorted([*STREAMS, *stripe])
    assert len({(e.source, e.entity) for e in SPECS.values()}) == 17
    assert entity("hubspot", "contacts").raw_path == ["raw", "hubspot", "contacts"]
    with pytest.raises(KeyError, match="no cleansed entity"):
        entity("hubspot", "tickets")


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_clean_records_pass_every_rule_and_check(stream):
    spec = SPECS[stream]
    result = _cleansed(stream)
    assert result.rejected.is_empty(), result.rejected.head(3)
    assert result.clean.height == result.raw_rows > 0
    spec.schema.validate(result.clean, lazy=True)
    assert drift_check(
        asset_key=dg.AssetKey(spec.asset_path),
        payloads=result.accepted_payloads,
        expected=spec.expected_payload,
    ).passed
    schema = result.clean.schema
    assert schema["record_id"] == pl.String and schema["partition_date"] == pl.Date
    for column, dtype in schema.items():
        if column.endswith("_at") or column == "system_modstamp":
            assert dtype == pl.Datetime("us", "UTC"), column
    if "phone" in schema:
        phones = result.clean["phone"].drop_nulls()
        assert phones.len() > 0 and phones.str.contains(E164_PATTERN).all()
    if "email" in schema:
        emails = result.clean["email"].drop_nulls()
        assert emails.len() > 0 and emails.str.contains(EMAIL_PATTERN).all()


def _row(stream: str, position: int = 0) -> tuple[dict, dict | None, dict]:
    record = records(stream, position + 1)[position]
    payload, context = shaped(stream, record)
    clean = cleanse(raw_frame(stream, [(payload, context)]), SPECS[stream], PARTITION, "US").clean
    assert clean.height == 1
    return payload, context, clean.row(0, named=True)


def test_salesforce_contact_values():
    record, _, row = _row("salesforce/contacts", 1)
    assert row["crm_id"] == record["Id"] and row["account_id"] == record["AccountId"]
    assert row["account_name"] == record["Account"]["Name"]
    assert (row["first_name"], row["last_name"]) == (record["FirstName"], record["LastName"])
    assert row["email"] == _email(record["Email"]) and row["email_original"] == record["Email"]
    assert row["phone"] == _e164(record["Phone"], record["MailingCountry"])
    assert row["phone_original"] == record["Phone"]
    assert row["country_code"] == COUNTRIES.get(record["MailingCountry"])
    assert row["date_of_birth"] == (date.fromisoformat(record["Birthdate"]) if record["Birthdate"] else None)
    assert row["created_at"] == _utc(record["CreatedDate"])
    assert row["email_opt_out"] is record["HasOptedOutOfEmail"]
    assert row["instagram_username"] == (record["Instagram_Username__c"] or None)


def test_salesforce_accounts_leads_opportunities_values():
    account, _, row = _row("salesforce/accounts")
    assert (row["account_id"], row["account_name"]) == (account["Id"], account["Name"])
    assert row["employees"] == account["NumberOfEmployees"]
    assert row["phone"] == _e164(account["Phone"], account["BillingCountry"])
    lead, _, row = _row("salesforce/leads")
    assert row["company"] == (None if lead["Company"] == "[not provided]" else lead["Company"])
    assert row["twitter_handle"] == _handle(lead["Twitter_Handle__c"])
    assert row["full_name"] == f"{lead['FirstName']} {lead['LastName']}"
    deal, _, row = _row("salesforce/opportunities")
    assert row["amount"] == Decimal(str(deal["Amount"])).quantize(Decimal("0.01"))
    assert row["close_date"] == date.fromisoformat(deal["CloseDate"])
    assert (row["is_won"], row["stage"], row["account_name"]) == (
        deal["IsWon"],
        deal["StageName"],
        deal["Account"]["Name"],
    )


def test_hubspot_values_are_typed_from_strings():
    contact, context, row = _row("hubspot/contacts", 1)
    props = contact["properties"]
    assert row["crm_id"] == contact["id"] and row["email"] == _email(props["email"])
    assert row["phone"] == _e164(props["phone"], props["country"])
    assert row["full_name"] == " ".join(p for p in (props["firstname"], props["lastname"]) if p)
    assert row["lifecycle_stage"] == props["lifecyclestage"]
    assert row["company_id"] == context["associations"]["companies"][0]
    assert row["last_modified_at"] == _utc(contact["updatedAt"])
    company, _, row = _row("hubspot/companies")
    assert row["employees"] == int(company["properties"]["numberofemployees"])
    deal, context, row = _row("hubspot/deals")
    assert row["contact_id"] == context["associations"]["contacts"][0]
    assert row["amount"] == Decimal(deal["properties"]["amount"])
    assert row["is_won"] is (deal["properties"]["hs_is_closed_won"] == "true")
    assert row["close_date"] == _utc(deal["properties"]["closedate"]).date()


@pytest.mark.parametrize("stream", ["salesforce/contacts", "salesforce/leads", "hubspot/contacts"])
def test_national_numbers_are_read_in_the_records_own_country(stream):
    result = _cleansed(stream, 400)
    clean = result.clean.filter(
        pl.col("country_code").is_in(["DE", "GB", "FR"]) & pl.col("phone").is_not_null()
    )
    national = clean.filter(pl.col("phone_original").str.starts_with("0"))
    assert national.height > 0
    for row in national.iter_rows(named=True):
        assert row["phone"] == _e164(row["phone_original"], row["country"])
        code = phonenumbers.country_code_for_region(row["country_code"])
        assert row["phone"].startswith(f"+{code}"), row
    # With the country known, every number the sandbox's people type is readable; without it, a
    # national number of another country than the default region is not (it stays null, with the
    # original kept).
    with_country = result.clean.filter(
        pl.col("phone_original").is_not_null() & pl.col("country_code").is_not_null()
    )
    assert with_country.height > 0 and with_country["phone"].null_count() == 0


def test_hubspot_handles_come_out_bare():
    clean = _cleansed("hubspot/contacts", 400).clean
    originals = [
        json.loads(p)["properties"]["twitterhandle"] for p in raw_of("hubspot/contacts", 400)["payload"]
    ]
    assert any(o and o.startswith("https://") for o in originals) and any(
        o and o.startswith("@") for o in originals
    )
    handles = clean["twitter_handle"].drop_nulls()
    assert handles.len() > 0 and not handles.str.contains("[@/:A-Z]").any()


def test_google_analytics_values():
    payload, _, row = _row("google_analytics/user_daily_activity")
    dims, metrics = payload["dimensions"], payload["metrics"]
    assert row["activity_date"] == datetime.strptime(dims["date"], "%Y%m%d").date()
    assert row["ga_client_id"] == dims["customUser:ga_client_id"]
    assert row["crm_id"] == (
        None if dims["customUser:crm_contact_id"] == "(not set)" else dims["customUser:crm_contact_id"]
    )
    assert (row["sessions"], row["engaged_sessions"], row["page_views"], row["conversions"]) == tuple(
        int(metrics[m]) for m in ("sessions", "engagedSessions", "screenPageViews", "conversions")
    )
    assert row["revenue"] == Decimal(metrics["purchaseRevenue"]).quantize(Decimal("0.01"))
    logged_in = _cleansed("google_analytics/user_daily_activity", 300).clean["crm_id"].drop_nulls()
    assert logged_in.len() > 0 and not logged_in.str.contains("not set").any()


def test_facebook_lead_answers_are_pivoted_to_person_columns():
    payload, _, row = _row("facebook/leads")
    answers = {item["name"]: item["values"][0] for item in payload["field_data"]}
    assert row["email"] == _email(answers["email"])
    assert row["full_name"] == answers["full_name"]
    assert row["first_name"] == answers["full_name"].split(" ")[0]
    assert row["last_name"] == answers["full_name"].split(" ")[-1]
    assert row["phone"] == _e164(answers.get("phone_number"))
    assert row["city"] == answers["city"]
    assert row["created_at"] == _utc(payload["created_time"])


def test_social_values_and_context_fields():
    comment, context, row = _row("facebook/post_comments")
    assert "post_id" not in comment and row["post_id"] == context["post_id"]
    assert (row["facebook_id"], row["full_name"], row["text"]) == (
        comment["from"]["id"],
        comment["from"]["name"],
        comment["message"],
    )
    comment, context, row = _row("instagram/media_comments")
    assert row["media_id"] == context["media_id"] and row["instagram_username"] == comment["username"]
    tweet, context, row = _row("twitter/mentions")
    assert row["twitter_handle"] == context["author"]["username"].lower()
    assert row["full_name"] == context["author"]["name"] and row["author_id"] == tweet["author_id"]
    assert row["impression_count"] == tweet["public_metrics"]["impression_count"]
    assert row["created_at"] == _utc(tweet["created_at"])
    media, _, row = _row("instagram/media")
    assert (row["like_count"], row["media_type"], row["text"]) == (
        media["like_count"],
        media["media_type"],
        media["caption"],
    )
    post, _, row = _row("facebook/page_posts")
    assert (row["post_id"], row["text"]) == (post["id"], post["message"])


def test_a_tweet_whose_author_was_not_returned_keeps_null_author_columns():
    tweet = records("twitter/mentions", 1)[0]
    clean = cleanse(
        raw_frame("twitter/mentions", [(tweet, None)]), SPECS["twitter/mentions"], PARTITION
    ).clean
    assert clean.height == 1 and clean["twitter_handle"][0] is None and clean["full_name"][0] is None


# Where each sandbox malformation must land: (rule, field), per vendor; None = not applicable.
ID_FIELD = {
    "salesforce": "crm_id",
    "hubspot": "crm_id",
    "google_analytics": "activity_date",  # GA4 blanks the first dimension of the row
    "facebook/leads": "lead_id",
    "facebook/page_posts": "post_id",
    "facebook/post_comments": "comment_id",
    "instagram/media": "media_id",
    "instagram/media_comments": "comment_id",
    "twitter": "tweet_id",
}
TIME_FIELD = {
    "salesforce": "system_modstamp",
    "hubspot": "last_modified_at",
    "google_analytics": "activity_date",
    "facebook": "created_at",
    "instagram": "created_at",
    "twitter": "created_at",
}
WRONG_TYPE_FIELD = {**TIME_FIELD, "hubspot": "crm_id", "google_analytics": "sessions", "twitter": "tweet_id"}


def _expected(stream: str, variant: str) -> tuple[str, str]:
    vendor = stream.split("/")[0]
    if variant == "missing_id":
        return "missing_required", ID_FIELD.get(stream, ID_FIELD.get(vendor))
    if variant == "bad_email":
        return "invalid_email", "email"
    if variant == "other_date_format":
        return "unparseable_timestamp", TIME_FIELD[vendor]
    return "wrong_type", WRONG_TYPE_FIELD[vendor]


def _json_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# The sandbox tries the next variant when one does not apply to a stream (no email to break), so
# every applicable (stream, variant) pair is one a client can receive.
APPLICABLE = [
    (stream, variant)
    for stream in sorted(STREAMS)
    for variant in MALFORMED_VARIANTS
    if corrupt(stream, records(stream, 2)[1], variant) is not None
]
DRIFTING = [stream for stream in sorted(STREAMS) if drift(stream, records(stream, 1)[0]) is not None]


def test_every_stream_gets_some_malformation_and_most_drift():
    assert {stream for stream, _ in APPLICABLE} == set(STREAMS)
    assert {variant for _, variant in APPLICABLE} == set(MALFORMED_VARIANTS)
    # Salesforce contacts and leads have no number field for the sandbox to serve as a string.
    assert set(STREAMS) - set(DRIFTING) == {"salesforce/contacts", "salesforce/leads"}


@pytest.mark.parametrize(("stream", "variant"), APPLICABLE)
def test_every_sandbox_malformation_is_quarantined_with_its_rule(stream, variant):
    originals = records(stream, 4)
    damaged = corrupt(stream, originals[1], variant)
    rows = [shaped(stream, r) for r in (originals[0], damaged, *originals[2:])]
    result = cleanse(raw_frame(stream, rows), SPECS[stream], PARTITION, "US")
    assert result.clean.height == 3 and result.rejected.height == 1
    rejected = result.rejected.row(0, named=True)
    assert (rejected["rule"], rejected["field"]) == _expected(stream, variant)
    assert rejected["payload"] == raw_frame(stream, [rows[1]])["payload"][0]
    differing = [
        _json_text(new) for key, new in _flat(damaged).items() if _flat(originals[1]).get(key) != new
    ]
    if variant != "missing_id":
        assert rejected["value"] in differing, (rejected, differing)


def _flat(record: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                out.update(
                    _flat(item, f"{prefix}{key}.{i}.")
                    if isinstance(item, dict)
                    else {f"{prefix}{key}.{i}": item}
                )
        else:
            out[f"{prefix}{key}"] = value
    return out


def _changed_paths(before: dict, after: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            paths += _changed_paths(old, value, f"{prefix}{key}.")
        elif type(value) is not type(old):
            paths.append(f"{prefix}{key}")
    return paths


@pytest.mark.parametrize("stream", DRIFTING)
def test_drifted_pages_fail_the_drift_check_naming_the_field(stream):
    originals = records(stream, 5)
    drifted = [drift(stream, r) for r in originals]
    result = cleanse(raw_frame(stream, [shaped(stream, r) for r in drifted]), SPECS[stream], PARTITION, "US")
    assert result.raw_rows == result.clean.height + result.rejected.height + result.collapsed
    check = drift_check(
        asset_key=dg.AssetKey(SPECS[stream].asset_path),
        payloads=result.accepted_payloads,
        expected=SPECS[stream].expected_payload,
    )
    assert not check.passed
    for path in _changed_paths(originals[0], drifted[0]):
        assert f"changed type of {path}" in check.description, check.description


def test_a_single_wrong_type_does_not_crash_and_objects_are_quarantined():
    contact = records("hubspot/contacts", 1)[0]
    weird = [
        {**contact, "id": {"nested": 1}},
        {**contact, "id": [1, 2]},
        {**contact, "id": True},
        {**contact, "id": None},
        {**contact, "updatedAt": 1764097729603},
    ]
    result = cleanse(
        raw_frame("hubspot/contacts", [(w, None) for w in weird]), SPECS["hubspot/contacts"], PARTITION
    )
    rules = [(r["rule"], r["field"]) for r in result.rejected.sort("payload").iter_rows(named=True)]
    assert sorted(rules) == sorted(
        [
            ("wrong_type", "crm_id"),
            ("wrong_type", "crm_id"),
            ("wrong_type", "crm_id"),
            ("missing_required", "crm_id"),
            ("wrong_type", "last_modified_at"),
        ]
    )


def test_nested_keys_with_the_same_name_do_not_trigger_the_type_rule():
    # The list endpoint's inline associations hold ids too; one sent as a number is not the record's id.
    contact = records("hubspot/contacts", 1)[0]
    nested = {
        **contact,
        "associations": {"companies": {"results": [{"id": 123, "type": "contact_to_company"}]}},
    }
    result = cleanse(raw_frame("hubspot/contacts", [(nested, None)]), SPECS["hubspot/contacts"], PARTITION)
    assert result.rejected.is_empty() and result.clean["crm_id"][0] == contact["id"]


def test_invariant_holds_over_a_mixed_partition():
    stream = "hubspot/contacts"
    originals = records(stream, 10)
    older = {**originals[0], "updatedAt": "2020-01-01T00:00:00.000Z"}
    rows = [
        *originals,
        older,
        corrupt(stream, originals[2], "bad_email"),
        corrupt(stream, originals[3], "wrong_type"),
        corrupt(stream, originals[4], "other_date_format"),
    ]
    result = cleanse(raw_frame(stream, [(r, None) for r in rows]), SPECS[stream], PARTITION)
    assert result.raw_rows == 14
    assert (result.clean.height, result.rejected.height, result.collapsed) == (10, 3, 1)
    newest = result.clean.filter(pl.col("record_id") == originals[0]["id"])
    assert newest["last_modified_at"][0] == _utc(originals[0]["updatedAt"])


def test_identifier_check_blocks_on_duplicated_or_null_ids_with_samples():
    spec = SPECS["salesforce/contacts"]
    clean = _cleansed("salesforce/contacts", 20).clean
    first = clean["record_id"][0]
    broken = clean.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(first))
        .otherwise(pl.col("record_id"))
        .alias("record_id"),
        pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("crm_id")).alias("crm_id"),
    )
    result = schema_check(
        broken,
        spec.schema,
        spec.key_columns,
        check_name="identifiers_schema",
        asset_key=dg.AssetKey(spec.asset_path),
        severity=dg.AssetCheckSeverity.ERROR,
        partition_column="partition_date",
    )
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "field_uniqueness" in result.metadata["failures_by_check"].value
    assert "not_nullable" in result.metadata["failures_by_check"].value
    assert first in result.metadata["sample_failing_rows"].value


def test_an_id_changed_on_two_days_is_unique_within_each_partition():
    spec = SPECS["hubspot/deals"]
    one_day = _cleansed("hubspot/deals", 5).clean
    two_days = pl.concat([one_day, one_day.with_columns(pl.lit(date(2026, 11, 21)).alias("partition_date"))])
    result = schema_check(
        two_days,
        spec.schema,
        spec.key_columns,
        check_name="identifiers_schema",
        asset_key=dg.AssetKey(spec.asset_path),
        severity=dg.AssetCheckSeverity.ERROR,
        partition_column="partition_date",
    )
    assert result.passed, result.metadata


def test_cleansed_assets_build_one_multi_asset_per_entity():
    assets = cleansed_assets(dg.DailyPartitionsDefinition(start_date="2026-11-01"), "US")
    assert len(assets) == 17  # the six sandbox vendors' 14 and Stripe's 3
    keys = {key.to_user_string() for a in assets for key in a.keys}
    assert "cleansed/google_analytics/user_daily_activity" in keys
    assert "cleansed/twitter/mentions_rejected" in keys
    [contacts] = [a for a in assets if dg.AssetKey(["cleansed", "hubspot", "contacts"]) in a.keys]
    columns = contacts.specs_by_key[dg.AssetKey(["cleansed", "hubspot", "contacts"])].metadata[
        "dagster/column_schema"
    ]
    types = {c.name: c.type for c in columns.columns}
    assert types["email_original"] == "String" and types["created_at"].startswith("Datetime")
    assert types["date_of_birth"] == "Date" and "partition_date" in types
    assert sandbox().count("twitter/mentions") > 0


def test_a_failing_values_check_names_records_and_checks_never_values():
    """The event log outlives an erasure, so a failed check says which record failed which check,
    not the email or phone that failed it."""
    spec = SPECS["salesforce/contacts"]
    clean = _cleansed("salesforce/contacts", 20).clean
    bad_email, bad_phone = "jane..doe1982@@example", "0044 20 7946 0958 ext"
    broken = clean.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(bad_email)).otherwise(pl.col("email")).alias("email"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit(bad_phone)).otherwise(pl.col("phone")).alias("phone"),
    )
    result = schema_check(
        broken,
        spec.schema,
        [c for c in spec.schema.columns if c not in spec.key_columns],
        check_name="values_schema",
        asset_key=dg.AssetKey(spec.asset_path),
        severity=dg.AssetCheckSeverity.WARN,
        partition_column="partition_date",
    )
    assert not result.passed and result.metadata["failures"].value == 2
    sample = result.metadata["sample_failing_rows"].value
    assert clean["record_id"][3] in sample and clean["record_id"][5] in sample
    assert "email" in sample and "phone" in sample
    everything = " ".join(str(value.value) for value in result.metadata.values()) + (result.description or "")
    assert bad_email not in everything and bad_phone not in everything
    for column in ("email", "phone", "first_name", "last_name"):
        for value in clean[column].drop_nulls().to_list():
            assert value not in everything, column
