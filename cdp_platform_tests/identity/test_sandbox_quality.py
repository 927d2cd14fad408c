"""Quality on the default sandbox population (2,000 persons) against its ground truth.

The issue's bar: precision >= 0.999 and recall >= 0.99, household members and namesakes never
merged. Measured: precision 1.0, recall 0.9907, no client holding two people. What links the social
profiles that share no identifier with a CRM record: the number a person carries from mailbox to
handle (Splink's chosen-name comparison), a handle that spells the client's name with that number
(``handle_name``), and a display name only one rich client carries (``unique_name``) unless another
client's last name is one typo away or the profile's handle number is not the client's. The
remaining misses are Facebook commenters (a display name and a page-scoped id, nothing else) whose
name two clients carry or is too common to link on.
"""

from __future__ import annotations

import polars as pl
import pytest

from cdp_platform.identity import Resolution, evaluate, resolve
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.identity_candidates import PERSON_STREAMS, SandboxCandidates, sandbox_candidates
from cdp_platform.sandbox.records import SandboxData

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_sandbox() -> SandboxCandidates:
    return sandbox_candidates(SandboxData(SandboxConfig()))


@pytest.fixture(scope="module")
def resolution(default_sandbox: SandboxCandidates) -> Resolution:
    return resolve(default_sandbox.records)


@pytest.fixture(scope="module")
def graded(default_sandbox: SandboxCandidates, resolution: Resolution) -> pl.DataFrame:
    return resolution.mapping.join(default_sandbox.truth, on="record_id")


def test_candidates_cover_every_person_like_stream(default_sandbox: SandboxCandidates) -> None:
    streams = set(default_sandbox.truth["stream"].unique().to_list())
    assert streams == set(PERSON_STREAMS)
    assert default_sandbox.truth["person_id"].null_count() == 0
    assert default_sandbox.records["record_id"].n_unique() == default_sandbox.records.height


def test_precision_and_recall(default_sandbox: SandboxCandidates, resolution: Resolution) -> None:
    scores = evaluate(resolution.mapping, default_sandbox.truth)
    assert scores["precision"] >= 0.999
    assert scores["multi_person_clusters"] == 0
    assert scores["recall"] >= 0.99


def test_household_members_are_never_merged(graded: pl.DataFrame) -> None:
    members = graded.filter(pl.col("household_of").is_not_null()).select("client_id", "household_of")
    assert members.height > 0
    roots = graded.select("client_id", pl.col("person_id").alias("household_of"))
    together = members.join(roots, on=["client_id", "household_of"])
    assert together.height == 0


def test_namesakes_are_never_merged(graded: pl.DataFrame) -> None:
    namesakes = graded.filter(pl.col("namesake"))
    assert namesakes["person_id"].n_unique() > 20
    persons_per_client = namesakes.group_by("client_id").agg(pl.col("person_id").n_unique())
    assert persons_per_client["person_id"].max() == 1
    # The namesakes' clients hold only that person's records, not another namesake's or anyone's.
    clients = graded.filter(pl.col("client_id").is_in(namesakes["client_id"].implode()))
    assert clients.group_by("client_id").agg(pl.col("person_id").n_unique())["person_id"].max() == 1


def test_true_duplicates_in_one_crm_are_merged(graded: pl.DataFrame) -> None:
    # Persons entered twice in one CRM: their two records of that stream share a client.
    crm = graded.filter(pl.col("stream").is_in(["salesforce/contacts", "hubspot/contacts"]))
    twice = (
        crm.group_by("stream", "person_id")
        .agg(pl.col("client_id").n_unique(), pl.len())
        .filter(pl.col("len") > 1)
    )
    assert twice.height > 20
    assert (twice["client_id"] == 1).mean() >= 0.95
