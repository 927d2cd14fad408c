"""Raw assets: one multi-asset per source, one output per stream, daily partitions.

A run covers one daily partition (the daily schedule, a sensor) or a range of them: a backfill or
"Materialize all" fetches every selected day of a source in one run (``BackfillPolicy.single_run``),
so a first load of two years is one run per source rather than 730, with one process start, one
OAuth token and one pacer per vendor. Inside the run every day is still extracted on its own:
its own window, its own checkpoints and spool under ``_checkpoints/<asset>/<day>/``, its own dead
letters file, its own partition file and its own metadata (records, pages, requests, waits...) on
its own materialization. Up to :data:`DAYS_IN_FLIGHT` days are fetched at once; the vendor's pacer
and circuit breaker are shared by every client of the run, so together they stay within its budget.

Within a day the selected streams run concurrently (one client per stream and day). Every page is
spooled to the lake and checkpointed as it arrives; when a stream is complete its rows are
de-duplicated by id and handed to the raw lake IO manager, which replaces each day's partition
file atomically, and then the day's checkpoint is cleared. A run killed at any moment resumes from
the last checkpoint of every day (days that were complete are read back from their spool without a
request); a stream that fails does not stop the others from landing.

Records of people who asked to be erased are dropped from every page before it is spooled, and
once more before the partition is written (see :mod:`cdp_platform.privacy.suppression`); the
count, never the values, is the ``suppressed_records`` metadata of each stream.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from cdp_platform.http import Auth, ExtractResult, VendorClient, extract
from cdp_platform.http.errors import ExpiredCredentials, RetriesExhausted, VendorError
from cdp_platform.http.pagination import Page
from cdp_platform.http.tls import TlsVerificationError
from cdp_platform.io.checkpoints import LakeCheckpointStore, PageSpool, checkpoint_prefix
from cdp_platform.io.dead_letters import write_dead_letters
from cdp_platform.io.lake import Lake
from cdp_platform.io.resources import RAW_IO_MANAGER_KEY
from cdp_platform.privacy.suppression import Suppressor
from cdp_platform.sources.partitions import partition_window
from cdp_platform.sources.stream import (
    RAW_SCHEMA,
    Stream,
    StreamContext,
    Window,
    finalize_rows,
    page_rows,
    raw_column_descriptions,
)
from cdp_platform.sources.vendor import MissingCredential, VendorResource


def vendor_pool(source: str) -> str:
    return f"vendor_{source}"


def retry_cannot_help(error: BaseException | None) -> bool:
    """Whether a failed stream would fail the same way when the step is retried in a few seconds:
    an untrusted certificate, a credential that expired beyond renewal, or a deliberate refusal
    (a 4xx the client does not retry). Throttling, 5xx, cut connections, an open circuit breaker
    and a stop before the end are worth the retry policy's retries."""
    if isinstance(error, TlsVerificationError | ExpiredCredentials):
        return True
    return (
        isinstance(error, VendorError)
        and not isinstance(error, RetriesExhausted)
        and 400 <= error.status < 500
    )


@dataclass
class StreamOutcome:
    stream: Stream
    rows: pl.DataFrame | None = None
    dead_letters: list[dict] = field(default_factory=list)
    results: list[ExtractResult] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def complete(self) -> bool:
        return self.error is None and all(r.complete for r in self.results)


