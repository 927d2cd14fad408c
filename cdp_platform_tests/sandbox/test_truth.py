"""The ground truth: reproducible files that agree with what the APIs serve."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cdp_platform.sandbox.config import STREAMS, SandboxConfig
from cdp_platform.sandbox.purchases import PURCHASE_PARAMETERS
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sandbox.truth import TEXT_STREAMS, TRUTH_FILES, write_truth

CONFIG = SandboxConfig(persons=600, seed=21)
PERSONLESS = {"salesforce/accounts", "hubspot/companies", "facebook/page_posts", "instagram/media"}


@pytest.fixture(scope="module")
def truth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("truth")
    write_truth(CONFIG, out)
    return out


@pytest.fixture(scope="module")
def data() -> SandboxData:
    return SandboxData(CONFIG)


def _digests(directory: Path) -> dict[str, str]:
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in TRUTH_FILES}


def test_same_config_same_bytes_other_seed_other_bytes(truth_dir: Path, tmp_path: Path) -> None:
    write_truth(CONFIG, tmp_path / "again")
    write_truth(SandboxConfig(persons=600, seed=22), tmp_path / "other")
    assert _digests(truth_dir) == _digests(tmp_path / "again")
    other = _digests(tmp_path / "other")
    assert other["records.parquet"] != _digests(truth_dir)["records.parquet"]
    assert other["purchase_parameters.json"] == _digests(truth_dir)["purchase_parameters.json"]


def test_chunking_does_not_change_the_content(truth_dir: Path, tmp_path: Path) -> None:
    write_truth(CONFIG, tmp_path, chunk_rows=97)
    for name in ("records", "sentiment", "persons", "purchases", "customers"):
        assert_frame_equal(
            pl.read_parquet(tmp_path / f"{name}.parquet"), pl.read_parquet(truth_dir / f"{name}.parquet")
        )


def test_records_truth_lists_every_served_record(truth_dir: Path, data: SandboxData) -> None:
    records = pl.read_parquet(truth_dir / "records.parquet")
    assert records.schema == pl.Schema(
        {
            "source": pl.String,
            "stream": pl.String,
            "record_id": pl.String,
            "person_id": pl.String,
            "modified_at": pl.Datetime("ms", "UTC"),
        }
    )
    for stream in STREAMS:
        rows = records.filter(pl.col("stream") == stream)
        assert rows.height == data.count(stream)
        assert rows["record_id"].to_list() == data.record_ids(stream, data.all_positions(stream))
        assert rows["source"].unique().to_list() == [stream.split("/")[0]]
        nulls = rows["person_id"].null_count()
        assert nulls == (rows.height if stream in PERSONLESS else 0), stream
        position = rows.height // 2
        assert rows["modified_at"][position] == data.modified_at(stream, position)
    assert records["person_id"].drop_nulls().str.contains(r"^P\d{7}$").all()


def test_truth_links_the_identities_the_records_carry(truth_dir: Path, data: SandboxData) -> None:
    records = pl.read_parquet(truth_dir / "records.parquet")
    person_of = {(row["stream"], row["record_id"]): row["person_id"] for row in records.iter_rows(named=True)}
    # A logged-in GA row and the HubSpot contact it names belong to the same true person.
    stream = "google_analytics/user_daily_activity"
    checked = 0
    for position in data.all_positions(stream):
        row = data.record(stream, position)
        crm_id = row["dimensions"]["customUser:crm_contact_id"]
        if crm_id != "(not set)":
            assert (
                person_of[("hubspot/contacts", crm_id)]
                == person_of[(stream, data.record_id(stream, position))]
            )
            checked += 1
    assert checked > 20
    # A won opportunity's contact is the buyer.
    for position in list(data.all_positions("salesforce/opportunities"))[:100]:
        opportunity = data.record("salesforce/opportunities", position)
        if opportunity["ContactId"] is not None:
            assert (
                person_of[("salesforce/contacts", opportunity["ContactId"])]
                == person_of[("salesforce/opportunities", opportunity["Id"])]
            )


def test_purchases_truth_matches_the_served_won_deals(truth_dir: Path, data: SandboxData) -> None:
    purchases = pl.read_parquet(truth_dir / "purchases.parquet")
    records = pl.read_parquet(truth_dir / "records.parquet")
    assert purchases.height == data.purchases.person.size
    joined = purchases.join(records, on=["stream", "record_id"], how="left", suffix="_record")
    assert joined["person_id"].to_list() == joined["person_id_record"].to_list()
    by_id = {
        stream: dict(
            zip(data.record_ids(stream, data.all_positions(stream)), data.all_positions(stream), strict=True)
        )
        for stream in ("salesforce/opportunities", "hubspot/deals")
    }
    # The web shop's purchases are Stripe charges (checked in cdp_platform_tests/sandbox/test_vendor_stripe.py).
    for row in purchases.filter(pl.col("stream") != "stripe/charges").head(60).iter_rows(named=True):
        record = data.record(row["stream"], by_id[row["stream"]][row["record_id"]])
        if row["stream"] == "salesforce/opportunities":
            assert record["StageName"] == "Closed Won" and record["Amount"] == row["amount"]
        else:
            assert record["properties"]["dealstage"] == "closedwon"
            assert float(record["properties"]["amount"]) == row["amount"]
    customers = pl.read_parquet(truth_dir / "customers.parquet")
    assert customers.height == purchases.filter(~pl.col("repeat")).height
    assert set(customers["person_id"]) == set(purchases["person_id"])


def test_sentiment_truth_covers_every_text(truth_dir: Path, data: SandboxData) -> None:
    sentiment = pl.read_parquet(truth_dir / "sentiment.parquet")
    assert sentiment.height == sum(data.count(stream) for stream in TEXT_STREAMS)
    assert set(sentiment["sentiment"]) == {"positive", "negative", "neutral"}
    brand = sentiment.filter(pl.col("stream").is_in(["facebook/page_posts", "instagram/media"]))
    assert brand["person_id"].null_count() == brand.height


def test_parameters_persons_and_manifest(truth_dir: Path) -> None:
    parameters = json.loads((truth_dir / "purchase_parameters.json").read_text())
    assert parameters == PURCHASE_PARAMETERS.to_dict()
    persons = pl.read_parquet(truth_dir / "persons.parquet")
    assert persons.height == CONFIG.persons
    assert persons["household_of"].drop_nulls().len() > 5 and persons["namesake"].sum() > 5
    manifest = json.loads((truth_dir / "manifest.json").read_text())
    assert manifest["config"] == {"persons": 600, "seed": 21, "today": "2026-11-26", "span_days": 730}
    assert set(manifest["streams"]) == set(STREAMS)
    assert sorted(manifest["files"]) == sorted(TRUTH_FILES)


def test_a_tiny_sandbox_still_writes_every_file_with_its_schema(tmp_path: Path, truth_dir: Path) -> None:
    write_truth(SandboxConfig(persons=1, span_days=1, seed=3), tmp_path)
    for name in TRUTH_FILES:
        assert (tmp_path / name).exists(), name
    for name in ("records", "sentiment", "persons", "purchases", "customers"):
        tiny, full = (
            pl.read_parquet(tmp_path / f"{name}.parquet"),
            pl.read_parquet(truth_dir / f"{name}.parquet"),
        )
        assert tiny.schema == full.schema, name
