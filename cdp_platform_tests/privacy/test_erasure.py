"""Erasure end to end, on the real pipeline over a small sandbox, until no byte of anyone is left.

The suite's shared build (``sandbox_marts``: raw, cleansed, dbt, identity_map, sentiment, the marts
and the pseudonymized marts, with its Dagster event log on disk) is copied, so this test builds
nothing itself. Three true persons of the sandbox's ground truth, each with records in several
sources and resolved to a client of their own, get what a clean run never leaves: a quarantined
row (a record of theirs made unreadable and cleansed again by the real asset), a checkpoint spool
page and dead letters. That is done, and searched, once per module (the fixture ``planted``); each
lake variant (a folder; moto's S3 server on loopback, versioned) erases on its own copy. Two are then erased in one batch of the Dagster job (by email, as the person
typed it, and by client_id, beside an unreadable request that must not stop the batch), the third
by phone through the ``cdp`` CLI (``cli.main``), written the way the vendor had it.

Then every row of every lake file and warehouse table is searched (no person left, and exactly the
rows that held them gone), and every byte of every file the platform owns: the lake (on S3: every
version of every object), the warehouse and pseudonymized files, dbt's ``target/`` and ``logs/``
and DAGSTER_HOME, raw and decoded (:mod:`cdp_platform_tests.privacy.traces`), for each person's
emails (any case), phones (E.164 and as received), name, handles, street and record ids. Before the
erasure, DAGSTER_HOME must already hold none of them: an event log cannot be scrubbed, so nothing
may write an identifier there. Re-ingesting the same partitions must not bring anyone back.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform import cli
from cdp_platform.definitions import build_definitions
from cdp_platform.io.lake import LocalLake
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.io.warehouse import WarehouseTarget, connect_warehouse
from cdp_platform.privacy import audit
from cdp_platform.privacy.assets import ERASURE_JOB_NAME
from cdp_platform.privacy.hashing import identifier_hash, normalize, privacy_key
from cdp_platform.privacy.identifiers import PersonStream, identify, person_stream, person_streams
from cdp_platform.profile.project import DBT_PROJECT_DIR
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.truth import write_truth
from cdp_platform.settings import load_settings
from cdp_platform_tests.privacy import traces
from cdp_platform_tests.privacy.sandbox_marts import (
    DAGSTER_HOME,
    PERSONS,
    SPAN_DAYS,
    SandboxMarts,
    build_days,
    build_environ,
    sandbox_marts,  # noqa: F401
)
from cdp_platform_tests.sources.support import SANDBOX_TODAY

CONTACT_STREAMS = ("salesforce/contacts", "hubspot/contacts", "salesforce/leads", "facebook/leads")
UNREADABLE = "not-a-date"


@dataclass
class Person:
    person_id: str
    client_id: str
    rows: pl.DataFrame  # the raw rows that are theirs: stream, file, record_id, payload, tokens
    tokens: set[str] = field(default_factory=set)
    names: tuple[str, str] | None = None
    email: str | None = None
    phone: str | None = None
    hashes: set[str] = field(default_factory=set)  # keyed hashes, as the pseudonymized marts hold them
    streets: set[str] = field(default_factory=set)

    def needles(self) -> frozenset[str]:
        """What the byte search looks for: ids, emails, phones (E.164 and as received), handles,
        their keys and client id, the full name and the street. (Not the keyed hashes: the audit
        log keeps those on purpose.)"""
        words = {t for t in self.tokens | self.streets if len(t) >= 6}
        if self.names is not None:
            words.add(" ".join(self.names))
        return frozenset(words)

    def pattern(self, hashed: bool = False) -> re.Pattern:
        # Shorter tokens (none here) could occur by chance inside unrelated text.
        words = sorted((t.lower() for t in (self.hashes if hashed else self.tokens) if len(t) >= 6), key=len)
        return re.compile(r"(?<![0-9a-z])(?:" + "|".join(map(re.escape, reversed(words))) + r")(?![0-9a-z])")

    def name_match(self, text: str) -> bool:
        if self.names is None:
            return False
        return all(re.search(rf"(?<![a-z]){re.escape(n)}(?![a-z])", text) for n in self.names)


# --- the pipeline ------------------------------------------------------------------------------


def _jobs(defs: dg.Definitions, entities: list[PersonStream]) -> dg.Definitions:
    """Raw for re-ingestion, and the cleansed asset of each entity a row is quarantined in."""
    graph = defs.resolve_asset_graph()
    raw = [k for k in graph.get_all_asset_keys() if k.path[0] == "raw" and graph.get(k).is_materializable]
    jobs = [dg.define_asset_job("test_raw", selection=raw)]
    for stream in {_cleanse_job(s): s for s in entities}.values():
        entity = stream.entity
        keys = [dg.AssetKey(entity.asset_path), dg.AssetKey(entity.rejected_path)]
        jobs.append(dg.define_asset_job(_cleanse_job(stream), selection=dg.AssetSelection.assets(*keys)))
    return dg.Definitions.merge(defs, dg.Definitions(jobs=jobs))


def _cleanse_job(stream: PersonStream) -> str:
    return f"test_cleanse_{stream.source}_{stream.stream}"


# --- who is who ---------------------------------------------------------------------------------


def _landed(lake_root: Path, truth: pl.DataFrame) -> pl.DataFrame:
    """Every landed raw row of a stream that holds personal data, with its true person."""
    frames = []
    for stream in person_streams():
        for path in sorted((lake_root / stream.raw_prefix).glob("*.parquet")):
            raw = pl.read_parquet(path)
            ids = identify(raw, stream)
            frames.append(
                pl.concat([raw.select("record_id", "payload"), ids], how="horizontal").with_columns(
                    pl.lit(f"{stream.source}/{stream.stream}").alias("stream"),
                    pl.lit(str(path.relative_to(lake_root))).alias("file"),
                )
            )
    rows = pl.concat(frames)
    ga = rows["record_id"].str.split(":")
    rows = rows.with_columns(
        pl.when(pl.col("stream") == "google_analytics/user_daily_activity")
        .then(ga.list.get(0, null_on_oob=True) + ":" + ga.list.get(1, null_on_oob=True))
        .otherwise(pl.col("record_id"))
        .alias("truth_id")
    )
    truth = truth.select("stream", pl.col("record_id").alias("truth_id"), "person_id").unique(
        ["stream", "truth_id"]
    )
    return rows.join(truth, on=["stream", "truth_id"], how="left")


def _choose(
    landed: pl.DataFrame, identity: pl.DataFrame, cleansed_names: dict[str, tuple[str, str]]
) -> list[Person]:
    """True persons with records in several streams whose client holds exactly their records."""
    client_of = dict(identity.select("record_id", "client_id").iter_rows())
    members: dict[str, set[str]] = {}
    for record, client in client_of.items():
        members.setdefault(client, set()).add(record)
    chosen = []
    ranked = (
        landed.filter(pl.col("person_id").is_not_null())
        .group_by("person_id")
        .agg(pl.col("stream").n_unique().alias("streams"), pl.len().alias("records"))
        .filter(pl.col("streams") >= 3)
        .sort(["streams", "records", "person_id"], descending=[True, True, False])
    )
    for person_id in ranked["person_id"]:
        rows = landed.filter(pl.col("person_id") == person_id)
        keys = set(rows["person_keys"].explode().drop_nulls().to_list())
        clients = {client_of[k] for k in keys if k in client_of}
        if len(clients) != 1:
            continue
        client = clients.pop()
        # Everything the erasure will remove is theirs: the client's records, and the rows
        # those records own (a logged-in GA row of another visitor would not be).
        if not members[client] <= keys:
            continue
        owned = landed.filter(
            pl.col("person_keys").list.eval(pl.element().is_in(sorted(members[client]))).list.any()
        )
        if set(owned["person_id"].to_list()) != {person_id} or owned.height != rows.height:
            continue
        person = Person(person_id, client, rows)
        # Their identifying values; one that someone else's record also carries (a household's
        # phone) is not theirs alone, and stays with the other person's records.
        others = set(
            landed.filter(pl.col("person_id").ne_missing(person_id))["tokens"]
            .explode()
            .drop_nulls()
            .to_list()
        )
        person.tokens = (set(rows["tokens"].explode().drop_nulls().to_list()) - others) | keys | {client}
        contact = rows.filter(pl.col("stream").is_in(CONTACT_STREAMS))
        person.email = next((e for e in contact["email"].to_list() if e), None)
        # The phone as the vendor wrote it (national, with separators), to erase by: one the
        # operator can type without a country code, i.e. national in the default region (a
        # national number of another country is refused by `cdp erase`, as it should be).
        written = [
            t
            for t in contact["tokens"].explode().drop_nulls().to_list()
            if _national_phone(t) and normalize("phone", t, "US") is not None
        ]
        person.phone = written[0] if written else None
        # A shared email or phone would erase someone else too (correctly): not for this test.
        for column, value in (("email", person.email), ("phone", contact["phone"].drop_nulls().head(1))):
            if isinstance(value, pl.Series):
                value = value[0] if value.len() else None
            if value is not None and set(landed.filter(pl.col(column) == value)["person_id"].to_list()) != {
                person_id
            }:
                person.email, person.phone = (
                    (None, person.phone) if column == "email" else (person.email, None)
                )
        person.names = next((cleansed_names[k] for k in keys if k in cleansed_names), None)
        if person.email is None or person.names is None:
            continue
        chosen.append(person)
        # Three, one of whom has a phone an operator can type (the phone request needs one).
        phoned = [p for p in chosen if p.phone is not None]
        if len(chosen) >= 3 and phoned:
            third = phoned[0]
            return [*[p for p in chosen if p is not third][:2], third]
    return chosen


def _national_phone(text: str) -> bool:
    return bool(re.fullmatch(r"[()\d\s.-]{10,}", text) and re.search(r"[()\s.-]", text))


def _names(warehouse: Path) -> dict[str, tuple[str, str]]:
    """Person key → (first, last) from the candidates, for the name search."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select record_id, lower(first_name), lower(last_name) from intermediate.int_identity_candidates "
            "where first_name is not null and last_name is not null"
        ).fetchall()
    return {record: (first, last) for record, first, last in rows}


