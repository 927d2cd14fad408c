"""The fast path's profile refresh against the daily build, on a sandbox warehouse built the daily way
up to yesterday: today's CRM contacts and leads, read by id as their webhooks announce them, reach
``client_360``, ``client_identities`` and ``client_interactions`` through the run the sensor requests;
every client that existed keeps its id; and the daily build of today from the same vendor state then
gives exactly the same rows for the touched clients (the daily build is the reference)."""

from __future__ import annotations

import asyncio
import datetime
import time

import dagster as dg
import duckdb
import polars as pl
import pytest

from cdp_platform.automation.conditions import PROFILE, REFERENCE_GROUP
from cdp_platform.definitions import build_definitions
from cdp_platform.io.lake import LocalLake
from cdp_platform.io.lake_io_manager import write_frame
from cdp_platform.settings import load_settings
from cdp_platform.sources import SOURCES, resource_key
from cdp_platform.webhooks.events import WebhookEvent
from cdp_platform.webhooks.fetch import BY_ID_TRIGGER, fetch_pending, mark_pending
from cdp_platform.webhooks.intraday import INTRADAY_JOB_NAME, MARTS, SENSOR_NAME, profile_selection
from cdp_platform.webhooks.landing import event_rows, events_file
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS
from cdp_platform_tests.sources.support import SANDBOX_TODAY, expected_ids, sandbox_environ, truth_records

# Three profile builds (the daily one, the fast path's, the daily one again): minutes on a shared machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

PERSONS, SPAN_DAYS, SEED = 200, 2, 7
TODAY = datetime.date.fromisoformat(SANDBOX_TODAY)
FIRST = (TODAY - datetime.timedelta(days=SPAN_DAYS)).isoformat()
YESTERDAY = (TODAY - datetime.timedelta(days=1)).isoformat()
# (source, stream, event type) the fast path reads by id in this test.
FED = [("hubspot", "contacts", "contact.propertyChange"), ("facebook", "leads", "leadgen")]


def _jobs(defs: dg.Definitions) -> dg.Definitions:
    graph = defs.resolve_asset_graph()

    def keys(predicate):
        return [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable and predicate(k)]

    fed = {("raw", source, stream) for source, stream, _ in FED}
    return dg.Definitions.merge(
        defs,
        dg.Definitions(
            jobs=[
                dg.define_asset_job(
                    "raw_daily",
                    selection=keys(lambda k: k.path[0] == "raw" and k.path[-1] != "webhook_events"),
                ),
                dg.define_asset_job("raw_fed", selection=keys(lambda k: tuple(k.path) in fed)),
                dg.define_asset_job("cleansed_daily", selection=keys(lambda k: k.path[0] == "cleansed")),
                # What the daily automation builds of the profile for a day: the models the marts
                # read (the timeline over the day's window), with the seeds they need.
                dg.define_asset_job(
                    "profile_daily",
                    selection=profile_selection(PROFILE) | dg.AssetSelection.groups(REFERENCE_GROUP),
                ),
            ]
        ),
    )


