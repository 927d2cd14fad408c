"""Raw assets: one multi-asset per source, one output per stream, one daily partition per run.

A run extracts the partition's window of every selected stream concurrently (one client per
stream; the vendor's pacer and circuit breaker are shared, so together they stay within its
budget). Every page is spooled to the lake and checkpointed as it arrives; when a stream is
complete its rows are de-duplicated by id and handed to the raw lake IO manager, which replaces
the partition file atomically, and then its checkpoint is cleared. A run killed at any moment
resumes from the last checkpoint; a stream that fails does not stop the others from landing.

Records of people who asked to be erased are dropped from every page before it is spooled, and
once more before the partition is written (see :mod:`cdp_platform.privacy.suppression`); the
count, never the values, is the ``suppressed_records`` metadata of each stream.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from cdp_platform.http import ExtractResult, VendorClient, extract
from cdp_platform.http.errors import ExpiredCredentials, RetriesExhausted, VendorError
from cdp_platform.http.pagination import Page
from cdp_platform.http.tls import TlsVerificationError
from cdp_platform.io.checkpoints import LakeCheckpointStore, PageSpool, checkpoint_prefix
from cdp_platform.io.dead_letters import write_dead_letters
from cdp_platform.io.lake import Lake
from cdp_platform.io.resources import RAW_IO_MANAGER_KEY
from cdp_platform.privacy.suppression import Suppressor
from cdp_platform.sources.partitions import partition_window
from cdp_platform.sources.stream import Stream, StreamContext, Window, finalize_rows, page_rows
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
    ctx = StreamContext(client, window, options, page_size)
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
    outcome.stats = client.stats.snapshot()
    return outcome


async def extract_source(
    vendor: VendorResource,
    streams: Sequence[Stream],
    window: Window,
    lake: Lake,
    suppressor: Suppressor | None = None,
) -> list[StreamOutcome]:
    vendor.require_credentials()
    options = vendor.account_options()
    auth = vendor.auth()  # shared, so an OAuth token is fetched once per run, not per stream
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
    warnings = [w for r in results for w in r.warnings]
    if warnings:
        meta["warnings"] = dg.MetadataValue.md("\n".join(f"- {w}" for w in warnings[:50]))
    if dead_letter_uri:
        meta["dead_letter_uri"] = dg.MetadataValue.path(dead_letter_uri)
    return meta


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
        backfill_policy=dg.BackfillPolicy.multi_run(1),
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
        start, end = partition_window(context.partition_key)
        window = Window(context.partition_key, start, end)
        selected = [
            by_output[name]
            for name in sorted(context.op_execution_context.selected_output_names)
            if name in by_output
        ]
        suppressor = Suppressor.load(lake)  # None (and no hashing) while nobody was erased
        outcomes = asyncio.run(extract_source(vendor, selected, window, lake, suppressor))
        # Read the list again: a person erased while this run was fetching must not land either.
        latest = Suppressor.load(lake)

        failures = []
        permanent = []
        for outcome in outcomes:
            stream = outcome.stream
            if not outcome.complete:
                permanent.append(retry_cannot_help(outcome.error))
                reason = outcome.error or next(
                    (w for r in outcome.results for w in r.warnings), "extraction stopped before the end"
                )
                failures.append(f"{stream.source}/{stream.name}: {reason}")
                continue
            suppressed = suppressor.count(stream.source, stream.name) if suppressor else 0
            if latest is not None and outcome.rows is not None:
                outcome.rows = latest.filter_rows(stream.source, stream.name, outcome.rows)
                outcome.dead_letters = latest.filter_letters(stream.source, stream.name, outcome.dead_letters)
                suppressed += latest.count(stream.source, stream.name)
            uri = write_dead_letters(lake, stream.source, stream.name, window.partition, outcome.dead_letters)
            metadata = {**_metadata(outcome, uri), "suppressed_records": dg.MetadataValue.int(suppressed)}
            yield dg.Output(outcome.rows, output_name=stream.name, metadata=metadata)
            # The partition file is in place: the extraction's checkpoint has served its purpose.
            LakeCheckpointStore(lake).clear(checkpoint_prefix(stream.asset_path, window.partition))
            errors = sorted({letter.get("error", "") for letter in outcome.dead_letters})
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey(stream.asset_path),
                check_name="no_dead_letters",
                passed=not outcome.dead_letters,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{len(outcome.dead_letters)} dead letter(s)" if outcome.dead_letters else "none",
                metadata={
                    "dead_letters": len(outcome.dead_letters),
                    "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in errors[:20]) or "none"),
                    **({"uri": dg.MetadataValue.path(uri)} if uri else {}),
                },
            )
        if failures and all(permanent):
            # A certificate, a credential or a refusal does not change in the retry policy's
            # seconds: retrying would hammer the vendor and delay the alert. Fix, then re-run.
            raise dg.Failure(
                description=f"{len(failures)} stream(s) of {source} failed in a way a retry cannot fix; "
                "correct the setting named below, then materialize the partition again (it resumes from "
                "the checkpoints):\n" + "\n".join(failures),
                metadata={"failed_streams": len(failures)},
                allow_retries=False,
            )
        if failures:
            raise dg.Failure(
                description=f"{len(failures)} stream(s) of {source} did not finish; a retry resumes from "
                "their checkpoints:\n" + "\n".join(failures),
                metadata={"failed_streams": len(failures)},
            )

    return _raw