async def extract_stream(
    stream: Stream,
    client: VendorClient,
    window: Window,
    options: dict[str, str],
    lake: Lake,
    page_size: int | None = None,
    suppressor: Suppressor | None = None,
) -> StreamOutcome:
    """Extract one stream's window into the spool, then read the spool back as final rows."""
    prefix = checkpoint_prefix(stream.asset_path, window.partition)
    store = LakeCheckpointStore(lake)
    spool = PageSpool(lake, prefix)
    outcome = StreamOutcome(stream)
    ctx = StreamContext(
        client, window, options, page_size, stream.source, tuple(stream.asset_path), lake, prefix
    )
    try:
        async for piece in stream.slices(ctx):

            def spool_page(page: Page, slice_name: str) -> None:
                frame = page_rows(stream, page, window, slice_name)
                letters = [letter.to_dict() for letter in page.dead_letters]
                if suppressor is not None:  # erased people never land, not even in the spool
                    frame = suppressor.filter_rows(stream.source, stream.name, frame)
                    letters = suppressor.filter_letters(stream.source, stream.name, letters)
                spool.write(slice_name, page.part, page.number, frame, letters)

            async def on_page(page: Page, slice_name: str = piece.name) -> None:
                # The rows are built in the worker thread too (a Polars frame and the records
                # re-encoded: about 1.5 ms a page), so the event loop goes on with the other
                # streams' and days' requests meanwhile.
                await asyncio.to_thread(spool_page, page, slice_name)

            key = f"{prefix}/cursor/{piece.name}"
            if stream.extractor is not None:
                result = await stream.extractor(ctx, piece, store, key, on_page)
            else:
                assert stream.paginator is not None and piece.request is not None, stream.name
                result = await extract(
                    client,
                    stream.paginator(),
                    piece.request,
                    checkpoint_store=store,
                    checkpoint_key=key,
                    on_page=on_page,
                    stream=f"{stream.source}/{stream.name}",
                    partition=window.partition,
                )
            outcome.results.append(result)
        frames = await asyncio.to_thread(spool.pages)
        outcome.rows = finalize_rows(frames)
        outcome.dead_letters = await asyncio.to_thread(spool.dead_letters)
    except Exception as exc:  # reported per stream; the other streams of the source go on
        outcome.error = exc
    outcome.stats = {**client.stats.snapshot(), **ctx.counters}
    return outcome


async def extract_source(
    vendor: VendorResource,
    streams: Sequence[Stream],
    window: Window,
    lake: Lake,
    suppressor: Suppressor | None = None,
    auth: Auth | None = None,
) -> list[StreamOutcome]:
    vendor.require_credentials()
    options = vendor.account_options()
    # Shared, so an OAuth token is fetched once per run, not per stream (nor per day of a range).
    auth = auth or vendor.auth()
    clients = [vendor.client(auth=auth) for _ in streams]
    try:
        return await asyncio.gather(
            *(
                extract_stream(s, c, window, options, lake, vendor.page_size, suppressor)
                for s, c in zip(streams, clients, strict=True)
            )
        )
    finally:
        for client in clients:
            await client.aclose()


# Days of a range fetched at once. The vendor's pacer is shared, so more days in flight never
# exceed its budget; they overlap one day's waits (latency, a fan-out stream's many small
# requests) with another's. Four keeps the open spools and clients of a run small.
DAYS_IN_FLIGHT = 4


async def extract_days(
    vendor: VendorResource,
    streams: Sequence[Stream],
    windows: Sequence[Window],
    lake: Lake,
    suppressor: Suppressor | None = None,
    days_in_flight: int = DAYS_IN_FLIGHT,
) -> list[list[StreamOutcome]]:
    """Every window (day) extracted on its own, up to ``days_in_flight`` at once, with one token.

    Returns the outcomes per window, in the order of ``windows``."""
    vendor.require_credentials()
    auth = vendor.auth()
    gate = asyncio.Semaphore(max(1, days_in_flight))

    async def one_day(window: Window) -> list[StreamOutcome]:
        async with gate:
            return await extract_source(vendor, streams, window, lake, suppressor, auth=auth)

    return await asyncio.gather(*(one_day(window) for window in windows))


# Counters a stream's own code keeps in StreamContext.counters, reported as metadata when present.
STREAM_COUNTERS = ("parents_listed", "parents_skipped", "listings_from_cache")


