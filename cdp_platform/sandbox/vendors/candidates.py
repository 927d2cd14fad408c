"""Identity candidate keys as the pipeline makes them (``int_identity_candidates``), for the vendor
modules' part of the identity truth (``EmulatedVendor.identity_keys``).

Two shapes cover the records a vendor serves: one candidate per record, keyed
``<system>:<object>:<record id>`` (CRM records, lead forms, shop customers), and one candidate per
social profile over all its comments or posts, keyed ``<prefix><profile id>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def record_keys(data: Any, stream: str) -> tuple[list[str], list[int]]:
    """One key per record of ``stream``, with the record's person index (-1: no person)."""
    positions = np.arange(data.count(stream))
    prefix = stream.replace("/", ":") + ":"
    ids = [prefix + record_id for record_id in data.record_ids(stream, positions)]
    return ids, data.person_index(stream, positions).tolist()


def profile_keys(
    data: Any, stream: str, prefix: str, profile_of: Callable[[dict], object]
) -> tuple[list[str], list[int]]:
    """One key per record of ``stream`` that names a profile (records without one are skipped)."""
    owners = data.person_index(stream, np.arange(data.count(stream)))
    ids: list[str] = []
    persons: list[int] = []
    for position in data.all_positions(stream):
        profile = profile_of(data.record(stream, position))
        if profile:
            ids.append(prefix + str(profile))
            persons.append(int(owners[position]))
    return ids, persons
