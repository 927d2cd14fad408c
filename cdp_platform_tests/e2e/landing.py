"""Raw landings the end-to-end tests of a module share.

Raw assets write only to the lake (their resources are the vendor clients and the lake), never to
the warehouse, so two tests that fetch the same sandbox's history differ only in what comes after:
the whole-history tests in the warehouse kind, the Stripe tests in how Stripe is reached. A module
fixture lands the shared part once, in a pristine lake; each test copies it (cleansed and the
privacy assets write to their lake) and keeps the landing's run results with its own, so its
"every run succeeded, every check passed" still covers raw.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from cdp_platform.definitions import build_definitions
from cdp_platform.settings import load_settings


@dataclass(frozen=True)
class Landing:
    """A lake holding raw partitions, and the runs that landed them."""

    lake: Path
    results: list[dg.ExecuteInProcessResult]
    keys: list[dg.AssetKey]

    def copy_to(self, lake: Path) -> Path:
        """A copy of the landed lake at ``lake`` (for one test to write to)."""
        shutil.copytree(self.lake, lake)
        return lake


def raw_keys(
    defs: dg.Definitions, predicate: Callable[[dg.AssetKey], bool] = lambda _: True
) -> list[dg.AssetKey]:
    """The materializable raw assets of ``defs`` that ``predicate`` selects."""
    graph = defs.resolve_asset_graph()
    return sorted(
        k
        for k in graph.get_all_asset_keys()
        if k.path[0] == "raw" and graph.get(k).is_materializable and predicate(k)
    )


def land_raw(
    environ: dict[str, str],
    days: list[str],
    predicate: Callable[[dg.AssetKey], bool] = lambda _: True,
) -> Landing:
    """Materialize the selected raw assets one daily partition a run, as the whole-history tests do,
    into the lake of ``environ`` (CDP_LAKE_ROOT)."""
    defs = build_definitions(load_settings(environ))
    keys = raw_keys(defs, predicate)
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[dg.define_asset_job("raw", selection=keys)]))
    instance = dg.DagsterInstance.ephemeral()
    results = [
        job.resolve_job_def("raw").execute_in_process(partition_key=day, instance=instance) for day in days
    ]
    return Landing(Path(environ["CDP_LAKE_ROOT"]), results, keys)
