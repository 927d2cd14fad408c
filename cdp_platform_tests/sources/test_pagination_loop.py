"""A vendor that loops its pagination longer than the client retries: the stream fails, loudly, and
the next run completes the window from the checkpoint, with exactly the true records.

The in-process sandbox serves Salesforce with a repeated cursor (``nextRecordsUrl`` back to the page
itself) on every page's first three answers, one more than the client asks a looping page again, and
a clean fourth answer (``max_consecutive_faults=3``). So each run fails on a loop one page further
on, and every page is finally read: what lands must be the sandbox's ground truth for the window.
"""

import asyncio

import pytest

from cdp_platform.http import PaginationLoop
from cdp_platform.io.lake import LocalLake
from cdp_platform.sandbox import faults
from cdp_platform.sandbox.credentials import SANDBOX_CREDENTIALS
from cdp_platform.sandbox.faults import FaultProfile
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sources.partitions import partition_window
from cdp_platform.sources.raw_assets import extract_source, retry_cannot_help
from cdp_platform.sources.salesforce import STREAMS, SalesforceResource
from cdp_platform.sources.stream import Window
from cdp_platform_tests.sources.support import SANDBOX_TODAY, expected_ids, truth_records

PERSONS, SEED, SPAN_DAYS = 500, 7, 14
PARTITION = "2026-11-22"
PROFILE = FaultProfile(
    "pagination_loop",
    {"repeated_cursor": 1.0},
    burst_max=1,
    max_consecutive_faults=3,
    page_max=5,  # several pages in one day's window
)


def test_a_loop_beyond_the_retries_fails_the_stream_and_the_next_run_completes_it(tmp_path, monkeypatch):
    monkeypatch.setitem(faults.PROFILES, PROFILE.name, PROFILE)
    vendor = SalesforceResource(
        **SANDBOX_CREDENTIALS["salesforce"],
        server=InProcessSandbox(
            persons=PERSONS, seed=SEED, faults=PROFILE.name, today=SANDBOX_TODAY, span_days=SPAN_DAYS
        ),
    )
    (contacts,) = [stream for stream in STREAMS if stream.name == "contacts"]
    window = Window(PARTITION, *partition_window(PARTITION))
    lake = LocalLake(tmp_path / "lake")
    want = expected_ids(
        truth_records(PERSONS, SEED, tmp_path / "truth", SPAN_DAYS), "salesforce/contacts", PARTITION
    )
    assert len(want) > 3 * PROFILE.page_max, "the window must span several pages"

    loops: list[PaginationLoop] = []
    for _run in range(len(want)):  # a run per page at most; each gets one page further
        (outcome,) = asyncio.run(extract_source(vendor, [contacts], window, lake))
        if outcome.error is None:
            break
        # Loud: the named error, never a complete stream with its tail missing.
        assert isinstance(outcome.error, PaginationLoop), repr(outcome.error)
        assert not outcome.complete and outcome.rows is None
        assert not retry_cannot_help(outcome.error)  # the step's retries resume from the checkpoint
        loops.append(outcome.error)
    else:
        pytest.fail(f"still looping after {len(loops)} runs")

    assert outcome.complete
    got = outcome.rows["record_id"].to_list()
    assert len(got) == len(set(got)), "doubled records"
    lost = sorted(set(want) - set(got))
    assert not lost, f"{len(lost)} of {len(want)} records lost, runs failed on a loop: {len(loops)}"
    assert sorted(got) == want  # nothing from outside the window either

    assert len(loops) >= 3, "the loop must really have stopped runs"
    assert any(result.resumed for result in outcome.results)
    first = loops[0]
    assert (first.stream, first.partition, first.retries) == ("salesforce/contacts", PARTITION, 2)
    assert "/services/data/" in first.cursor and "query/" in first.cursor
    assert f"the next run resumes at page {first.page}" in str(first)
    # Each run resumed from the checkpoint, so each loop was met further on.
    assert [loop.page for loop in loops] == sorted({loop.page for loop in loops})