def _range(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def _rows(warehouse: str, record_ids: list[str]) -> dict[str, pl.DataFrame]:
    """Each mart's rows of the clients holding any of ``record_ids``, in a stable order."""
    with duckdb.connect(warehouse, read_only=True) as connection:
        clients = (
            connection.execute(
                "select distinct client_id from marts.client_identities where record_id in (select unnest(?))",
                [record_ids],
            )
            .pl()["client_id"]
            .to_list()
        )
        out = {}
        for mart in MARTS:
            frame = connection.execute(
                f"select * from marts.{mart} where client_id in (select unnest(?))", [clients]
            ).pl()
            out[mart] = frame.sort(frame.columns)
        out["clients"] = pl.DataFrame({"client_id": sorted(clients)})
        return out


def _identity_map(warehouse: str) -> pl.DataFrame:
    with duckdb.connect(warehouse, read_only=True) as connection:
        return connection.execute("select record_id, client_id from identity.identity_map").pl()


def test_webhook_changes_reach_the_marts_as_the_daily_build_would(tmp_path, monkeypatch):
    environ = sandbox_environ(tmp_path, PERSONS, SPAN_DAYS, partitions_start=FIRST)
    environ["CDP_SANDBOX_SEED"] = str(SEED)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # dbt reads the warehouse path from the environment
    warehouse = environ["CDP_WAREHOUSE_PATH"]
    defs = _jobs(build_definitions(load_settings(environ)))
    instance = dg.DagsterInstance.ephemeral()

    def run(job: str, **kwargs) -> None:
        assert defs.resolve_job_def(job).execute_in_process(instance=instance, **kwargs).success, job

    # The daily build up to yesterday: the identity map the fast path resolves against.
    run("raw_daily", tags=_range(FIRST, YESTERDAY))
    run("cleansed_daily", tags=_range(FIRST, YESTERDAY))
    run("profile_daily", tags=_range(FIRST, YESTERDAY))
    before = _identity_map(warehouse)

    # Today's changes of the fed streams, announced by webhooks and read by id (the landing job's
    # fetch step), each written partition reported as the fetch op reports it.
    truth = truth_records(PERSONS, SEED, tmp_path / "truth", SPAN_DAYS)
    lake = LocalLake(tmp_path / "lake")
    fetched: list[str] = []
    for source, stream, event_type in FED:
        ids = expected_ids(truth, f"{source}/{stream}", SANDBOX_TODAY)
        assert ids, f"no {source}/{stream} record changed today in the sandbox"
        now = time.time()
        events = [WebhookEvent(source, f"e{i}", event_type, i, now - 30, now, {}) for i in ids]
        mark_pending(lake, source, SANDBOX_TODAY, 0)
        write_frame(lake, events_file(source, SANDBOX_TODAY), event_rows(events, now))
        vendor = defs.resources[resource_key(source)]
        client = vendor.client(auth=vendor.auth())
        spec = WEBHOOK_SPECS[source]
        try:
            report = fetch_pending(
                lake,
                source,
                spec.refreshes,
                spec.fetch,
                {s.name: s for s in SOURCES[source].STREAMS},
                client,
                first_day=datetime.date.fromisoformat(FIRST),
                today=TODAY,
            )
        finally:
            asyncio.run(client.aclose())
        assert sorted(report.record_ids[stream]) == ids
        for day in report.written[stream]:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=dg.AssetKey(["raw", source, stream]),
                    partition=day,
                    metadata={"trigger": BY_ID_TRIGGER},
                )
            )
        # client_identities keys a record by its entity's record key, "<source>:<stream>:<id>".
        fetched += [f"{source}:{stream}:{record_id}" for record_id in ids]

    # The sensor asks for the touched cleansed partitions and the profile; that run is executed.
    sensor = defs.get_sensor_def(SENSOR_NAME)
    request = sensor.evaluate_tick(
        dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    ).run_requests[0]
    selected = {key.to_user_string() for key in request.asset_selection}
    assert {"cleansed/hubspot/contacts", "cleansed/facebook/leads", *MARTS, "identity_map"} <= selected
    assert "cleansed/stripe/charges" not in selected  # nothing of it was read
    assert request.tags["dagster/asset_partition_range_start"] == SANDBOX_TODAY
    started = time.monotonic()
    run(INTRADAY_JOB_NAME, asset_selection=request.asset_selection, tags=request.tags)
    print(f"intraday profile refresh: {time.monotonic() - started:.1f} s")
    intraday = _rows(warehouse, fetched)
    with duckdb.connect(warehouse, read_only=True) as connection:
        linked = connection.execute(
            "select count(distinct record_id) from marts.client_identities where record_id in (select unnest(?))",
            [fetched],
        ).fetchone()[0]
    assert linked == len(set(fetched)), "a record read by id is missing from client_identities"
    after = _identity_map(warehouse)
    kept = before.join(after, on="record_id", suffix="_after")
    moved = kept.filter(pl.col("client_id") != pl.col("client_id_after"))
    # Stable ids: a record changes client only when a new record joined its client to an existing
    # one (the merge keeps the oldest id), never to an id that did not exist before.
    assert set(moved["client_id_after"]) <= set(before["client_id"]), "an existing client got a new id"
    assert moved.height < kept.height / 10, f"{moved.height} of {kept.height} records changed client"

    # The daily build of today from the same vendor state: the reference.
    run("raw_fed", tags=_range(SANDBOX_TODAY, SANDBOX_TODAY))
    cleansed = [key for key in request.asset_selection if key.path[0] == "cleansed"]
    run("cleansed_daily", tags=_range(SANDBOX_TODAY, SANDBOX_TODAY), asset_selection=cleansed)
    run("profile_daily", tags=_range(SANDBOX_TODAY, SANDBOX_TODAY))
    daily = _rows(warehouse, fetched)
    for name, frame in intraday.items():
        assert frame.equals(daily[name]), f"{name}: the fast path's rows differ from the daily build's"
