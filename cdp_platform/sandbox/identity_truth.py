"""The true person behind every identity candidate the pipeline makes from the bundled sandbox.

Against the sandbox, ``identity_map`` grades itself: the sandbox knows which person every record it
serves belongs to. The pipeline's candidates (``int_identity_candidates``) are keyed as

- ``<system>:<object>:<vendor id>`` for CRM records, lead forms and shop customers (one candidate
  per record);
- ``<network>:commenters:<user id or name>``, ``<network>:authors:<user id>``: one candidate per
  social profile, over all its comments or posts;
- ``<analytics>:visitors:<client id>``: one candidate per browser cookie.

Each vendor module says which keys its records produce (``EmulatedVendor.identity_keys``). This
module maps those keys to person ids from the sandbox's own records (not from the warehouse),
so the grade does not depend on the pipeline having carried the ids correctly. The local default
gives it to the asset as its ``identity_truth`` resource (:mod:`cdp_platform.sandbox.wiring`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp_platform.identity.grading import IdentityTruth
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.plugins import emulated_vendors
from cdp_platform.sandbox.population import person_id
from cdp_platform.sandbox.records import SandboxData


def candidate_persons(data: SandboxData) -> pl.DataFrame:
    """(record_id, person_id): every candidate key the sandbox's records can produce, with its person."""
    ids: list[str] = []
    persons: list[int] = []
    for vendor in emulated_vendors():
        if vendor.identity_keys is None:
            continue
        for keys, owners in vendor.identity_keys(data):
            ids.extend(keys)
            persons.extend(int(owner) for owner in owners)
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
