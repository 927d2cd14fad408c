"""The sandbox's own record corruptions and schema drifts, per stream, applied to one record.

Each vendor module's ``_corrupt(record, variant)`` and ``_drift(record)`` are what the sandbox
applies to served pages; calling them here means the tests see exactly the malformed records a
client receives. GA4 corrupts report rows (``dimensionValues``/``metricValues`` lists), so a
record is turned into a row and back the way the raw layer zips rows with their headers.
"""

from __future__ import annotations

from collections.abc import Callable

from cdp_platform.sandbox.vendors import ga4, graph, hubspot, salesforce, twitter
from cdp_platform.sandbox.vendors.common import drift_first_number

MALFORMED_VARIANTS = ("missing_id", "bad_email", "other_date_format", "wrong_type")


def _ga4(change: Callable[[dict], dict | None]) -> Callable[[dict], dict | None]:
    def apply(record: dict) -> dict | None:
        dimensions, metrics = list(record["dimensions"]), list(record["metrics"])
        row = {
            "dimensionValues": [{"value": record["dimensions"][n]} for n in dimensions],
            "metricValues": [{"value": record["metrics"][n]} for n in metrics],
        }
        changed = change(row)
        if changed is None:
            return None
        return {
            "dimensions": {
                n: c["value"] for n, c in zip(dimensions, changed["dimensionValues"], strict=True)
            },
            "metrics": {n: c["value"] for n, c in zip(metrics, changed["metricValues"], strict=True)},
        }

    return apply


def _salesforce_drift(record: dict) -> dict | None:
    return drift_first_number(record, frozenset({"attributes"}))


def corrupt(stream: str, record: dict, variant: str) -> dict | None:
    """``record`` damaged the way the sandbox damages one record of a page (None: not applicable)."""
    vendor = stream.split("/")[0]
    if vendor == "salesforce":
        return salesforce._corrupt(record, variant)
    if vendor == "hubspot":
        return hubspot._corrupt(record, variant)
    if vendor == "google_analytics":
        return _ga4(lambda row: ga4._corrupt(row, variant))(record)
    if vendor in ("facebook", "instagram"):
        return graph._corrupt(record, variant)
    return twitter._corrupt(record, variant)


def drift(stream: str, record: dict) -> dict | None:
    """``record`` with the type change the sandbox applies to every record of a drifted page."""
    vendor = stream.split("/")[0]
    if vendor == "salesforce":
        return _salesforce_drift(record)
    if vendor == "hubspot":
        return hubspot._drift(record)
    if vendor == "google_analytics":
        return _ga4(ga4._drift)(record)
    if vendor in ("facebook", "instagram"):
        return graph._drift(record)
    return twitter._drift(record)