# --- residues a clean run does not leave ----------------------------------------------------------


def _plant(lake: LocalLake, person: Person, others: pl.DataFrame) -> None:
    """A spool page (a killed run's leftovers) and dead letters holding ``person``, each beside a
    record of someone else from the same partition, which must survive."""
    contacts = person.rows.filter(pl.col("stream").is_in(CONTACT_STREAMS))
    row = next(r for r in contacts.iter_rows(named=True) if others["file"].is_in([r["file"]]).any())
    source, stream = row["stream"].split("/")
    partition = Path(row["file"]).stem
    raw = pl.read_parquet(lake.root / row["file"])
    other_id = others.filter(pl.col("file") == row["file"])["record_id"][0]
    neighbour = raw.filter(pl.col("record_id") == other_id)
    page = pl.concat([raw.filter(pl.col("record_id") == row["record_id"]), neighbour])
    spool = f"_checkpoints/raw/{source}/{stream}/{partition}/pages/planted-{person.person_id}"
    (lake.root / spool).mkdir(parents=True, exist_ok=True)
    page.write_parquet(lake.root / spool / "p-000001.parquet")

    record = json.loads(row["payload"])
    for id_field in ("Id", "id"):
        record.pop(id_field, None)
    letters = [
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "record has no id",
            "body": json.dumps(record),
        },
        # A response cut mid-body: not JSON, but it still spells the person's email.
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "invalid JSON",
            "body": row["payload"][:-7],
        },
        {
            "stream": row["stream"],
            "partition": partition,
            "error": "record has no id",
            "body": neighbour["payload"][0],
        },
    ]
    text = "".join(json.dumps(letter) + "\n" for letter in letters)
    (lake.root / "dead_letter" / source / stream).mkdir(parents=True, exist_ok=True)
    with (lake.root / "dead_letter" / source / stream / f"{partition}.jsonl").open("a") as letters_file:
        letters_file.write(text)
    (lake.root / spool / "p-000001.jsonl").write_text(text)