def _metadata(outcome: StreamOutcome, dead_letter_uri: str | None) -> dict:
    stats = outcome.stats
    results = outcome.results
    records = outcome.rows.height if outcome.rows is not None else 0
    requests = stats.get("requests", 0)
    meta = {
        "records": dg.MetadataValue.int(records),
        "pages": dg.MetadataValue.int(sum(r.pages for r in results)),
        "requests": dg.MetadataValue.int(requests),
        # Vendors bill and throttle by the request: what each landed record cost, token exchanges,
        # retries and association reads included (null for a day with no record).
        "requests_per_record": (
            dg.MetadataValue.float(round(requests / records, 4)) if records else dg.MetadataValue.null()
        ),
        "retries": dg.MetadataValue.int(stats.get("retries", 0)),
        "responses_429": dg.MetadataValue.int(stats.get("responses_429", 0)),
        "dead_letters": dg.MetadataValue.int(len(outcome.dead_letters)),
        "latency_p50_ms": dg.MetadataValue.float(round((stats.get("latency_p50_s") or 0.0) * 1000, 3)),
        "latency_p95_ms": dg.MetadataValue.float(round((stats.get("latency_p95_s") or 0.0) * 1000, 3)),
        "quota_wait_seconds": dg.MetadataValue.float(float(stats.get("quota_wait_s") or 0.0)),
        "backoff_wait_seconds": dg.MetadataValue.float(float(stats.get("backoff_wait_s") or 0.0)),
        "resumed": dg.MetadataValue.bool(any(r.resumed for r in results)),
    }
    for name in STREAM_COUNTERS:  # a fan-out stream's own figures (issue 20), where it has them
        if name in stats:
            meta[name] = dg.MetadataValue.int(int(stats[name]))
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings[:50]))
    if dead_letter_uri:
        meta["dead_letter_uri"] = dg.MetadataValue.path(dead_letter_uri)
    return meta


def raw_column_schema(stream: Stream) -> dg.TableSchema:
    """The columns of the stream's raw partitions, their types and what each holds."""
    descriptions = raw_column_descriptions(stream)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=descriptions[name])
            for name, dtype in RAW_SCHEMA.items()
        ]
    )


