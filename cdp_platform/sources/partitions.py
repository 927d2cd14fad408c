"""The daily partitions shared by the raw and cleansed layers.

Partition D holds what a vendor created or changed in [D, D+1) UTC. ``end_offset=1`` makes today's
(still open) partition addressable, so the near-real-time sensors can refresh it during the day;
the daily schedule materializes yesterday, which is complete.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg


def daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


def partition_window(partition_key: str) -> tuple[datetime, datetime]:
    """The [start, end) UTC window of a daily partition key."""
    start = datetime.fromisoformat(partition_key).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)
