"""The true person behind every identity candidate the pipeline makes from the bundled sandbox.

Against the sandbox, ``identity_map`` grades itself: the sandbox knows which person every record it
serves belongs to. The pipeline's candidates (``int_identity_candidates``) are keyed as

- ``<system>:<object>:<vendor id>`` for CRM records, lead forms and Stripe customers (one candidate
  per record);
- ``facebook:commenters:<user id>``, ``instagram:commenters:<username>``,
  ``twitter:authors:<user id>``: one candidate per social profile, over all its comments or tweets;
- ``google_analytics:visitors:<client id>``: one candidate per browser cookie.

This module maps those keys to person ids from the sandbox's own records (not from the warehouse),
so the grade does not depend on the pipeline having carried the ids correctly. The local default
gives it to the asset as its ``identity_truth`` resource (:mod:`cdp_platform.sandbox.wiring`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp_platform.identity.grading import IdentityTruth
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.population import person_id
from cdp_platform.sandbox.records import SandboxData

RECORD_STREAMS: tuple[str, ...] = (
    "salesforce/contacts",
    "salesforce/leads",
    "hubspot/contacts",
    "facebook/leads",
)
GA_STREAM = "google_analytics/user_daily_activity"


def _profile_of(stream: str, record: dict) -> str | None:
    if stream == "facebook/post_comments":
        return (record.get("from") or {}).get("id")
    if stream == "instagram/media_comments":
        return record.get("username")
    return record.get("author_id")


_PROFILE_STREAMS = {
    "facebook/post_comments": "facebook:commenters:",
    "instagram/media_comments": "instagram:commenters:",
    "twitter/mentions": "twitter:authors:",
}


def candidate_persons(data: SandboxData) -> pl.DataFrame:
    """(record_id, person_id): every candidate key the sandbox's records can produce, with its person."""
    ids: list[str] = []
    persons: list[int] = []
    for stream in RECORD_STREAMS:
        positions = np.arange(data.count(stream))
        prefix = stream.replace("/", ":") + ":"
        ids.extend(prefix + record_id for record_id in data.record_ids(stream, positions))
        persons.extend(data.person_index(stream, positions).tolist())
    for stream, prefix in _PROFILE_STREAMS.items():
        owners = data.person_index(stream, np.arange(data.count(stream)))
        for position in data.all_positions(stream):
            profile = _profile_of(stream, data.record(stream, position))
            if profile:
                ids.append(prefix + str(profile))
                persons.append(int(owners[position]))
    from cdp_platform.sandbox.vendors.stripe import truth_records

    for stream, record_ids, owners, _ in truth_records(data):
        if stream == "stripe/customers":  # the web shop's customers, one candidate each
            ids.extend("stripe:customers:" + record_id for record_id in record_ids)
            persons.extend(owners.tolist())
    positions = np.arange(data.count(GA_STREAM))
    visitors = [record_id.split(":", 1)[1] for record_id in data.record_ids(GA_STREAM, positions)]
    ids.extend("google_analytics:visitors:" + visitor for visitor in visitors)
    persons.extend(data.person_index(GA_STREAM, positions).tolist())
    frame = pl.DataFrame(
        {"record_id": ids, "person_index": np.asarray(persons, dtype=np.int64)},
        schema={"record_id": pl.String, "person_index": pl.Int64},
    ).unique()
    ambiguous = frame.group_by("record_id").len().filter(pl.col("len") > 1)
    if ambiguous.height:
        raise ValueError(
            f"{ambiguous.height} candidate keys belong to two sandbox persons, e.g. {ambiguous['record_id'][0]}"
        )
    return frame.filter(pl.col("person_index") >= 0).select(
        "record_id",
        pl.col("person_index").map_elements(person_id, return_dtype=pl.String).alias("person_id"),
    )


class SandboxIdentityTruth(IdentityTruth):
    """The true persons of the in-process sandbox's candidates (the world the raw assets were served).

    Given only when every vendor is the in-process sandbox: a sandbox on a port is graded by hand
    (``cdp-sandbox truth``), from here it looks like a vendor.
    """

    server: InProcessSandbox

    def true_persons(self) -> pl.DataFrame:
        # The very SandboxData the connectors are served from in this process (cached per config).
        return candidate_persons(self.server.data())
