"""The IO managers every layer writes through, built from the settings.

``raw_lake_io_manager`` stores raw partitions in the lake; ``io_manager`` (Dagster's default key)
is the DuckDB warehouse, so cleansed, identity and profile assets land there without naming it.
"""

from __future__ import annotations

from typing import Any

from cdp_platform.io.lake_io_manager import RawLakeIOManager
from cdp_platform.io.warehouse import WarehouseIOManager
from cdp_platform.settings import Settings

RAW_IO_MANAGER_KEY = "raw_lake_io_manager"


def io_managers(settings: Settings) -> dict[str, Any]:
    return {
        RAW_IO_MANAGER_KEY: RawLakeIOManager(
            lake_root=settings.lake_root,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
        ),
        "io_manager": WarehouseIOManager(database=str(settings.warehouse_path)),
    }
