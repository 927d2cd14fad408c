"""Who a raw record is about: its person keys, email and phone, read with the cleansed entity specs.

Erasure and suppression both need, for any raw row of any stream, the same answer to "whose record
is this?". The JSON paths of the fields come from the cleansed entity definitions
(:mod:`cdp_platform.cleansed`), and the values are normalized the way the cleansed layer and
identity resolution normalize them, so a raw row, a quarantined row and a cleansed row of one
record all yield the same keys.

A *person key* names a person-like record the way ``int_identity_candidates`` (and therefore
``identity_map``) names it: ``<source>:<kind>:<id>`` (:func:`record_key_prefix`). Each cleansed
entity declares its ``person_keys``: which field makes a row belong to which key (a purchase to its
buyer, web activity to its visitor and, when logged in, to the CRM contact). Entities declaring none
(accounts, companies, the brand's own posts and media) hold no one's personal data and are never
erased or suppressed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import polars as pl

# The module, not its ENTITIES: the raw layer imports this module (suppression) while the cleansed
# package may still be collecting the entities from the sources' folders.
import cdp_platform.cleansed as cleansed
from cdp_platform.cleansed import normalize
from cdp_platform.cleansed.entity import CleansedEntity, Field, _extracted, record_key_prefix
from cdp_platform.privacy.hashing import normalize_email


@dataclass(frozen=True)
class OwnerLink:
    """A row belongs to the person keys ``prefix + <field value>`` for each prefix."""

    field: str  # a cleansed field name, or ``record_id`` (the raw row's id)
    prefixes: tuple[str, ...]


def _owner_links(entity: CleansedEntity) -> tuple[OwnerLink, ...]:
    """The entity's declared person keys as prefixes (``crm_contacts``: every CRM's contacts)."""
    crm = tuple(record_key_prefix(e.source, e.entity) for e in cleansed.ENTITIES if e.crm_contact)
    return tuple(
        OwnerLink(
            key.field,
            crm if key.crm_contacts else (record_key_prefix(key.source or entity.source, key.kind),),
        )
        for key in entity.person_keys
    )


@cache
def placeholders() -> tuple[str, ...]:
    """A vendor's "no value" spelled as a value is nobody's identifier (the cleansed layer nulls it
    too): every entity's declared placeholders."""
    return tuple(dict.fromkeys(p for entity in cleansed.ENTITIES for p in entity.placeholders))


IDENTIFY_SCHEMA = {
    "person_keys": pl.List(pl.String),
    "email": pl.String,
    "phone": pl.String,
    "tokens": pl.List(pl.String),
}


@dataclass(frozen=True)
class PersonStream:
    source: str
    stream: str
    entity: CleansedEntity
    owners: tuple[OwnerLink, ...]

    @property
    def raw_prefix(self) -> str:
        return f"raw/{self.source}/{self.stream}"

    @property
    def checkpoint_prefix(self) -> str:
        return f"_checkpoints/raw/{self.source}/{self.stream}"

    @property
    def has_contact_fields(self) -> bool:
        return any(f.kind in ("email", "phone") for f in self.entity.fields)

    @property
    def table(self) -> str:
        return f'"{self.entity.schema_name}"."{self.entity.entity}"'

    @property
    def rejected_table(self) -> str:
        return f'"{self.entity.schema_name}"."{self.entity.entity}_rejected"'


def person_streams() -> tuple[PersonStream, ...]:
    """Every raw stream that holds personal data, with the cleansed entity that reads it (as the
    last loaded settings complete it: the handle fields an account maps are read here too)."""
    streams = []
    for entity in cleansed.ENTITIES:
        if entity.person_keys:
            streams.append(PersonStream(entity.source, entity.raw_stream, entity, _owner_links(entity)))
    return tuple(streams)


def person_stream(source: str, stream: str) -> PersonStream | None:
    return next((s for s in person_streams() if (s.source, s.stream) == (source, stream)), None)


def _needed_fields(person: PersonStream) -> list[Field]:
    by_name = {f.name: f for f in person.entity.fields}
    names = {link.field for link in person.owners if link.field != "record_id"}
    # Not the computed columns: nothing of them is in the record (a handle the account maps no field to).
    names |= {f.name for f in person.entity.read_fields if f.kind in ("email", "phone", "handle")}
    names |= {f.region_from for f in person.entity.fields if f.kind == "phone" and f.region_from}
    return [by_name[name] for name in sorted(names)]


def _emails(series: pl.Series) -> pl.Series:
    unique = series.drop_nulls().unique().to_list()
    mapping = {value: normalize_email(value) for value in unique}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


