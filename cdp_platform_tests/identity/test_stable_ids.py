"""Stable client ids: kept across runs, the oldest wins a merge, splits and merges are logged."""

from __future__ import annotations

import datetime

import polars as pl

from cdp_platform.identity import ProbabilisticConfig, ResolutionConfig, resolve
from cdp_platform.identity.stable_ids import assign_client_ids, new_client_id

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
T1 = datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)
T2 = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
DETERMINISTIC_ONLY = ResolutionConfig(
    probabilistic=ProbabilisticConfig(enabled=False), link_unique_names=False
)


def _clusters(assignment: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame({"record_id": list(assignment), "cluster": list(assignment.values())})


def _previous(rows: list[tuple[str, str, datetime.datetime]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"record_id": pl.String, "client_id": pl.String, "first_seen": pl.Datetime("us", "UTC")},
        orient="row",
    )


def _ids(mapping: pl.DataFrame) -> dict[str, str]:
    return dict(zip(mapping["record_id"], mapping["client_id"], strict=True))


def test_new_ids_are_reproducible_and_logged_as_new() -> None:
    mapping, changes = assign_client_ids(_clusters({"a": 0, "b": 0, "c": 2}), None, T0)
    again, _ = assign_client_ids(_clusters({"a": 0, "b": 0, "c": 2}), None, T0)
    assert _ids(mapping) == _ids(again)
    assert _ids(mapping)["a"] == _ids(mapping)["b"] == new_client_id("a")
    assert changes["change"].to_list() == ["new", "new"]
    assert mapping["first_seen"].to_list() == [T0, T0, T0]


def test_a_client_keeps_its_id_when_records_arrive() -> None:
    previous = _previous([("a", "c_old", T0)])
    mapping, changes = assign_client_ids(_clusters({"a": 0, "new": 0}), previous, T1)
    assert _ids(mapping) == {"a": "c_old", "new": "c_old"}
    first_seen = dict(zip(mapping["record_id"], mapping["first_seen"], strict=True))
    assert first_seen == {"a": T0, "new": T1}
    assert changes.height == 0


def test_a_merge_keeps_the_oldest_id_and_logs_the_one_that_went() -> None:
    previous = _previous([("a", "c_young", T1), ("b", "c_old", T0)])
    mapping, changes = assign_client_ids(_clusters({"a": 0, "b": 0, "link": 0}), previous, T2)
    assert set(_ids(mapping).values()) == {"c_old"}
    assert changes.to_dicts() == [
        {"change": "merge", "client_id": "c_old", "previous_client_ids": ["c_young"], "records": 3}
    ]


def test_a_split_keeps_the_id_with_the_larger_part_and_logs_the_rest() -> None:
    previous = _previous([("a", "c_1", T0), ("b", "c_1", T0), ("c", "c_1", T0)])
    mapping, changes = assign_client_ids(_clusters({"a": 0, "b": 0, "c": 2}), previous, T1)
    ids = _ids(mapping)
    assert ids["a"] == ids["b"] == "c_1"
    assert ids["c"] not in ("c_1", None)
    assert changes.to_dicts() == [
        {"change": "split", "client_id": ids["c"], "previous_client_ids": ["c_1"], "records": 1}
    ]


def test_an_id_used_before_is_never_handed_out_again() -> None:
    # x splits off c_old; its natural new id (from its record id) was already given to a client in
    # the previous map (whose record w has since been deleted), so it must get another one.
    previous = _previous(
        [("x", "c_old", T0), ("y", "c_old", T0), ("v", "c_old", T0), ("w", new_client_id("x"), T1)]
    )
    mapping, changes = assign_client_ids(_clusters({"x": 0, "y": 1, "v": 1}), previous, T2)
    ids = _ids(mapping)
    assert ids["y"] == ids["v"] == "c_old"
    assert ids["x"] == new_client_id("x", 1)
    assert changes["change"].to_list() == ["split"]


def test_resolve_round_trip_keeps_ids_and_logs_a_merge_when_a_bridge_arrives() -> None:
    first = pl.DataFrame(
        [
            {"record_id": "a", "email": "ann@mail.com", "crm_id": None},
            {"record_id": "b", "email": None, "crm_id": "003B"},
        ]
    )
    run1 = resolve(first, DETERMINISTIC_ONLY, as_of=T0)
    assert run1.mapping["client_id"].n_unique() == 2
    bridge = pl.DataFrame([{"record_id": "c", "email": "ann@mail.com", "crm_id": "003B"}])
    run2 = resolve(pl.concat([first, bridge]), DETERMINISTIC_ONLY, previous=run1.mapping, as_of=T1)
    ids1, ids2 = _ids(run1.mapping), _ids(run2.mapping)
    assert len(set(ids2.values())) == 1
    assert set(ids2.values()) <= set(ids1.values())
    assert run2.changes["change"].to_list() == ["merge"]
    unchanged = resolve(pl.concat([first, bridge]), DETERMINISTIC_ONLY, previous=run2.mapping, as_of=T2)
    assert _ids(unchanged.mapping) == ids2
    assert unchanged.changes.height == 0
