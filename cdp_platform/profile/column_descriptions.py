"""What each column of a dbt model holds, for its column schema in the Dagster UI.

A model's YAML ``columns:`` say it, with two completions where one YAML cannot:

- a union of the sources' contributions (a model calling ``union_contributions('<union>')``) and
  each contribution to it (``meta.cdp_contributes: <union>``) have one shape, documented once, on
  the union: a contribution's columns take the union's descriptions where its own YAML has none;
- the identity candidates' identifier columns (a handle, a platform user id) are declared by each
  network's source in Python (``profile_identifier``), not in the union's YAML, which names no
  source: their declarations describe them.

Used for the schema the dbt assets declare (:class:`~cdp_platform.profile.translator.ProfileTranslator`)
and for the one each materialization records (:mod:`cdp_platform.profile.table_metadata`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg

from cdp_platform.cleansed.dbt_contributions import META_KEY
from cdp_platform.sources.profiles import profile_identifiers

IDENTITY_UNION = "identity_candidates"
_UNION_CALL = re.compile(r"""union_contributions\(\s*['"](\w+)['"]""")


def _unions_built(node: Mapping[str, Any]) -> set[str]:
    return set(_UNION_CALL.findall(node.get("raw_code") or ""))


def _unions_contributed(node: Mapping[str, Any]) -> set[str]:
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    value = meta.get(META_KEY) or []
    return {value} if isinstance(value, str) else set(value)


def _own(node: Mapping[str, Any]) -> dict[str, str]:
    columns = node.get("columns") or {}
    return {name: " ".join(c["description"].split()) for name, c in columns.items() if c.get("description")}


def column_descriptions(manifest: Mapping[str, Any], unique_id: str) -> dict[str, str]:
    """Column name → what it holds, for the model ``unique_id`` (see the module's docstring); the
    model's own YAML wins over what it shares with its union."""
    nodes = manifest.get("nodes") or {}
    node = nodes.get(unique_id) or {}
    unions = _unions_built(node) | _unions_contributed(node)
    described: dict[str, str] = {}
    if unions:
        for other_id, other in nodes.items():
            if other_id != unique_id and _unions_built(other) & unions:
                described.update(_own(other))
    if IDENTITY_UNION in unions:
        described.update({p.column: p.description for p in profile_identifiers() if p.description})
    described.update(_own(node))
    return described


def described_schema(schema: dg.TableSchema, manifest: Mapping[str, Any], unique_id: str) -> dg.TableSchema:
    """The column schema dagster-dbt made from the model's YAML, each column described (see
    :func:`column_descriptions`); a union's declared identifier columns, which its YAML does not
    list, are added (their type, like that of every column dbt has no ``data_type`` for, ``?``)."""
    described = column_descriptions(manifest, unique_id)
    listed = [column.name for column in schema.columns]
    columns = [
        dg.TableColumn(
            c.name,
            c.type,
            description=described.get(c.name) or c.description,
            constraints=c.constraints,
            tags=c.tags,
        )
        for c in schema.columns
    ]
    if _unions_built((manifest.get("nodes") or {}).get(unique_id) or {}):
        columns += [
            dg.TableColumn(name, "?", description=text)
            for name, text in described.items()
            if name not in listed
        ]
    return dg.TableSchema(columns=columns, constraints=schema.constraints)