# --- searching every layer ----------------------------------------------------------------------


def _lake_rows(root: Path) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = "lake:" + str(path.relative_to(root))
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            rows[key] = [
                "|".join("" if v is None else str(v) for v in values).lower() for values in frame.iter_rows()
            ]
        else:
            rows[key] = [line.lower() for line in path.read_text().splitlines() if line.strip()]
    return rows


def _warehouse_rows(path: Path | WarehouseTarget, prefix: str = "warehouse") -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    if isinstance(path, Path) and not path.exists():
        return rows
    with _open(path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            values = con.execute(f'select t::varchar from "{schema}"."{table}" as t').fetchall()
            rows[f"{prefix}:{schema}.{table}"] = [v[0].lower() for v in values]
    return rows


@dataclass
class Scan:
    rows: dict[str, int]
    matched: dict[str, dict[str, int]]  # location → person id → rows holding their values
    named: dict[str, dict[str, int]]  # location → person id → rows holding first and last name


def _open(warehouse: Path | WarehouseTarget, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse file, or the DuckLake (the platform's own way in)."""
    if isinstance(warehouse, WarehouseTarget):
        return connect_warehouse(warehouse, read_only=read_only)
    return duckdb.connect(str(warehouse), read_only=read_only)


def _to_ducklake(warehouse: Path, target: WarehouseTarget) -> None:
    """The shared build's warehouse tables copied into a DuckLake, the file then removed: the
    DuckLake variant erases from the same data without building it again. (The dbt views are not
    copied: they name the file's catalog; the erasure deletes from tables.)"""
    with connect_warehouse(target) as lake:
        lake.execute(f"attach '{warehouse}' as built (read_only)")
        tables = lake.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'built' and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            lake.execute(f'create schema if not exists "{schema}"')
            lake.execute(f'create table "{schema}"."{table}" as select * from built."{schema}"."{table}"')
        lake.execute("detach built")
    warehouse.unlink()


def _scan(lake_root: Path, warehouse: Path | WarehouseTarget, persons: list[Person], root: Path | None = None) -> Scan:
    pseudonymized = (root if root is not None else warehouse.parent) / "pseudonymized.duckdb"
    everything = {
        **_lake_rows(lake_root),
        **_warehouse_rows(warehouse),
        **_warehouse_rows(pseudonymized, "pseudonymized"),
    }
    patterns = {p.person_id: p.pattern() for p in persons}
    hashed = {p.person_id: p.pattern(hashed=True) for p in persons}
    scan = Scan({}, {}, {})
    for location, texts in everything.items():
        scan.rows[location] = len(texts)
        search = hashed if location.startswith("pseudonymized:") else patterns
        scan.matched[location] = {
            pid: sum(1 for t in texts if pattern.search(t)) for pid, pattern in search.items()
        }
        scan.named[location] = {p.person_id: sum(1 for t in texts if p.name_match(t)) for p in persons}
    return scan


def _held(scan: Scan, person: Person) -> dict[str, int]:
    return {loc: m[person.person_id] for loc, m in scan.matched.items() if m[person.person_id]}


# --- the test -----------------------------------------------------------------------------------


def _streets(warehouse: Path, keys: set[str]) -> set[str]:
    """The person's streets, but one a remaining person lives on too (a household's)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select street, bool_or(record_id in (select unnest(?))), bool_and(record_id in (select unnest(?))) "
            "from intermediate.int_identity_candidates where street is not null group by street",
            [sorted(keys), sorted(keys)],
        ).fetchall()
    return {street for street, anyone, only in rows if anyone and only}


def _quarantine(lake: LocalLake, person: Person) -> tuple[PersonStream, str]:
    """Make one contact record of ``person`` unreadable (a date that is not one), as a vendor may
    send it; the cleansed asset, run again on its partition, quarantines it with its payload."""
    for row in person.rows.filter(pl.col("stream").is_in(CONTACT_STREAMS)).iter_rows(named=True):
        stream = person_stream(*row["stream"].split("/"))
        assert stream is not None
        date = next(
            (
                f
                for f in stream.entity.fields
                if f.kind in ("date", "timestamp") and f.path and re.fullmatch(r"\$(\.\w+)+", f.path)
            ),
            None,
        )
        if date is None:
            continue
        record = json.loads(row["payload"])
        *parents, leaf = date.path.split(".")[1:]
        target = record
        for name in parents:
            target = target.setdefault(name, {})
        target[leaf] = UNREADABLE
        raw = pl.read_parquet(lake.root / row["file"])
        raw = raw.with_columns(
            pl.when(pl.col("record_id") == row["record_id"])
            .then(pl.lit(json.dumps(record)))
            .otherwise(pl.col("payload"))
            .alias("payload")
        )
        write_frame(lake, row["file"], raw)
        return stream, Path(row["file"]).stem
    raise AssertionError(f"{person.person_id} has no contact record with a date to break")


def _to_s3(lake_root: Path, endpoint: str, bucket: str) -> boto3.client:
    """The lake moved to a versioned bucket, each raw partition with an older version (as a re-run
    partition leaves one), the folder removed."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for path in sorted(p for p in lake_root.rglob("*") if p.is_file()):
        key = f"cdp/{path.relative_to(lake_root)}"
        for _ in range(2 if key.startswith("cdp/raw/") else 1):
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    shutil.rmtree(lake_root)
    return client


def _latest(client, bucket: str, into: Path) -> Path:
    """The bucket's current objects as a folder, for the row-by-row scan."""
    shutil.rmtree(into, ignore_errors=True)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="cdp/"):
        for item in page.get("Contents", []):
            path = into / item["Key"].removeprefix("cdp/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return into


def _every_file(
    root: Path, lake: tuple | None, ducklake: tuple | None = None
) -> list[tuple[str, bytes, Path | None]]:
    """Every file the platform owns here: the lake (every S3 version), the DuckDB files, dbt's
    target and logs, DAGSTER_HOME; on DuckLake, every object of its bucket (its Parquet files)."""
    files = list(
        traces.local_files(
            *(p for p in root.iterdir() if p.name != "lake"),
            *(p for p in (DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs") if p.exists()),
        )
    )
    if lake is None:
        files += traces.local_files(root / "lake")
    else:
        files += traces.s3_versions(*lake)
    if ducklake is not None:
        files += traces.s3_versions(*ducklake)
    return files


def _report(found: list[traces.Trace]) -> str:
    return "\n".join(f"{t.location}: {t.person} {t.found!r}" for t in found[:30])


@dataclass
class Planted:
    """The shared build, copied, with the three people's residues planted and searched once."""

    root: Path
    persons: list[Person]  # first, second, third: erased by email, client_id, phone
    before: Scan


@pytest.fixture(scope="module")
def planted(sandbox_marts: SandboxMarts, tmp_path_factory) -> Planted:  # noqa: F811
    root = tmp_path_factory.mktemp("erasure") / "cdp"
    shutil.copytree(sandbox_marts.root, root)
    lake_root, warehouse = root / "lake", root / "warehouse.duckdb"
    config = SandboxConfig(
        persons=PERSONS, seed=sandbox_marts.settings.sandbox.seed, today=_today(), span_days=SPAN_DAYS
    )
    write_truth(config, root.parent / "truth")  # outside the platform's folders
    landed = _landed(lake_root, pl.read_parquet(root.parent / "truth" / "records.parquet"))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        identity = con.execute("select record_id, client_id from identity.identity_map").pl()
    persons = _choose(landed, identity, _names(warehouse))
    assert len(persons) == 3, "the sandbox should hold three cleanly resolved multi-source persons"
    first, second, third = persons
    assert third.phone is not None or second.phone is not None
    if third.phone is None:  # the phone request needs a person with a phone
        second, third = third, second
    lake = LocalLake(lake_root)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)  # the local key file is created
        key = privacy_key(lake)
    for person in persons:
        person.hashes = {identifier_hash("client_id", person.client_id, key)}
        person.streets = _streets(warehouse, set(person.rows["person_keys"].explode().drop_nulls()))

    # What a clean run never leaves: quarantined rows, spool pages, dead letters.
    others = landed.filter(
        pl.col("person_id").is_null() | ~pl.col("person_id").is_in([p.person_id for p in persons])
    )
    broken = [_quarantine(lake, person) for person in persons]
    for person in persons:
        _plant(lake, person, others)
    defs = _jobs(build_definitions(load_settings(build_environ(root))), [stream for stream, _ in broken])
    instance = dg.DagsterInstance.local_temp(str(root / DAGSTER_HOME))
    for stream, partition in {(_cleanse_job(s), p): (s, p) for s, p in broken}.values():
        cleansed = defs.resolve_job_def(_cleanse_job(stream)).execute_in_process(
            partition_key=partition, instance=instance
        )
        assert cleansed.success

    before = _scan(lake_root, warehouse, persons)
    for person in persons:
        held = _held(before, person)
        # Each person is in the raw lake, the cleansed layer and its quarantine, identity_map,
        # the marts, a spool page and the dead letters...
        assert any(loc.startswith("lake:raw/") for loc in held), held
        assert any(loc.startswith("lake:_checkpoints") for loc in held), held
        assert any(loc.startswith("lake:dead_letter") for loc in held), held
        assert any(loc.startswith("warehouse:cleansed_") and not loc.endswith("_rejected") for loc in held)
        assert any(loc.startswith("warehouse:cleansed_") and loc.endswith("_rejected") for loc in held), held
        assert "warehouse:identity.identity_map" in held and "warehouse:marts.client_360" in held, held
        assert "pseudonymized:marts.client_360" in held, held
        # ...and nobody else's row carries their name (no namesake confuses the name search).
        for location, count in before.named.items():
            assert count[person.person_id] <= before.matched[location][person.person_id], location

    needles = traces.Needles({p.person_id: p.needles() for p in persons})
    # The byte search finds them before...
    found = traces.search(_every_file(root, None), needles)
    for person in persons:
        where = {t.location for t in found if t.person == person.person_id}
        assert any("warehouse.duckdb" in w for w in where) and any("raw/" in w for w in where), where
    # ...but never in what Dagster keeps: an event log cannot be scrubbed, so no asset may write
    # an identifier into metadata or logs (every run of the build and of the cleansing above).
    written = [t for t in found if t.location.startswith(str(root / DAGSTER_HOME))]
    assert not written, "identifiers in Dagster's event log or compute logs:\n" + _report(written)
    return Planted(root, [first, second, third], before)


@pytest.mark.slow
@pytest.mark.parametrize("lake_kind", ["local", "s3", "ducklake"])
def test_erased_people_leave_no_byte_behind(
    lake_kind, planted: Planted, tmp_path, monkeypatch, capsys, request
):
    root = tmp_path / "cdp"
    shutil.copytree(planted.root, root)
    environ = build_environ(root)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # dbt and the CLI read the environment themselves
    monkeypatch.delenv("CDP_PRIVACY_HMAC_KEY", raising=False)  # the lake's key file is used
    monkeypatch.setenv("DAGSTER_HOME", str(root / DAGSTER_HOME))
    lake_root, warehouse = root / "lake", root / "warehouse.duckdb"
    persons = planted.persons
    first, second, third = persons
    before = planted.before
    needles = traces.Needles({p.person_id: p.needles() for p in persons})

    lake_s3 = None
    if lake_kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        client = _to_s3(lake_root, endpoint, bucket)
        lake_s3 = (client, bucket)
        environ = {**environ, "CDP_LAKE_ROOT": f"s3://{bucket}/cdp", "CDP_S3_ENDPOINT_URL": endpoint}
        for name in ("CDP_LAKE_ROOT", "CDP_S3_ENDPOINT_URL"):
            monkeypatch.setenv(name, environ[name])
    ducklake = None
    if lake_kind == "ducklake":
        # The raw lake stays a folder; the warehouse is a DuckLake (catalog in PostgreSQL, Parquet
        # files on moto's S3), filled from the shared build.
        environ = {**environ, **request.getfixturevalue("ducklake_environ")}
        for name in ("CDP_WAREHOUSE", "CDP_DUCKLAKE_CATALOG", "CDP_DUCKLAKE_DATA_PATH", "CDP_S3_ENDPOINT_URL"):
            monkeypatch.setenv(name, environ[name])
        monkeypatch.delenv("CDP_DBT_TARGET", raising=False)
        target = load_settings(environ).warehouse
        _to_ducklake(warehouse, target)
        bucket = target.ducklake_data_path.removeprefix("s3://").split("/")[0]
        ducklake = (boto3.client("s3", endpoint_url=environ["CDP_S3_ENDPOINT_URL"], region_name="us-east-1"), bucket)
        warehouse = target
    defs = _jobs(build_definitions(load_settings(environ)), [])
    instance = dg.DagsterInstance.local_temp(str(root / DAGSTER_HOME))

    def scan() -> Scan:
        folder = lake_root if lake_s3 is None else _latest(*lake_s3, tmp_path / "s3_latest")
        return _scan(folder, warehouse, persons, root)

    if ducklake is not None:
        before = scan()  # the lake holds the build's tables (not its views)
        found = traces.search(_every_file(root, None, ducklake), needles)
        for person in persons:  # the byte search finds each person in the lake's Parquet files
            assert any(t.location.startswith("s3://") for t in found if t.person == person.person_id)

    # 1. By email (as the person typed it) and by client_id, with an unreadable request beside them,
    # filed in the requests table and processed by one run of the Dagster job.
    with _open(warehouse) as con:
        audit.ensure_tables(con)
        con.execute(
            "insert into privacy.erasure_requests (identifier_type, identifier_value, reference) "
            "values ('email', ?, 'ticket-1'), ('client_id', ?, 'ticket-2'), ('email', 'no address', 'ticket-0')",
            [first.email.upper(), second.client_id],
        )
    processed = defs.resolve_job_def(ERASURE_JOB_NAME).execute_in_process(instance=instance)
    assert processed.success
    checks = processed.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    meta = processed.get_asset_materialization_events()[0].materialization.metadata
    assert meta["erased"].value == 2 and meta["invalid"].value == 1 and meta["rows_removed"].value > 0

    # 2. By phone, through cli.main, written the way the vendor had it.
    capsys.readouterr()  # what the runs printed so far
    assert cli.main(["erase", "--phone", third.phone, "--reference", "ticket-3"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["status"] == "done"
    assert third.phone not in printed.out + printed.err

    # Not one byte of anyone, anywhere, raw or decoded.
    left = traces.search(_every_file(root, lake_s3, ducklake), needles)
    assert not left, "erased people are still in these files:\n" + _report(left)

    after = scan()
    for location, rows in after.rows.items():
        held = {pid: n for pid, n in after.matched[location].items() if n}
        assert not held, f"{location} still holds {held}"
        assert not any(after.named[location].values()), f"{location} still holds a name"
        # Exactly the rows that held them are gone, no other.
        expected = before.rows.get(location, 0) - sum(before.matched.get(location, {}).values())
        if location.startswith("lake:_privacy") or location.startswith("warehouse:privacy."):
            continue  # written by the erasures
        if location in before.rows:
            assert rows == expected, (
                f"{location}: {before.rows[location]} rows, {rows} after, expected {expected}"
            )
    gone = set(before.rows) - set(after.rows)
    assert gone <= {loc for loc in before.rows if loc.startswith("lake:dead_letter")}, gone
    for person in persons:
        raw_before = sum(n for loc, n in _held(before, person).items() if loc.startswith("lake:raw/"))
        assert raw_before == person.rows.height  # the raw rows removed are exactly the truth's

    # The audit log: keyed hashes and counts, never a value; a row per batch with its timing.
    with _open(warehouse, read_only=True) as con:
        requests = con.execute(
            "select reference, identifier_value, identifier_hash, status, error "
            "from privacy.erasure_requests order by reference"
        ).fetchall()
        audit_rows = con.execute("select * from privacy.erasure_audit").fetchall()
        layers = {
            reference: {
                row[0]
                for row in con.execute(
                    "select distinct layer from privacy.erasure_audit_removals r "
                    "join privacy.erasure_requests q using (request_id) where q.reference = ?",
                    [reference],
                ).fetchall()
            }
            for reference in ("ticket-1", "ticket-2", "ticket-3")
        }
        batches = con.execute(
            "select requests, done, invalid, failed, seconds, seconds_by_phase from privacy.erasure_batches "
            "order by started_at"
        ).fetchall()
    assert [(r, v, s) for r, v, _, s, _ in requests] == [
        ("ticket-0", None, "invalid"),
        ("ticket-1", None, "done"),
        ("ticket-2", None, "done"),
        ("ticket-3", None, "done"),
    ]
    assert "cannot be read" in requests[0][4]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _, _, h, _, _ in requests[1:])
    assert len(audit_rows) == 4
    audit_text = json.dumps(audit_rows, default=str).lower()
    for person in persons:
        assert not person.pattern().search(audit_text)
    for reference, seen in layers.items():
        assert {"raw", "checkpoint", "dead_letter", "cleansed", "quarantine", "identity", "mart"} <= seen, (
            reference,
            seen,
        )
    assert [b[:4] for b in batches] == [(3, 2, 1, 0), (1, 1, 0, 0)]
    for *_, seconds, phases in batches:
        assert seconds > 0 and {"lake", "warehouse", "compact"} <= set(json.loads(phases))

    if lake_kind != "local":
        return  # suppression at ingestion is the same code on either lake (test_erasure_units)
    # The next ingestion of the same partitions (new runs): nobody comes back, and it says so.
    reingested = [
        defs.resolve_job_def("test_raw").execute_in_process(partition_key=day, instance=instance)
        for day in build_days()
    ]
    assert all(result.success for result in reingested)
    suppressed = sum(
        event.materialization.metadata["suppressed_records"].value
        for result in reingested
        for event in result.get_asset_materialization_events()
        if "suppressed_records" in event.materialization.metadata
    )
    assert suppressed >= sum(p.rows.height for p in persons)
    again = scan()
    for location in again.rows:
        assert not any(again.matched[location].values()), f"{location} holds an erased person again"
        if location.startswith("lake:raw/"):  # everyone else came back, as they were
            assert again.rows[location] == after.rows[location], location


def _today() -> datetime.date:
    return datetime.date.fromisoformat(SANDBOX_TODAY)
