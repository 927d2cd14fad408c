"""``extract``: run a paginator to its end with a checkpoint after every page.

Order per page: first ``on_page(page)``, where the caller durably appends the page's records
beside the partition, then the checkpoint with the state after that page. Why this order is
crash-safe: a crash after the append but before the checkpoint leaves a checkpoint pointing at the
page just appended, so the resumed run fetches that page again and appends it a second time; the
caller de-duplicates by id when it finalizes the partition, so nothing is doubled in the result.
The other order (checkpoint first) would lose the page for good if the crash fell between the two.

A checkpoint marked ``done`` means the pages are all appended; a later call returns at once with
``already_done`` so the caller can finalize from what it stored, and the caller clears the key
once the partition is finalized. A paginator that stops before the end (an unreadable page) leaves
a checkpoint that is *not* done, pointing at that page, so the next call asks for it again; one
that meets a pagination loop raises before handing the looping page on, so the checkpoint stays
at it. (A done-but-incomplete checkpoint, as earlier versions saved for an unreadable page, is
resumed too: returning it as done would fail every later run without fetching anything.) A checkpoint whose first-request fingerprint differs (another
query under the same key) is ignored with a warning: a cursor is only valid for its own query.

Pages are pipelined one deep: while page N is appended and checkpointed (``on_page``, then the
checkpoint save, in that order, in a task of their own), the request for page N+1 is already on
its way. Page N+1 is handed on only after page N's checkpoint is saved, and an error while fetching
waits for page N's checkpoint first, so the order on storage is the one described above and a kill
at any instant leaves the same states as fetching one page at a time; the network wait and the
writes simply overlap. The checkpoint is saved in a worker thread (a file store fsyncs), so other
extractions of the same event loop (other streams and days of the run) are not held up by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .checkpoint import Checkpoint, CheckpointStore, fingerprint
from .client import RequestSpec, VendorClient
from .dead_letters import DeadLetter
from .pagination import Page, Paginator
from .redaction import library_logger

logger = library_logger(__name__)

OnPage = Callable[[Page], Awaitable[None] | None]


@dataclass
class ExtractResult:
    """What one call fetched. ``records`` and ``pages`` count this call only (the checkpoint holds the
    running totals across resumed runs); ``stats`` is the client's stats snapshot at the end."""

    records: int
    pages: int
    dead_letters: list[DeadLetter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    complete: bool = False
    resumed: bool = False
    already_done: bool = False
    final_state: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


async def extract(
    client: VendorClient,
    paginator: Paginator,
    first_request: RequestSpec,
    *,
    checkpoint_store: CheckpointStore,
    checkpoint_key: str,
    on_page: OnPage,
    stream: str = "",
    partition: str = "",
    first_page: tuple[Any, httpx.Response] | None = None,
) -> ExtractResult:
    """Fetch every page of ``first_request``, resuming from ``checkpoint_key`` if a run stopped.

    ``first_page``: the body and response of ``first_request`` if the caller already sent it; used
    only when the extraction starts from the first page (no checkpoint to resume from).
    """
    request_fp = fingerprint(first_request.to_dict())
    warnings: list[str] = []
    saved = checkpoint_store.load(checkpoint_key)
    checkpoint: Checkpoint | None = Checkpoint.from_dict(saved) if saved else None
    if checkpoint is not None and checkpoint.request_fingerprint != request_fp:
        warnings.append(f"checkpoint {checkpoint_key} belongs to another request; starting over")
        checkpoint = None
    if checkpoint is not None and checkpoint.done and checkpoint.complete:
        return ExtractResult(
            records=0,
            pages=0,
            warnings=warnings,
            complete=checkpoint.complete,
            resumed=True,
            already_done=True,
            final_state=checkpoint.next_state,
            stats=client.stats.snapshot(),
        )
    resumed = checkpoint is not None and checkpoint.next_state is not None
    state = checkpoint.next_state if checkpoint else None
    total_records = checkpoint.records_so_far_count if checkpoint else 0
    total_pages = checkpoint.pages if checkpoint else 0
    if resumed:
        logger.info("%s %s: resuming after page %d", stream, partition, total_pages)
    result = ExtractResult(records=0, pages=0, warnings=warnings, resumed=resumed)

    async def commit(page: Page, checkpoint: Checkpoint) -> None:
        outcome = on_page(page)
        if inspect.isawaitable(outcome):
            await outcome
        await asyncio.to_thread(checkpoint_store.save, checkpoint_key, checkpoint.to_dict())

    pending: asyncio.Task[None] | None = None  # the previous page's append and checkpoint
    try:
        async for page in paginator.pages(
            client,
            first_request,
            state=state,
            stream=stream,
            partition=partition,
            start_number=total_pages + 1,
            first_page=first_page,
        ):
            if pending is not None:
                await pending  # page N-1 appended and checkpointed before page N is handed on
                pending = None
            total_records += len(page.records)
            total_pages += 1
            result.records += len(page.records)
            result.pages += 1
            result.dead_letters.extend(page.dead_letters)
            result.warnings.extend(page.warnings)
            result.complete = page.complete
            result.final_state = page.state
            checkpoint = Checkpoint(
                stream=stream,
                partition=partition,
                next_state=page.state,
                records_so_far_count=total_records,
                pages=total_pages,
                updated_at=datetime.now(UTC).isoformat(),
                done=page.done and page.complete,
                complete=page.complete,
                request_fingerprint=request_fp,
            )
            pending = asyncio.ensure_future(commit(page, checkpoint))
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:
            # Fetching failed (or the run was cancelled) while the previous page was being
            # committed: let that commit finish, so its checkpoint is saved as it would have been
            # without the overlap; the fetch error is the one raised.
            with contextlib.suppress(BaseException):
                await asyncio.shield(pending)
    result.stats = client.stats.snapshot()
    return result
