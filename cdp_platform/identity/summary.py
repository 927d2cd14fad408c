"""A resolution in numbers, for asset metadata and run logs."""

from __future__ import annotations

from typing import Any

import polars as pl

from cdp_platform.identity.resolve import Resolution


def summarize(resolution: Resolution) -> dict[str, Any]:
    """Clients, records, the largest client, links by rule, refused merges by reason, changes by kind.

    Plain ints and strings only, so the result can go straight into Dagster metadata or JSON.
    """
    sizes = resolution.mapping.group_by("client_id").len()
    return {
        "records": resolution.mapping.height,
        "clients": sizes.height,
        "clients_with_several_records": int(sizes.filter(pl.col("len") > 1).height),
        "largest_client_records": int(sizes["len"].max() or 0),
        "links_by_rule": counts(resolution.links, "rule"),
        "refused_merges": resolution.refused.height,
        "refused_by_reason": counts(resolution.refused, "reason"),
        "changes": counts(resolution.changes, "change"),
    }


def counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of ``column``, as plain ``{str: int}`` (JSON and metadata ready)."""
    counts = frame.group_by(column).len().sort(column)
    return {str(key): int(count) for key, count in counts.iter_rows()}
