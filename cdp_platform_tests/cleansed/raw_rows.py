"""Raw rows as the raw layer writes them (``RAW_SCHEMA``), made from sandbox records.

The shaping follows the raw streams: GA4 rows are ``{"dimensions", "metrics"}`` with the id
``date:client:crm:sourceMedium``; a tweet's author goes to the context; a comment's parent id is
moved from the record to the context; HubSpot's associations go to the context as id lists (the
search API returns none inline).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import polars as pl

from cdp_platform.cleansed import normalize
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.records import SandboxData
from cdp_platform.sources.stream import RAW_SCHEMA

CONFIG = SandboxConfig(persons=400, seed=11)
PARTITION = date(2026, 11, 20)


@cache
def sandbox() -> SandboxData:
    return SandboxData(CONFIG)


def _ga_id(payload: dict) -> str:
    d = payload["dimensions"]
    return (
        f"{d.get('date')}:{d.get('customUser:ga_client_id')}:{d.get('customUser:crm_contact_id')}"
        f":{d.get('sessionSourceMedium')}"
    )


def _twitter(record: dict) -> tuple[dict, dict | None]:
    user = sandbox().twitter_user(str(record.get("author_id")))
    return record, ({"author": user} if user else None)


def _hubspot(record: dict) -> tuple[dict, dict | None]:
    """The search result (no inline associations) and its associations read separately, as ids."""
    payload = {k: v for k, v in record.items() if k != "associations"}
    links = {
        name: [item["id"] for item in linked.get("results", [])]
        for name, linked in (record.get("associations") or {}).items()
    }
    return payload, ({"associations": links} if links else None)


def _moved(parent: str) -> Callable[[dict], tuple[dict, dict | None]]:
    def shape(record: dict) -> tuple[dict, dict | None]:
        rest = {k: v for k, v in record.items() if k != parent}
        return rest, ({parent: record[parent]} if parent in record else None)

    return shape


# stream → (id of a payload, updated field, shape of a sandbox record into payload and context)
STREAMS: dict[
    str, tuple[Callable[[dict], Any], Callable[[dict], Any], Callable[[dict], tuple[dict, dict | None]]]
] = {
    "salesforce/accounts": (lambda p: p.get("Id"), lambda p: p.get("SystemModstamp"), lambda r: (r, None)),
    "salesforce/contacts": (lambda p: p.get("Id"), lambda p: p.get("SystemModstamp"), lambda r: (r, None)),
    "salesforce/leads": (lambda p: p.get("Id"), lambda p: p.get("SystemModstamp"), lambda r: (r, None)),
    "salesforce/opportunities": (
        lambda p: p.get("Id"),
        lambda p: p.get("SystemModstamp"),
        lambda r: (r, None),
    ),
    "hubspot/contacts": (lambda p: p.get("id"), lambda p: p.get("updatedAt"), _hubspot),
    "hubspot/companies": (lambda p: p.get("id"), lambda p: p.get("updatedAt"), _hubspot),
    "hubspot/deals": (lambda p: p.get("id"), lambda p: p.get("updatedAt"), _hubspot),
    "google_analytics/user_daily_activity": (
        _ga_id,
        lambda p: p["dimensions"].get("date"),
        lambda r: (r, None),
    ),
    "facebook/leads": (lambda p: p.get("id"), lambda p: p.get("created_time"), lambda r: (r, None)),
    "facebook/page_posts": (lambda p: p.get("id"), lambda p: p.get("created_time"), lambda r: (r, None)),
    "facebook/post_comments": (lambda p: p.get("id"), lambda p: p.get("created_time"), _moved("post_id")),
    "instagram/media": (lambda p: p.get("id"), lambda p: p.get("timestamp"), lambda r: (r, None)),
    "instagram/media_comments": (lambda p: p.get("id"), lambda p: p.get("timestamp"), _moved("media_id")),
    "twitter/mentions": (lambda p: p.get("id"), lambda p: p.get("created_at"), _twitter),
}


def records(stream: str, count: int) -> list[dict]:
    """The first ``count`` sandbox records of a stream, as the vendor sends them."""
    data = sandbox()
    return [data.record(stream, p) for p in range(min(count, data.count(stream)))]


def shaped(stream: str, record: dict) -> tuple[dict, dict | None]:
    return STREAMS[stream][2](record)


def raw_frame(
    stream: str, payloads: Iterable[tuple[dict, dict | None]], partition: date = PARTITION
) -> pl.DataFrame:
    """Raw rows of already shaped ``(payload, context)`` pairs, as ``page_rows`` writes them."""
    id_of, updated_of, _ = STREAMS[stream]
    rows = list(payloads)
    frame = pl.DataFrame(
        {
            "record_id": [str(id_of(p)) for p, _ in rows],
            "updated_raw": [None if updated_of(p) is None else str(updated_of(p)) for p, _ in rows],
            "payload": [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p, _ in rows],
            "context": [json.dumps(c, separators=(",", ":")) if c else None for _, c in rows],
        },
        schema={"record_id": pl.String, "updated_raw": pl.String, "payload": pl.String, "context": pl.String},
    )
    return frame.select(
        "record_id",
        normalize.timestamp("updated_raw").alias("updated_at"),
        "payload",
        "context",
        pl.lit(partition, pl.Date).alias("partition_date"),
        pl.lit("all", pl.String).alias("slice"),
        pl.lit(1, pl.Int32).alias("page"),
        pl.lit("GET /test", pl.String).alias("request"),
        pl.lit(datetime(2026, 11, 21, tzinfo=UTC), pl.Datetime("us", "UTC")).alias("fetched_at"),
    ).cast(RAW_SCHEMA)  # type: ignore[arg-type]


def raw_of(stream: str, count: int, partition: date = PARTITION) -> pl.DataFrame:
    """Raw rows of the first ``count`` sandbox records of ``stream``."""
    return raw_frame(stream, (shaped(stream, r) for r in records(stream, count)), partition)
