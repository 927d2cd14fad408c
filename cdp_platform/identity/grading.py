"""Where ``identity_map`` gets the truth it grades itself against: a resource given from outside.

Only an emulator knows which person each record belongs to. The asset asks this resource; the
default knows nobody (a real deployment: no ``eval_*`` metadata), and the local default's sandbox
wiring (:mod:`cdp_platform.sandbox.wiring`) gives a subclass that reads the sandbox's own records.
Keeping the truth behind a resource is what lets a production code location run the same asset
without ever importing the emulator.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

IDENTITY_TRUTH_KEY = "identity_truth"


class IdentityTruth(dg.ConfigurableResource):
    """The true person of each identity candidate, where one is known. This base knows none."""

    def true_persons(self) -> pl.DataFrame | None:
        """(record_id, person_id) of every candidate key whose person is known; None: no truth
        available, so the map is not graded."""
        return None