def build_raw_assets(
    source: str, streams: Sequence[Stream], resource_key: str, partitions_def: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    by_output = {stream.name: stream for stream in streams}

    @dg.multi_asset(
        name=f"raw_{source}",
        outs={
            stream.name: dg.AssetOut(
                key=stream.asset_path,
                group_name=f"raw_{source}",
                io_manager_key=RAW_IO_MANAGER_KEY,
                description=stream.description,
                metadata={"dagster/column_schema": raw_column_schema(stream)},
                kinds={source, "parquet"},
                is_required=False,
            )
            for stream in streams
        },
        check_specs=[
            dg.AssetCheckSpec(
                "no_dead_letters",
                asset=dg.AssetKey(stream.asset_path),
                description="Fails while this partition has responses or records that could not be used.",
            )
            for stream in streams
        ],
        partitions_def=partitions_def,
        # A backfill fetches its whole range in one run (see the module's docstring); with the
        # same policy and partitions as the cleansed layer, Dagster can put both in one run.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=vendor_pool(source),
        can_subset=True,
        required_resource_keys={resource_key, "lake"},
        # A run that failed mid-stream resumes from its checkpoints when retried.
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    )
    def _raw(context: dg.AssetExecutionContext):
        vendor: VendorResource = getattr(context.resources, resource_key)
        try:
            vendor.require_credentials()
        except MissingCredential as exc:
            # The variable and the fix, nothing else: no retry can set it.
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        lake = context.resources.lake.lake()
        windows = [Window(day, *partition_window(day)) for day in context.partition_keys]
        selected = [
            by_output[name]
            for name in sorted(context.op_execution_context.selected_output_names)
            if name in by_output
        ]
        suppressor = Suppressor.load(lake)  # None (and no hashing) while nobody was erased
        by_day = asyncio.run(extract_days(vendor, selected, windows, lake, suppressor))
        # Read the list again: a person erased while this run was fetching must not land either.
        latest = Suppressor.load(lake)

        failures = []
        permanent = []
        for index, stream in enumerate(selected):
            outcomes = [(window, day[index]) for window, day in zip(windows, by_day, strict=True)]
            incomplete = [(w, o) for w, o in outcomes if not o.complete]
            if incomplete:
                # The stream lands no day of the range: the complete days keep their spool and
                # checkpoint, so the retry reads them back without a request and resumes the rest.
                for window, outcome in incomplete:
                    permanent.append(retry_cannot_help(outcome.error))
                    reason = outcome.error or next(
                        (w for r in outcome.results for w in r.warnings), "extraction stopped before the end"
                    )
                    failures.append(f"{stream.source}/{stream.name} {window.partition}: {reason}")
                continue
            key = dg.AssetKey(stream.asset_path)
            frames, letters_by_day, uris = [], {}, {}
            for window, outcome in outcomes:
                suppressed = suppressor.count(stream.source, stream.name) if suppressor else 0
                if latest is not None and outcome.rows is not None:
                    outcome.rows = latest.filter_rows(stream.source, stream.name, outcome.rows)
                    outcome.dead_letters = latest.filter_letters(
                        stream.source, stream.name, outcome.dead_letters
                    )
                    suppressed += latest.count(stream.source, stream.name)
                uri = write_dead_letters(
                    lake, stream.source, stream.name, window.partition, outcome.dead_letters
                )
                # The day's own figures, on the day's own materialization (a range run records one
                # materialization per day).
                context.add_asset_metadata(
                    {**_metadata(outcome, uri), "suppressed_records": dg.MetadataValue.int(suppressed)},
                    asset_key=key,
                    partition_key=window.partition,
                )
                frames.append(outcome.rows)
                if outcome.dead_letters:
                    letters_by_day[window.partition] = outcome.dead_letters
                if uri:
                    uris[window.partition] = uri
            rows = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")
            yield dg.Output(rows, output_name=stream.name)
            # The partition files are in place: the extraction's checkpoints have served their purpose.
            if stream.landed is not None:  # e.g. a fan-out stream's parent state, days in time order
                for window, outcome in sorted(outcomes, key=lambda pair: pair[0].start):
                    prefix = checkpoint_prefix(stream.asset_path, window.partition)
                    stream.landed(lake, stream.asset_path, prefix, window, outcome.rows)
            store = LakeCheckpointStore(lake)
            for window in windows:
                store.clear(checkpoint_prefix(stream.asset_path, window.partition))
            letters = [letter for day in letters_by_day.values() for letter in day]
            errors = sorted({letter.get("error", "") for letter in letters})
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="no_dead_letters",
                passed=not letters,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"{len(letters)} dead letter(s)"
                    + (f" on {', '.join(sorted(letters_by_day))}" if len(windows) > 1 else "")
                    if letters
                    else "none"
                ),
                metadata={
                    "dead_letters": len(letters),
                    "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in errors[:20]) or "none"),
                    # One file per day; the first day's is linked, every day's is on its materialization.
                    **({"uri": dg.MetadataValue.path(next(iter(uris.values())))} if uris else {}),
                },
            )
        if failures and all(permanent):
            # A certificate, a credential or a refusal does not change in the retry policy's
            # seconds: retrying would hammer the vendor and delay the alert. Fix, then re-run.
            raise dg.Failure(
                description=f"{len(failures)} stream day(s) of {source} failed in a way a retry cannot fix; "
                "correct the setting named below, then materialize the partition again (it resumes from "
                "the checkpoints):\n" + "\n".join(failures),
                metadata={"failed_streams": len(failures)},
                allow_retries=False,
            )
        if failures:
            raise dg.Failure(
                description=f"{len(failures)} stream day(s) of {source} did not finish; a retry resumes from "
                "their checkpoints:\n" + "\n".join(failures),
                metadata={"failed_streams": len(failures)},
            )

    return _raw