def identify(frame: pl.DataFrame, person: PersonStream, phone_region: str = "US") -> pl.DataFrame:
    """Per raw row, in order: ``person_keys`` (list), ``email`` (normalized as for hashing),
    ``phone`` (E.164, read in the record's own country like the cleansed layer does) and ``tokens``
    (the identifying values as the vendor wrote them, to find them in dead letters).

    ``frame`` needs ``record_id`` and ``payload``; ``context`` is used when present.
    """
    if frame.height == 0:
        return pl.DataFrame(schema=IDENTIFY_SCHEMA)
    context = pl.col("context").cast(pl.String) if "context" in frame.columns else pl.lit(None, pl.String)
    base = frame.select(
        pl.col("record_id").cast(pl.String), pl.col("payload").cast(pl.String), context.alias("context")
    )
    fields = _needed_fields(person)
    in_payload = [f for f in fields if f.path is not None and not f.in_context]
    # The cleansed layer's own extraction: one typed decode of the payload for all fields, four
    # times faster than a JSONPath per field, and the same text for every value.
    base = pl.concat([base, _extracted(base["payload"], in_payload)], how="horizontal")
    base = base.with_columns(
        pl.col("context").str.json_path_match(f.json_path).alias(f"__raw_{f.name}")
        for f in fields
        if f.in_context
    )
    if any(f.path is None for f in fields):
        assert person.entity.prepare is not None, person
        prepared = person.entity.prepare(base)
        base = base.with_columns(
            prepared[f.name].cast(pl.String).alias(f"__raw_{f.name}") for f in fields if f.path is None
        )

    values: dict[str, pl.Expr] = {"record_id": pl.col("record_id").str.strip_chars()}
    for f in fields:
        raw = pl.col(f"__raw_{f.name}")
        if f.kind == "handle":
            values[f.name] = normalize.handle(raw)
        elif f.kind == "phone":
            region = (
                None if f.region_from is None else normalize.country_code(pl.col(f"__raw_{f.region_from}"))
            )
            values[f.name] = normalize.phone(raw, phone_region, region)
        elif f.kind != "email":
            text = raw.str.strip_chars()
            values[f.name] = (
                pl.when((text == "") | text.is_in(list(placeholders()))).then(None).otherwise(text)
            )
    out = base.with_columns(**{f"__v_{name}": expr for name, expr in values.items()})
    email_fields = [f for f in fields if f.kind == "email"]
    phone_fields = [f for f in fields if f.kind == "phone"]
    keys = [
        pl.when(pl.col(f"__v_{link.field}").is_not_null()).then(pl.lit(prefix) + pl.col(f"__v_{link.field}"))
        for link in person.owners
        for prefix in link.prefixes
    ]
    # What a dead letter could spell the person with: ids, email, phone and handles as sent and as
    # normalized. Not names (shared by many people) and not countries (a region, not a person).
    owner_fields = {link.field for link in person.owners}
    token_columns = ["__v_record_id"]
    for f in fields:
        if f.kind in ("email", "phone", "handle"):
            token_columns.append(f"__raw_{f.name}")
        if f.kind in ("phone", "handle") or f.name in owner_fields:
            token_columns.append(f"__v_{f.name}")
    result = out.select(
        pl.concat_list(keys).list.drop_nulls().list.unique(maintain_order=True).alias("person_keys"),
        (pl.col(f"__v_{phone_fields[0].name}") if phone_fields else pl.lit(None, pl.String)).alias("phone"),
        pl.concat_list([pl.col(c).cast(pl.String) for c in token_columns]).alias("__tokens"),
    )
    if email_fields:
        email = _emails(out[f"__raw_{email_fields[0].name}"])
        result = result.with_columns(
            email.alias("email"), pl.concat_list("__tokens", pl.lit(email).alias("e")).alias("__tokens")
        )
    else:
        result = result.with_columns(pl.lit(None, pl.String).alias("email"))
    result = result.with_columns(
        pl.col("__tokens").list.drop_nulls().list.unique(maintain_order=True).alias("tokens")
    ).select(list(IDENTIFY_SCHEMA))
    return result.cast(IDENTIFY_SCHEMA)  # type: ignore[arg-type]


def identify_record(record: dict, person: PersonStream, phone_region: str = "US") -> dict:
    """:func:`identify` for one record held as a Python object (a dead letter's body)."""
    frame = pl.DataFrame(
        {
            "record_id": [str(record.get("id") or record.get("Id") or "")],
            "payload": [json.dumps(record, ensure_ascii=False)],
        }
    )
    return identify(frame, person, phone_region).row(0, named=True)
