"""A source declared in a YAML file, end to end against a loopback API, and the files that must not load.

The end-to-end test loads the documented example (``docs/sources/loyalty.yaml``) from a temporary
``CDP_SOURCES_DIR``, points it at a small HTTP API on a real loopback port (OAuth2 client
credentials, page tokens, a daily window filter, one 429 with ``Retry-After``, a record without an
id), and materializes two days of raw and cleansed partitions and the identity candidates through
the definitions the code location builds.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform.definitions import build_definitions
from cdp_platform.http.pacing import pacer_for
from cdp_platform.io.dead_letters import read_dead_letters
from cdp_platform.io.lake import LocalLake
from cdp_platform.settings import SettingsError, load_settings
from cdp_platform.sources.registry import configure, declarations
from cdp_platform.sources.yaml_source import SourceFileError
from cdp_platform_tests.sources.support import sandbox_environ

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sources" / "loyalty.yaml"
DAYS = ("2026-11-20", "2026-11-21")
CLIENT_ID, CLIENT_SECRET, TOKEN = "loyalty-client", "loyalty-secret-7d1f", "access-3b9e"


def _member(i: int, updated: str, **overrides) -> dict:
    member = {
        "id": f"m{i}",
        "first_name": "ADA" if i % 2 else "grace",
        "last_name": f"lovelace{i}" if i % 2 else f"HOPPER{i}",
        "contact": {"email": f"  Member{i}@Example.COM ", "phone": f"(415) 555-{2600 + i}"},
        "address": {"city": "London", "country": "GB"},
        "crm_contact_id": f"003A{i:04d}",
        "points": 10 * i,
        "tier": "gold",
        "joined_at": "2026-01-02T10:00:00Z",
        "updated_at": updated,
    }
    member.update(overrides)
    return member


# Five members changed on the first day (one of them sent without an id), four on the second, and
# two outside both windows that the filter must keep out.
MEMBERS = [
    *(_member(i, f"2026-11-20T{8 + i:02d}:15:00Z") for i in range(1, 5)),
    {**_member(99, "2026-11-20T23:59:59Z"), "id": None},
    *(_member(i, f"2026-11-21T{i:02d}:30:00Z") for i in range(5, 9)),
    _member(50, "2026-11-19T23:59:59Z"),
    _member(51, "2026-11-22T00:00:00Z"),
]


@dataclass
class LoyaltyApi:
    """What the API served and saw: every members request (path, query, time, status)."""

    requests: list[dict] = field(default_factory=list)
    token_requests: int = 0
    throttled_once: bool = False
    served: dict[str, list[str]] = field(default_factory=dict)

    def members(self, query: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
        since = datetime.datetime.fromisoformat(query["updated_since"].replace("Z", "+00:00"))
        before = datetime.datetime.fromisoformat(query["updated_before"].replace("Z", "+00:00"))
        if since.date().isoformat() == DAYS[1] and not self.throttled_once:
            self.throttled_once = True
            return 429, {"error": "slow down"}, {"Retry-After": "1"}
        window = [
            m
            for m in MEMBERS
            if since <= datetime.datetime.fromisoformat(m["updated_at"].replace("Z", "+00:00")) < before
        ]
        offset = int(query.get("page_token", "0"))
        limit = int(query["limit"])
        page = window[offset : offset + limit]
        following = offset + limit
        self.served.setdefault(since.date().isoformat(), []).extend(str(m["id"]) for m in page if m["id"])
        return 200, {"data": page, "next_page_token": str(following) if following < len(window) else None}, {}


def _handler(api: LoyaltyApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: the test reads api.requests instead
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            if urlsplit(self.path).path != "/oauth/token":
                return self._send(404, {"error": "not found"})
            if (
                form.get("grant_type") != ["client_credentials"]
                or form.get("client_id") != [CLIENT_ID]
                or form.get("client_secret") != [CLIENT_SECRET]
                or form.get("scope") != ["members.read"]
            ):
                return self._send(401, {"error": "invalid_client"})
            api.token_requests += 1
            return self._send(200, {"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if url.path != "/v1/members":
                return self._send(404, {"error": "not found"})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"error": "invalid_token"})
            status, body, headers = api.members(query)
            api.requests.append({"query": query, "at": time.monotonic(), "status": status})
            return self._send(status, body, headers)

    return Handler


@pytest.fixture
def loyalty_api() -> Iterator[tuple[str, LoyaltyApi]]:
    api = LoyaltyApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def shipped_sources_only_afterwards() -> Iterator[None]:
    """The registry holds the sources of the last loaded settings: leave it as the suite expects."""
    yield
    configure(None)


def test_yaml_source_materializes_raw_cleansed_and_candidates(
    tmp_path: Path, loyalty_api: tuple[str, LoyaltyApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, api = loyalty_api
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(EXAMPLE, sources / "loyalty.yaml")
    monkeypatch.setenv("CDP_LOYALTY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CDP_LOYALTY_CLIENT_SECRET", CLIENT_SECRET)
    environ = {
        **sandbox_environ(tmp_path, persons=20, span_days=30),
        "CDP_SOURCES_DIR": str(sources),
        "CDP_LOYALTY_BASE_URL": base_url,
        "CDP_LOYALTY_CLIENT_ID": CLIENT_ID,
        "CDP_LOYALTY_CLIENT_SECRET": CLIENT_SECRET,
        "CDP_LOYALTY_PAGE_SIZE": "2",  # several pages per day, so page tokens and checkpoints are used
    }
    defs = build_definitions(load_settings(environ))
    graph = defs.resolve_asset_graph()
    raw_key = dg.AssetKey(["raw", "loyalty", "members"])
    cleansed_key = dg.AssetKey(["cleansed", "loyalty", "members"])
    candidates_key = dg.AssetKey(["identity_candidates", "loyalty", "members"])
    assert cleansed_key in graph.get(raw_key).child_keys
    assert candidates_key in graph.get(cleansed_key).child_keys
    # The dbt model identity resolution reads waits for the YAML source's candidates.
    assert candidates_key in graph.get(dg.AssetKey("int_identity_candidates")).parent_keys
    assert "ingest_loyalty" in {job.name for job in defs.resolve_all_job_defs()}
    schedule = next(s for s in defs.schedules if s.name == "ingest_loyalty_daily")
    assert schedule.cron_schedule == "35 1 * * *"  # the file's schedule.minute past 01:00 UTC

    by_key = {key: a for a in defs.assets if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    raw, cleansed = by_key[raw_key], by_key[cleansed_key]
    for day in DAYS:
        result = dg.materialize(
            [raw, cleansed], partition_key=day, resources=defs.resources, raise_on_error=False
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        checks = {
            c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key == raw_key
        }
        assert checks == {"no_dead_letters": day != DAYS[0]}
        # The cleansed checks a shipped entity runs, all passing: schema, accounting, drift, quarantine.
        cleansed_checks = {
            c.check_name: (c.passed, c.description)
            for c in result.get_asset_check_evaluations()
            if c.asset_key != raw_key
        }
        assert set(cleansed_checks) == {
            "identifiers_schema",
            "values_schema",
            "raw_rows_accounted_for",
            "schema_drift",
            "quarantine_empty",
        }
        assert all(passed for passed, _ in cleansed_checks.values()), cleansed_checks
    candidates = dg.materialize([by_key[candidates_key]], resources=defs.resources)
    assert candidates.success

    lake = Path(environ["CDP_LAKE_ROOT"])
    for day in DAYS:
        landed = pl.read_parquet(lake / "raw" / "loyalty" / "members" / f"{day}.parquet")
        # Exactly what the API served for the day's window: none lost, none doubled, none outside.
        assert landed["record_id"].to_list() == sorted(api.served[day])
        assert sorted(api.served[day]) == sorted(
            m["id"] for m in MEMBERS if m["id"] and m["updated_at"].startswith(day)
        )
        assert not list((lake / "_checkpoints").rglob("*.parquet")), "checkpoints left behind"
    letters = read_dead_letters(LocalLake(lake), "loyalty", "members", DAYS[0])
    assert [letter["error"] for letter in letters] == ["record has no id"]
    assert read_dead_letters(LocalLake(lake), "loyalty", "members", DAYS[1]) == []

    # The 429 was waited out as its Retry-After said, then the same page asked again.
    throttled = next(i for i, r in enumerate(api.requests) if r["status"] == 429)
    retry = api.requests[throttled + 1]
    assert retry["query"] == api.requests[throttled]["query"] and retry["status"] == 200
    assert retry["at"] - api.requests[throttled]["at"] >= 0.95
    assert api.token_requests == 2  # one OAuth exchange per run
    # The source's own process-wide pacer, spacing requests by the file's requests_per_second.
    assert pacer_for("loyalty").vendor == "loyalty" and pacer_for("loyalty").min_interval == pytest.approx(0.05)

    with duckdb.connect(environ["CDP_WAREHOUSE_PATH"], read_only=True) as connection:
        table = connection.execute(
            "select * from cleansed_loyalty.members order by partition_date, record_id"
        ).pl()
        people = connection.execute(
            "select * from identity_candidates.loyalty__members order by record_id"
        ).pl()
    assert table["record_id"].to_list() == sorted(api.served[DAYS[0]]) + sorted(api.served[DAYS[1]])
    first = table.row(0, named=True)
    assert (first["email"], first["phone"], first["first_name"], first["last_name"]) == (
        "member1@example.com",
        "+14155552601",
        "Ada",
        "Lovelace1",
    )
    assert first["points"] == 10 and first["country"] == "GB"

    served = sorted(api.served[DAYS[0]] + api.served[DAYS[1]])
    assert people["record_id"].to_list() == sorted(f"loyalty:members:{i}" for i in served)
    assert set(people["source"]) == {"loyalty/members"}
    grace = people.filter(pl.col("record_id") == "loyalty:members:m6").row(0, named=True)
    assert {
        k: grace[k] for k in ("email", "phone", "first_name", "last_name", "full_name", "crm_id", "city")
    } == {
        "email": "member6@example.com",
        "phone": "+14155552606",
        "first_name": "Grace",
        "last_name": "Hopper6",
        "full_name": "Grace Hopper6",
        "crm_id": "003A0006",
        "city": "London",
    }
    assert grace["last_seen_at"] == datetime.datetime(2026, 11, 21, 6, 30, tzinfo=datetime.UTC)


def test_without_a_sources_dir_only_the_shipped_sources_are_known(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(EXAMPLE, sources / "loyalty.yaml")
    environ = {"CDP_LOYALTY_CLIENT_ID": CLIENT_ID, "CDP_LOYALTY_CLIENT_SECRET": CLIENT_SECRET}
    assert "loyalty" in load_settings({**environ, "CDP_SOURCES_DIR": str(sources)}).vendors
    assert "loyalty" in declarations()
    settings = load_settings(environ)
    assert "loyalty" not in settings.vendors and "loyalty" not in declarations()


# Each malformed file: (what replaces what in the documented example, the line the error names, the
# problem and the fix the message gives). ``None`` as the line: the line of the replacement.
MALFORMED = {
    "unknown key": (
        "    pagination:\n      kind: page_token",
        "    pagnation:\n      kind: page_token",
        None,
        "unknown key 'pagnation' in stream 'members'",
        "did you mean 'pagination'? the keys allowed here are: name, endpoint, record_path, primary_key, "
        "change_time_field, pagination, window, description, params, body, cleansed",
    ),
    "missing field": (
        "    record_path: data\n",
        "",
        "  - name: members",
        "stream 'members' has no 'record_path'",
        "add it, e.g. `record_path: data`",
    ),
    "unknown pagination kind": (
        "kind: page_token              #",
        "kind: link_header             #",
        None,
        "pagination kind 'link_header' does not exist",
        "use one of: next_url, cursor_in_body, page_token, offset, single_page",
    ),
    "pagination missing its parameter": (
        "      token_param: page_token\n",
        "",
        "      kind: page_token",
        "stream 'members' pagination (page_token) has no 'token_param'",
        "add it, e.g. `token_param: page_token`",
    ),
    "unknown auth kind": (
        "kind: oauth2_client_credentials",
        "kind: oauth2_password",
        None,
        "auth kind 'oauth2_password' does not exist",
        "use one of: bearer, api_key_header, oauth2_client_credentials, oauth2_refresh_token",
    ),
    "secret in the file": (
        "  scope: members.read",
        "  client_secret: hunter2",
        None,
        "auth holds a secret ('client_secret'); secrets are never written in a source file",
        "remove it and set CDP_LOYALTY_CLIENT_SECRET in the environment",
    ),
    "a credential in the query": (
        "      include: contact",
        "      access_token: 9f8e7d",
        None,
        "stream 'members' params holds a credential ('access_token'); secrets are never written in a source file",
        "remove it and choose the auth kind that sends it (api_key_header, bearer, oauth2_*); its value then "
        "comes from the environment",
    ),
    "unknown window format": (
        "format: iso_seconds",
        "format: rfc2822",
        None,
        "window format 'rfc2822' does not exist",
        "use one of: iso_seconds, unix_seconds, unix_millis, date",
    ),
    "unknown field type": (
        "{name: tier, type: string,",
        "{name: tier, type: text,",
        None,
        "field type 'text' does not exist",
        "use one of: string, timestamp, date, email, phone, name, display_name, handle, country, amount, "
        "integer, float, boolean",
    ),
    "unknown identity role": (
        "identity: city}",
        "identity: town}",
        None,
        "identity role 'town' does not exist",
        "use one of: email, phone, first_name, last_name, full_name, date_of_birth, street, city, postcode, "
        "country, country_code, external_id",
    ),
    "unknown payload type": (
        "tags: array?",
        "tags: list",
        None,
        "payload type 'list' of 'tags' does not exist",
        "use one of: string, number, boolean, object, array, map, with ? when the field may be absent",
    ),
    "a shipped source's name": (
        "source: loyalty",
        "source: stripe",
        None,
        "source 'stripe' is a source the platform ships",
        "give this source another name (e.g. stripe_custom); a shipped source is configured by its "
        "CDP_STRIPE_* variables",
    ),
    "field missing its type": (
        "{name: tier, type: string, path: $.tier}",
        "{name: tier, path: $.tier}",
        None,
        "field 'tier' has no 'type'",
        "add it, e.g. `type: email`",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_file_stops_the_load_naming_file_line_and_fix(case: str, tmp_path: Path) -> None:
    old, new, line_of, problem, fix = MALFORMED[case]
    text = EXAMPLE.read_text()
    assert text.count(old) == 1, f"the example no longer holds {old!r}"
    broken = text.replace(old, new)
    anchor = line_of if line_of is not None else new.splitlines()[0]
    line = next(n for n, content in enumerate(broken.splitlines(), 1) if anchor in content)
    sources = tmp_path / "sources"
    sources.mkdir()
    path = sources / "loyalty.yaml"
    path.write_text(broken)

    with pytest.raises(SourceFileError) as caught:
        load_settings({"CDP_SOURCES_DIR": str(sources)})
    assert str(caught.value) == f"{path}:{line}: {problem}. Fix: {fix}"
    assert isinstance(caught.value, SettingsError)  # what stops the code location's load
    assert "hunter2" not in str(caught.value) and "9f8e7d" not in str(caught.value)


def test_invalid_yaml_and_a_missing_folder_are_named(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "broken.yml").write_text("source: x\nstreams: [a, b\nauth: {}\n")
    with pytest.raises(
        SourceFileError, match=r"broken\.yml:3: is not valid YAML .*Fix: correct the YAML syntax"
    ):
        load_settings({"CDP_SOURCES_DIR": str(sources)})
    with pytest.raises(SettingsError, match=r"CDP_SOURCES_DIR=.* is not a folder"):
        load_settings({"CDP_SOURCES_DIR": str(tmp_path / "absent")})


def test_the_code_location_load_stops_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdp_platform.definitions import ConfigurationError, defs

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "loyalty.yaml").write_text(EXAMPLE.read_text().replace("format: iso_seconds", "format: soql"))
    monkeypatch.setenv("CDP_SOURCES_DIR", str(sources))
    with pytest.raises(ConfigurationError) as caught:
        defs()
    assert "loyalty.yaml:" in caught.value.message
    assert "window format 'soql' does not exist. Fix: use one of: iso_seconds" in caught.value.message


@pytest.mark.slow
def test_candidates_reach_the_model_identity_resolution_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt builds ``int_identity_candidates`` (from the profile tests' crafted cleansed tables of the
    shipped sources) with the YAML source's candidates table beside them: its people are in it,
    beside the shipped sources' ones, and the rows are exactly the candidates table's."""
    from cdp_platform.cleansed.entity import cleanse
    from cdp_platform.profile.project import dbt_executable
    from cdp_platform.sources.yaml_source import load_source_file
    from cdp_platform.sources.yaml_source_candidates import candidate_table, candidates
    from cdp_platform_tests.profile import warehouse

    entity = load_source_file(EXAMPLE).entities[0]
    members = [m for m in MEMBERS if m["id"] in ("m1", "m6")]
    raw = pl.DataFrame(
        {
            "record_id": [m["id"] for m in members],
            "updated_at": [datetime.datetime.fromisoformat(m["updated_at"]) for m in members],
            "payload": [json.dumps(m) for m in members],
        },
        schema={"record_id": pl.String, "updated_at": pl.Datetime("us", "UTC"), "payload": pl.String},
    )
    people = candidates(entity, cleanse(raw, entity, datetime.date(2026, 11, 20)).clean)
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        warehouse.write_cleansed(connection)
        schema, table = candidate_table(entity).split(".")
        warehouse.write_table(connection, schema, table, people)

    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(path))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    project = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--quiet",
            "--exclude-resource-type",
            "test",
            "--project-dir",
            "dbt",
            "--profiles-dir",
            "dbt",
            "--target-path",
            str(tmp_path / "dbt_target"),
            "--select",
            "+int_identity_candidates",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with duckdb.connect(str(path), read_only=True) as connection:
        model = connection.execute("select * from intermediate.int_identity_candidates").pl()
    ours = model.filter(pl.col("source") == "loyalty/members").sort("record_id")
    assert ours.select(people.columns).to_dicts() == people.to_dicts()
    assert ours["record_id"].to_list() == ["loyalty:members:m1", "loyalty:members:m6"]
    assert ours["email"].to_list() == ["member1@example.com", "member6@example.com"]
    assert model.filter(pl.col("source") != "loyalty/members").height > 0  # the shipped sources' too


def test_the_readme_shows_the_tested_example_and_its_error_format() -> None:
    readme = (EXAMPLE.parents[2] / "README.md").read_text()
    section = readme.split("## Declaring a source in YAML\n", 1)[1].split("\n## ", 1)[0]
    shown = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == EXAMPLE.read_text()
    line = next(n for n, text in enumerate(shown.splitlines(), 1) if text.strip() == "pagination:")
    assert f"loyalty.yaml:{line}: unknown key 'pagnation' in stream 'members'. Fix: did you mean" in section
