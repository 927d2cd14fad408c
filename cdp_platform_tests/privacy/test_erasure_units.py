"""Erasure's parts on their own: keyed hashing and its key, the S3 lake (versioned bucket), the
suppression hook, the CLI's answers to bad input, the production key requirement, and the batch's
own parts: a failing request, the compaction of a DuckDB file, the scrub of dbt's and Dagster's files."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import duckdb
import polars as pl
import pytest

from cdp_platform import cli
from cdp_platform.io.lake import LocalLake, S3Lake
from cdp_platform.privacy import audit, erasure
from cdp_platform.privacy.artifacts import LINE_LOG_SUFFIXES, ArtifactFolder, scrub_folders
from cdp_platform.privacy.compaction import compact
from cdp_platform.privacy.erasure import WarehouseBusyError, run_batch
from cdp_platform.privacy.hashing import (
    KEY_FILE,
    PrivacyKeyError,
    identifier_hash,
    keyed_hash,
    privacy_key,
)
from cdp_platform.privacy.suppression import SUPPRESSION_PREFIX, Suppressor
from cdp_platform.settings import SettingsError, check_settings, load_settings
from cdp_platform.sources.stream import RAW_SCHEMA

KEY = b"k" * 32


def test_one_identifier_spelled_many_ways_has_one_hash():
    assert identifier_hash("email", " Ann.Lee+news@GoogleMail.com ", KEY) == identifier_hash(
        "email", "annlee@gmail.com", KEY
    )
    assert identifier_hash("email", "Ann.Lee@example.com", KEY) != identifier_hash(
        "email", "annlee@example.com", KEY
    )
    assert identifier_hash("phone", "(415) 555-2671", KEY) == identifier_hash("phone", "+1 415 555 2671", KEY)
    assert identifier_hash("phone", "(415) 555-2671", KEY) is not None
    # Kinds never collide, keys give other hashes, and nothing readable is left.
    assert identifier_hash("client_id", "123", KEY) != identifier_hash("record_id", "123", KEY)
    assert keyed_hash("x", KEY) != keyed_hash("x", b"j" * 32)
    assert len(keyed_hash("x", KEY)) == 64
    assert identifier_hash("phone", "not a phone", KEY) is None


def test_the_local_key_is_created_once_and_a_short_configured_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)
    lake = LocalLake(tmp_path / "lake")
    first = privacy_key(lake)
    assert privacy_key(lake) == first and len(first) == 64
    assert (tmp_path / "lake" / KEY_FILE).stat().st_mode & 0o077 == 0  # nobody else may read it
    with pytest.raises(PrivacyKeyError, match="CDP_PRIVACY_HMAC_KEY is not set: production"):
        privacy_key(lake, production=True)
    monkeypatch.setenv("CDP_PRIVACY_HMAC_KEY", "short-secret")
    with pytest.raises(PrivacyKeyError, match="too short") as refused:
        privacy_key(lake)
    assert "short-secret" not in str(refused.value)
    monkeypatch.setenv("CDP_PRIVACY_HMAC_KEY", "s" * 40)
    assert privacy_key(lake, production=True) == b"s" * 40


def test_production_does_not_start_without_the_key(tmp_path):
    local = load_settings(
        {"CDP_LAKE_ROOT": str(tmp_path / "lake"), "CDP_WAREHOUSE_PATH": str(tmp_path / "w.duckdb")}
    )
    with pytest.raises(SettingsError, match="CDP_PRIVACY_HMAC_KEY is not set"):
        check_settings(dataclasses.replace(local, env="production"))
    check_settings(dataclasses.replace(local, env="production", privacy_hmac_key_set=True))


# --- the lake on S3, with bucket versioning on ----------------------------------------------------


def _contact(record_id: str, email: str, phone: str) -> dict:
    return {
        "id": record_id,
        "properties": {
            "email": email,
            "firstname": "Ann",
            "lastname": "Lee",
            "phone": phone,
            "country": "US",
        },
        "updatedAt": "2026-11-25T10:00:00Z",
    }


def _raw(records: list[dict]) -> pl.DataFrame:
    now = datetime.datetime(2026, 11, 25, 12, tzinfo=datetime.UTC)
    return pl.DataFrame(
        {
            "record_id": [r["id"] for r in records],
            "updated_at": [now] * len(records),
            "payload": [json.dumps(r) for r in records],
            "context": [None] * len(records),
            "partition_date": [now.date()] * len(records),
            "slice": ["all"] * len(records),
            "page": [1] * len(records),
            "request": ["POST /crm/v3/objects/contacts/search"] * len(records),
            "fetched_at": [now] * len(records),
        },
        schema=RAW_SCHEMA,
    )


def _put(lake: S3Lake, key: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    lake.write_bytes(key, buffer.getvalue())


def _versions(client, bucket: str, key: str) -> int:
    listed = client.list_object_versions(Bucket=bucket, Prefix=key)
    return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))


def test_erasure_rewrites_an_s3_lake_and_leaves_no_old_version(s3_endpoint, s3_bucket, tmp_path, monkeypatch):
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    lake = S3Lake(s3_bucket, "cdp", endpoint_url=s3_endpoint)
    ann = _contact("101", "Ann.Lee@Example.com", "(415) 555-2671")
    bob = _contact("102", "bob@example.com", "(415) 555-9999")
    partition = "raw/hubspot/contacts/2026-11-25.parquet"
    spool = "_checkpoints/raw/hubspot/contacts/2026-11-26/pages/all/p-000001.parquet"
    letters = "dead_letter/hubspot/contacts/2026-11-25.jsonl"
    _put(lake, partition, _raw([ann, bob]))
    _put(lake, spool, _raw([ann]))
    no_id = {k: v for k, v in ann.items() if k != "id"}
    lake.write_bytes(
        letters, (json.dumps({"error": "record has no id", "body": json.dumps(no_id)}) + "\n").encode()
    )

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        filed = audit.file_request(connection, "email", "ann.lee@example.com ")
    (outcome,) = run_batch([filed], lake=lake, warehouse=warehouse, key=privacy_key(lake)).outcomes
    with duckdb.connect(str(warehouse)) as connection:
        request = connection.execute(
            "select identifier_value, status from privacy.erasure_requests"
        ).fetchone()
    assert outcome.status == "done"
    assert outcome.removed_by_layer() == {"raw": 1, "checkpoint": 1, "dead_letter": 1}
    assert request == (None, "done")

    def rows(key: str) -> list[str]:
        return pl.read_parquet(io.BytesIO(lake.read_bytes(key)))["record_id"].to_list()

    assert rows(partition) == ["102"] and rows(spool) == []
    assert not lake.exists(letters)
    prefix = "cdp/"
    assert _versions(client, s3_bucket, prefix + partition) == 1  # the rewritten file, nothing older
    assert _versions(client, s3_bucket, prefix + letters) == 0
    assert lake.exists(KEY_FILE) and any(lake.list_keys(SUPPRESSION_PREFIX))

    # The suppression list, read back from the bucket, keeps Ann out of the next pages (even with
    # her email spelled differently), and only her.
    suppressor = Suppressor.load(lake)
    assert suppressor is not None
    again = _raw([_contact("103", " ANN.LEE@example.com", "+1 650 555 0000"), bob])
    assert suppressor.filter_rows("hubspot", "contacts", again)["record_id"].to_list() == ["102"]
    assert suppressor.count("hubspot", "contacts") == 1
    letter = {"body": json.dumps(_contact("", "ann.lee@example.com", ""))}
    assert suppressor.filter_letters("hubspot", "contacts", [letter, {"body": "<html>"}]) == [
        {"body": "<html>"}
    ]

    # Another key would match none of the hashes: ingestion stops rather than let Ann back in,
    # and a lost key file is not silently replaced by a new one.
    monkeypatch.setenv("CDP_PRIVACY_HMAC_KEY", "another-key-" + "x" * 30)
    with pytest.raises(PrivacyKeyError, match="written with another key"):
        Suppressor.load(lake)
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY")
    lake.delete(KEY_FILE)
    with pytest.raises(PrivacyKeyError, match="restore the key file"):
        Suppressor.load(lake)


# --- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def installation(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CDP_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)
    monkeypatch.delenv("CDP_ENV", raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["erase", "--email", "ann.lee-at-example.com"], "the email given cannot be read"),
        (["erase", "--phone", "12"], "the phone given cannot be read"),
        (["erase", "--email", "a@example.com", "--phone", "+14155552671"], "not allowed with argument"),
        (["erase"], "one of the arguments --email --phone --client-id --pending is required"),
        (["erase", "--pending", "--queue"], "--pending processes the table's requests"),
    ],
)
def test_bad_input_is_refused_without_repeating_it(installation, capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err
    assert not [value for value in argv[1:] if not value.startswith("--") and value in err]


def test_queued_requests_wait_for_the_job_and_an_unknown_client_is_reported(installation, capsys):
    assert (
        cli.main(["erase", "--email", "Nobody@Example.com", "--queue", "--request-id", "r-1"])
        == cli.EXIT_DONE
    )
    assert json.loads(capsys.readouterr().out) == {"request_id": "r-1", "status": "pending"}
    with duckdb.connect(str(installation / "warehouse.duckdb")) as connection:
        assert connection.execute(
            "select status, identifier_value from privacy.erasure_requests"
        ).fetchall() == [("pending", "Nobody@Example.com")]
    with pytest.raises(SystemExit):  # the id is taken
        cli.main(["erase", "--email", "other@example.com", "--request-id", "r-1"])
    capsys.readouterr()

    assert cli.main(["erase", "--pending"]) == cli.EXIT_DONE
    summary = json.loads(capsys.readouterr().out)
    # Nobody was found, but the address is suppressed all the same, as a hash.
    assert (
        summary["status"] == "done" and summary["rows_removed"] == 0 and summary["suppression_entries"] == 1
    )

    assert cli.main(["erase", "--client-id", "c_does_not_exist"]) == cli.EXIT_NOT_FOUND
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "not_found"
    with duckdb.connect(str(installation / "warehouse.duckdb")) as connection:
        stored = connection.execute(
            "select request_id, identifier_value, status from privacy.erasure_requests order by requested_at"
        ).fetchall()
        audit_text = json.dumps(
            connection.execute("select * from privacy.erasure_audit").fetchall(), default=str
        )
    assert stored[0] == ("r-1", None, "done")
    assert {s for _, _, s in stored} == {"done", "not_found"} and all(v is None for _, v, _ in stored)
    assert "nobody" not in audit_text.lower() and "c_does_not_exist" not in audit_text


# --- batches, compaction, artifacts -------------------------------------------------------------


def test_a_request_that_fails_stays_pending_with_its_reason_and_the_batch_goes_on(tmp_path, monkeypatch):
    lake = LocalLake(tmp_path / "lake")
    partition = "raw/hubspot/contacts/2026-11-25.parquet"
    lake.write_bytes(
        partition,
        _parquet(_raw([_contact("101", "ann@example.com", ""), _contact("102", "bob@example.com", "")])),
    )
    # A killed run's checkpoint whose saved cursor spells Ann (a next link carrying her address).
    checkpoint = "_checkpoints/raw/hubspot/contacts/2026-11-26"
    lake.write_bytes(f"{checkpoint}/all/state.json", b'{"next": "/contacts?after=ann@example.com"}')
    lake.write_bytes(
        f"{checkpoint}/pages/all/p-000001.parquet", _parquet(_raw([_contact("103", "c@example.com", "")]))
    )
    real_resolve = erasure.resolve

    def resolve(kind, seed, contacts, connection):
        if seed == "bob@example.com":
            raise RuntimeError(f"the identity map could not be read for {seed}")
        return real_resolve(kind, seed, contacts, connection)

    monkeypatch.setattr(erasure, "resolve", resolve)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        filed = [
            audit.file_request(connection, "email", "Ann@Example.com", request_id="ann"),
            audit.file_request(connection, "email", "bob@example.com", request_id="bob"),
            audit.file_request(connection, "phone", "12", request_id="bad"),
        ]
    batch = run_batch(filed, lake=lake, warehouse=warehouse, key=KEY)

    assert {o.request_id: o.status for o in batch.outcomes} == {"ann": "done", "bad": "invalid"}
    assert set(batch.failed) == {"bob"} and "RuntimeError" in batch.failed["bob"]
    assert "bob@example.com" not in batch.failed["bob"]
    assert pl.read_parquet(lake.root / partition)["record_id"].to_list() == ["102"]
    assert not list(lake.list_keys(checkpoint))  # the partition starts over at its next run
    assert not lake.exists(f"{SUPPRESSION_PREFIX}/bob.parquet") and lake.exists(
        f"{SUPPRESSION_PREFIX}/ann.parquet"
    )
    with duckdb.connect(str(warehouse)) as connection:
        requests = dict(
            (r[0], r[1:])
            for r in connection.execute(
                "select request_id, status, identifier_value, error from privacy.erasure_requests"
            ).fetchall()
        )
        (batch_row,) = connection.execute(
            "select batch_id, requests, done, invalid, failed, files_rewritten, seconds_by_phase "
            "from privacy.erasure_batches"
        ).fetchall()
        audited = connection.execute(
            "select request_id, batch_id from privacy.erasure_audit order by 1"
        ).fetchall()
    assert requests["ann"][:2] == ("done", None)
    assert requests["bad"][0] == "invalid" and "cannot be read" in requests["bad"][2]
    # Kept for the next run, with its value (the retry needs it) and why it failed.
    assert requests["bob"] == ("pending", "bob@example.com", batch.failed["bob"])
    assert batch_row[:6] == (batch.batch_id, 3, 1, 1, 1, 2)  # the partition and the checkpoint
    assert {"resolve", "lake", "warehouse", "compact"} <= set(json.loads(batch_row[6]))
    assert audited == [("ann", batch.batch_id), ("bad", batch.batch_id)]


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def test_compaction_leaves_no_deleted_byte_and_keeps_the_database_at_its_path(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    secret = b"erased.person.4711@example.com"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema marts")
        connection.execute("create table marts.people (email varchar, n integer)")
        connection.execute(
            "insert into marts.people select 'kept.' || i || '@example.com', i from range(50) t(i)"
        )
        connection.execute("insert into marts.people values (?, 99)", [secret.decode()])
        connection.execute("create view marts.kept as select * from marts.people where n < 10")
        connection.execute("create sequence marts.ids start 7")
        connection.execute("checkpoint")
        connection.execute("delete from marts.people where n = 99")
        connection.execute("checkpoint")
    # What the issue saw: deleted, checkpointed, and still in the file.
    assert secret in path.read_bytes()

    connection = duckdb.connect(str(path))
    before, after = compact(connection, path)
    assert secret not in path.read_bytes() and before > 0 and after > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]  # no temporary left
    with duckdb.connect(str(path)) as connection:
        assert connection.execute("select count(*) from marts.people").fetchone() == (50,)
        assert connection.execute("select count(*) from marts.kept").fetchone() == (10,)
        assert connection.execute("select nextval('marts.ids')").fetchone() == (7,)


def test_a_batch_waits_while_another_process_holds_the_warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        filed = audit.file_request(connection, "email", "ann@example.com")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError, match="open in another process"):
            run_batch([filed], lake=LocalLake(tmp_path / "lake"), warehouse=path, key=KEY)
    finally:
        holder.kill()
        holder.wait()
    with duckdb.connect(str(path)) as connection:
        assert connection.execute("select status from privacy.erasure_requests").fetchone() == ("pending",)


def test_artifacts_lose_the_lines_and_files_that_spell_an_erased_identifier(tmp_path):
    target, home = tmp_path / "dbt" / "target", tmp_path / "dagster_home" / "storage"
    (target / "3c55653").mkdir(parents=True)
    (home / "run-1" / "compute_logs").mkdir(parents=True)
    (target / "3c55653" / "run_results.json").write_text('{"message": "Ann.Lee@Example.com failed"}')
    (target / "manifest.json").write_text('{"nodes": {"client_360": {}}}')
    log = tmp_path / "dbt" / "logs" / "dbt.log"
    log.parent.mkdir()
    log.write_text("started\nrow ann.lee@example.com\nid 0031500000\nid 00315000\n")
    compute = home / "run-1" / "compute_logs" / "step.err"
    compute.write_text("ok\nsaw ANN.LEE@EXAMPLE.COM\n")
    database = home / "run-1.db"  # a Dagster event log: never deleted for a match
    database.write_bytes(b"SQLite format 3\x00 ann.lee@example.com")

    removed = scrub_folders(
        [
            ArtifactFolder(target),
            ArtifactFolder(log.parent),
            ArtifactFolder(home, LINE_LOG_SUFFIXES),
        ],
        {"ann.lee@example.com", "00315000"},
    )
    assert not (target / "3c55653" / "run_results.json").exists()
    assert (target / "manifest.json").exists()
    assert log.read_text() == "started\nid 0031500000\n"  # the longer id is someone else's
    assert compute.read_text() == "ok\n"
    assert database.exists()
    assert sorted(rows for _, _, rows in removed) == [1, 1, 2]  # a file, a compute log line, two log lines
