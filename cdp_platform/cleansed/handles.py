"""The people's handles on the declared networks, as a CRM account keeps them.

A network declares the identifier people have on it (``ProfileIdentifier`` in
``sources/<network>/declaration.py``, listed by :func:`cdp_platform.sources.profiles.handle_columns`).
A CRM's person records may hold those handles too, typed in by sales or filled by a form, but in
fields the account chose: one CRM has a standard property for one network and nothing for the
next, another keeps them in custom fields of one org. Which field holds which handle is therefore
the account's configuration, not the CRM's code:

- the CRM's entity only says that it carries handles, and how a field's name is read from its
  payload (``CleansedEntity.handle_path``, e.g. ``$.properties.<name>``);
- the account's setting ``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS`` maps identifier columns to its
  fields (``<identifier column>=<field>,...``, read by :func:`parse_handle_fields`);
- :func:`with_handles` gives the entity one column per declared handle identifier, read from the
  mapped field, and null (a column with no payload key, so no drift and no row rule) where the
  account maps none. The table has the same columns whatever the configuration.

The mapping is part of the environment, which only ``settings`` reads: ``load_settings`` hands it
to :func:`configure`, so the entities a process knows (``cdp_platform.cleansed.ENTITIES``) are those
of the settings it last loaded, as with the sources of ``CDP_SOURCES_DIR``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

import polars as pl

from cdp_platform.cleansed.entity import CleansedEntity, Field
from cdp_platform.settings import SettingsError, env_var_name

# A field's name as the CRM's API spells it (a property's internal name, a field's API name): the
# entity's ``handle_path`` puts it in a JSONPath, so nothing else is allowed.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# (source, entity) -> identifier column -> the account's field, as the last loaded settings say.
_configured: dict[tuple[str, str], Mapping[str, str]] = {}
# The configured copies of the entities, by (source, entity), for the mapping above.
_copies: dict[tuple[str, str], CleansedEntity] = {}


def handle_fields_var(source: str, entity: str) -> str:
    """The setting of an entity's handle fields: ``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS`` (a CRM keeps
    its fields per object, so two person objects of one account are configured apart)."""
    return env_var_name(source, f"{entity}_handle_fields")


def _handle_columns() -> tuple[str, ...]:
    # Imported when used: the sources' folders import this package, and the profiles read them.
    from cdp_platform.sources.profiles import handle_columns

    return handle_columns()


def parse_handle_fields(variable: str, text: str | None) -> dict[str, str]:
    """``<identifier column>=<field>,...`` as identifier column -> field name (empty: none mapped).

    Each identifier must be a handle some network declares (a platform's user id is never typed
    into a CRM), mapped once, to a field name the CRM's API would accept."""
    handles = _handle_columns()
    example = f"{handles[0]}=<field name>" if handles else "<identifier column>=<field name>"
    mapping: dict[str, str] = {}
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        column, equals, name = (part.strip() for part in entry.partition("="))
        if not equals or not column or not name:
            raise SettingsError(
                f"{variable}: entry {entry!r} is not <identifier column>=<field name>: write each entry "
                f"as {example}, entries separated by commas."
            )
        if column not in handles:
            from cdp_platform.sources.profiles import profile_identifiers

            declared = {p.column for p in profile_identifiers()}
            why = (
                "is a platform's user id, not a handle people type in"
                if column in declared
                else "is no declared identifier"
            )
            raise SettingsError(
                f"{variable}: entry {entry!r}: {column} {why}; map one of the declared handles "
                f"({', '.join(handles) or 'none is declared'}), e.g. {example}."
            )
        if column in mapping:
            raise SettingsError(
                f"{variable}: {column} is mapped twice ({column}={mapping[column]} and {entry!r}): "
                "keep the entry of the field the account fills."
            )
        if not _FIELD_NAME.match(name):
            raise SettingsError(
                f"{variable}: entry {entry!r}: {name!r} is not a field's API name (letters, digits and _, "
                "not starting with a digit): give the field's internal name, not its label."
            )
        mapping[column] = name
    return mapping


def handle_carriers(source: str) -> tuple[str, ...]:
    """The names of the source's entities that carry handles (each has a setting of its own)."""
    from cdp_platform import cleansed

    return tuple(
        e.entity for e in cleansed.shipped_entities() if e.source == source and e.handle_path is not None
    )


def configure(mapping: Mapping[tuple[str, str], Mapping[str, str]]) -> None:
    """Use ``mapping`` ((source, entity) -> identifier column -> field) in place of the one before."""
    _configured.clear()
    _configured.update({key: MappingProxyType(dict(value)) for key, value in mapping.items()})
    _copies.clear()


def configured() -> dict[tuple[str, str], Mapping[str, str]]:
    """The handle fields of the last loaded settings, by (source, entity)."""
    return dict(_configured)


def _with_nulls(columns: tuple[str, ...], extra: Callable[[pl.DataFrame], pl.DataFrame] | None):
    def derive(frame: pl.DataFrame) -> pl.DataFrame:
        frame = extra(frame) if extra is not None else frame
        return frame.with_columns(pl.lit(None, pl.String).alias(column) for column in columns)

    return derive


def with_handles(entity: CleansedEntity, mapping: Mapping[str, str]) -> CleansedEntity:
    """``entity`` with one column per declared handle identifier: read from the field ``mapping``
    names (``handle_path`` of it), null when it names none. An entity that carries no handles is
    returned as it is."""
    if entity.handle_path is None:
        return entity
    variable = handle_fields_var(entity.source, entity.entity)
    columns = _handle_columns()
    mapped = tuple(
        Field(
            column,
            "handle",
            entity.handle_path(mapping[column]),
            role="handle",
            pii=True,
            description=f"The person's {column} as the account keeps it, in its field {mapping[column]} "
            f"(mapped by {variable}).",
        )
        for column in columns
        if column in mapping
    )
    unmapped = tuple(column for column in columns if column not in mapping)
    nulls = tuple(
        Field(
            column,
            "handle",
            computed=True,
            role="handle",
            pii=True,
            description=f"The person's {column}: always null, since {variable} maps no field of the "
            "account to it.",
        )
        for column in unmapped
    )
    # In the table's order (what cleanse writes): the fields it reads, then the columns the entity's
    # extra step adds, then the nulls added after it.
    read = len(entity.fields) - next(
        (i for i, f in enumerate(reversed(entity.fields)) if not f.computed), len(entity.fields)
    )
    return dataclasses.replace(
        entity,
        fields=entity.fields[:read] + mapped + entity.fields[read:] + nulls,
        # Derived again, with the handle columns.
        schema=None,
        expected_payload=None,
        extra_columns=_with_nulls(unmapped, entity.extra_columns) if unmapped else entity.extra_columns,
    )


def configured_entity(entity: CleansedEntity) -> CleansedEntity:
    """``entity`` with the handle fields the last loaded settings map (none before any)."""
    if entity.handle_path is None:
        return entity
    key = (entity.source, entity.entity)
    if key not in _copies:
        _copies[key] = with_handles(entity, _configured.get(key, {}))
    return _copies[key]
