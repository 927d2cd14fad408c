"""The IO managers and storage resources every layer uses, built from the settings.

``raw_lake_io_manager`` stores raw partitions in the lake; ``io_manager`` (Dagster's default key)
is the warehouse (a DuckDB file or a DuckLake), so cleansed, identity and profile assets land there without naming it;
``lake`` and ``warehouse`` give direct access for checkpoints, dead letters and SQL.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from cdp_platform.io.lake import Lake, lake_from_root
from cdp_platform.io.lake_io_manager import RawLakeIOManager
from cdp_platform.io.warehouse import WarehouseIOManager, WarehouseResource
from cdp_platform.settings import Settings

RAW_IO_MANAGER_KEY = "raw_lake_io_manager"


class LakeResource(dg.ConfigurableResource):
    """The lake itself, for what is not an asset value: checkpoints and dead letters."""

    lake_root: str = ".cdp/lake"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    def lake(self) -> Lake:
        return lake_from_root(self.lake_root, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region)


def io_resources(settings: Settings) -> dict[str, Any]:
    """The IO managers, the lake and the warehouse connection, all from the settings."""
    lake = {"lake_root": settings.lake_root, "s3_endpoint_url": settings.s3_endpoint_url, "s3_region": settings.s3_region}
    return {
        RAW_IO_MANAGER_KEY: RawLakeIOManager(**lake),
        "lake": LakeResource(**lake),
        # The file or the DuckLake, as the settings say (see cdp_platform.io.warehouse).
        "io_manager": WarehouseIOManager.from_target(settings.warehouse),
        "warehouse": WarehouseResource.from_target(settings.warehouse),
    }
