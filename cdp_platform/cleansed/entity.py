"""How a raw stream becomes a cleansed table: a declarative spec and the pure function that applies it.

A cleansed entity is data: which fields to read from the raw payload (a JSONPath each) and what
kind of value each holds. :func:`cleanse` turns one raw partition into three parts that together
account for every raw row:

- ``clean``: typed, normalized rows, the latest version of each id within the partition;
- ``rejected``: rows that broke a row-level rule, with the rule and the offending value;
- ``collapsed``: how many older versions of an id were dropped in favour of the latest.

so that ``raw rows = clean + rejected + collapsed`` always holds (the invariant check verifies it
against what was actually stored). Row rules follow from the fields, first broken rule wins:

- ``missing_required``: a required value is absent or empty;
- ``wrong_type``: a value of another JSON type than the vendor documents (an id sent as a number),
  or a number, amount or boolean that cannot be read as one;
- ``unparseable_timestamp``: a timestamp or date that cannot be read, or not in the one format the
  vendor documents;
- ``invalid_email``: an email that fails the syntax check;
- ``unexpected_format``: any other value outside the format the field declares.

Nothing is dropped silently.

A field reads the record as received (``$.properties.email``) or, with a ``context:`` prefix,
the envelope objects the raw layer kept beside it (``context:$.author.username``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandera.polars as pa
import polars as pl

from cdp_platform.cleansed import columns, normalize

KINDS = (
    "string",
    "timestamp",
    "date",
    "email",
    "phone",
    "name",
    "display_name",
    "handle",
    "country",
    "amount",
    "integer",
    "float",
    "boolean",
)
JSON_TYPES = ("string", "number", "boolean", "object", "array")

# What a field can be for identity resolution and privacy (``Field.role``).
IDENTITY_ROLES = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "full_name",
    "street",
    "city",
    "postcode",
    "country",
    "country_code",
    "date_of_birth",
    "external_id",  # the record's id at the vendor (a CRM contact id, a GA client id)
    "handle",  # a social username
)

# The JSON type a vendor sends a kind of value as, unless the field says otherwise.
_KIND_JSON_TYPE = {"boolean": "boolean", "amount": "number", "integer": "number", "float": "number"}

# Columns every raw partition carries (written by the raw assets) and the cleansed tables keep.
RAW_ID, RAW_UPDATED, RAW_PAYLOAD, RAW_CONTEXT = "record_id", "updated_at", "payload", "context"
CONTEXT_PREFIX = "context:"

# The first character of a JSON value that cannot be of the documented type (null included: rare,
# and parsing tells null from a wrong type).
_OTHER_THAN = {
    "string": r'[^\s"]',
    "number": r"[^\s\d-]",
    "boolean": r"[^\stf]",
    "object": r"[^\s{]",
    "array": r"[^\s\[]",
}
_PATH_STEP = re.compile(r"\.([A-Za-z_][\w]*)|\['([^']+)'\]|\[(\d+)\]")


@dataclass(frozen=True)
class Field:
    """One output column: where it is in the raw payload and what kind of value it holds.

    ``path`` is a JSONPath into the payload (``$.properties.email``), into the raw row's context
    with a ``context:`` prefix (``context:$.author.username``), or ``None`` when an entity's
    ``prepare`` step already produced a string column named ``name``.

    ``json_type`` is the JSON type the vendor documents for the value: a present value of another
    type is quarantined as ``wrong_type`` even when it could still be read (an id sent as a number
    is a record the vendor broke). ``pattern`` is the one format the vendor documents for the text
    (GA4's ``YYYYMMDD``): a timestamp in any other format is quarantined as ``unparseable_timestamp``,
    any other kind as ``unexpected_format``. ``region_from`` (phones only) names the entity's field
    holding the record's country: national numbers are read the way that country writes them.

    The field is declared once: ``description`` documents the column, ``role`` says what it is for
    identity resolution (one of :data:`IDENTITY_ROLES`), ``pii`` whether it is personal data; the
    entity's Pandera column comes from the kind (``column`` replaces it for ids, references and
    enumerations) and its expected payload entry from the path and JSON type.

    The payload entry's type is ``json_type``, else ``sent_as``, else the kind's usual JSON type.
    ``sent_as`` documents the type for the drift check only, where the vendor sends a value as
    another type than its kind suggests (a CRM that sends numbers and booleans as text) and a value of
    another type should be reported as drift but not quarantined. ``may_be_absent`` marks a key the
    vendor leaves out when it has no value (an empty message, a hidden author): its absence is not
    drift, and an object all of whose read keys may be absent may be absent too.

    A ``computed`` field is a column the entity's ``extra_columns`` step derives from the cleansed
    ones (a full name from first and last, an amount from minor units): it has no path and no row
    rules, only its column, so that the schema still lists every column of the table.
    """

    name: str
    kind: str = "string"
    path: str | None = None
    required: bool = False
    json_type: str | None = None
    pattern: str | None = None
    region_from: str | None = None
    description: str = ""
    role: str | None = None
    pii: bool = False
    column: pa.Column | None = None
    sent_as: str | None = None
    may_be_absent: bool = False
    computed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"field {self.name}: unknown kind {self.kind!r}; expected one of {KINDS}")
        if self.json_type is not None and self.json_type not in JSON_TYPES:
            raise ValueError(
                f"field {self.name}: unknown JSON type {self.json_type!r}; expected one of {JSON_TYPES}"
            )
        if self.role is not None and self.role not in IDENTITY_ROLES:
            raise ValueError(
                f"field {self.name}: unknown identity role {self.role!r}; expected one of {IDENTITY_ROLES}"
            )
        if self.region_from is not None and self.kind != "phone":
            raise ValueError(f"field {self.name}: only a phone reads its region from another field")
        if self.json_type is not None and (self.path is None or self.in_context or not _path_keys(self.path)):
            raise ValueError(f"field {self.name}: a JSON type needs a plain payload path ($.a.b or $['a'])")
        if self.sent_as is not None and self.sent_as not in JSON_TYPES:
            raise ValueError(
                f"field {self.name}: unknown JSON type sent_as={self.sent_as!r}; expected one of {JSON_TYPES}"
            )
        if self.sent_as is not None and self.json_type is not None:
            raise ValueError(
                f"field {self.name}: give json_type or sent_as, not both (json_type is also checked)"
            )
        if (self.sent_as is not None or self.may_be_absent) and self.payload_key is None:
            raise ValueError(
                f"field {self.name}: sent_as and may_be_absent describe a payload key; "
                f"{self.path!r} is not a plain payload path"
            )
        if self.computed and (
            self.path is not None or self.required or self.pattern is not None or self.region_from is not None
        ):
            raise ValueError(
                f"field {self.name}: a computed column is derived by extra_columns, so it has no path, "
                "requirement, pattern or region"
            )

    @property
    def in_context(self) -> bool:
        return self.path is not None and self.path.startswith(CONTEXT_PREFIX)

    @property
    def json_path(self) -> str | None:
        return self.path[len(CONTEXT_PREFIX) :] if self.path is not None and self.in_context else self.path

    @property
    def payload_key(self) -> str | None:
        """The dotted payload path this field reads (``Account.Name``); None for context fields,
        computed columns and paths a plain walk cannot express."""
        if self.path is None or self.in_context:
            return None
        steps = _path_keys(self.path)
        if not steps or any(isinstance(step, int) for step in steps):
            return None
        return ".".join(str(step) for step in steps)

    @property
    def payload_type(self) -> str:
        """The payload entry's type for the drift check (``string``, ``number?``)."""
        base = self.json_type or self.sent_as or _KIND_JSON_TYPE.get(self.kind, "string")
        return f"{base}?" if self.may_be_absent else base


def record_key_prefix(source: str, kind: str) -> str:
    """The prefix of a person record's key, ``<source>:<kind>:`` (``crm:contacts:``): the one
    home of the format; dbt reads the generated ``record_key_prefix`` macro (``cdp_platform.cleansed.record_keys``)."""
    return f"{source}:{kind}:"


@dataclass(frozen=True)
class PersonKey:
    """A row of this entity belongs to the person record ``<source>:<kind>:<value of field>``.

    ``source`` defaults to the entity's own; ``crm_contacts`` stands for every entity that declares
    itself a CRM's contact record (a logged-in GA4 session is the CRM contact's, whichever CRM).
    """

    field: str  # a cleansed field name, or ``record_id`` (the raw row's id)
    kind: str = ""
    source: str | None = None
    crm_contacts: bool = False

    def __post_init__(self) -> None:
        if not self.crm_contacts and not self.kind:
            raise ValueError(
                f"person key on {self.field}: give its kind (contacts, leads...) or crm_contacts=True"
            )


@dataclass(frozen=True)
class CleansedEntity:
    """Everything specific to one cleansed table.

    ``prepare`` runs on the raw frame before normalization, for shapes a JSONPath cannot reach
    (Graph ``field_data`` pivoted to columns); ``extra_columns`` derives columns from the
    normalized ones (a full name from first and last). ``key_columns`` are the identifiers whose
    schema check blocks downstream assets when it fails; the rest of the schema only warns.
    ``expected_payload`` maps each payload field (dotted path) to its JSON type, for drift.
    Both are derived from the fields (and ``envelope_payload``, ``checks``): an entity in a source
    declares neither, so a column is spelled once.
    """

    source: str
    entity: str
    raw_stream: str
    fields: tuple[Field, ...]
    # Derived from the fields when not given (:func:`derived_schema`, :func:`derived_payload`).
    schema: pa.DataFrameSchema | None = None
    key_columns: tuple[str, ...] = ("record_id",)
    expected_payload: dict[str, str] | None = None
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    extra_columns: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    description: str = ""
    # What the vendor writes where it has no value ("(not set)"): nobody's identifier, so privacy's
    # reading of raw records nulls it as the entity's own steps do.
    placeholders: tuple[str, ...] = ()
    # Which person records a row belongs to (privacy's erasure and suppression, identity's keys);
    # none: the entity holds no one's personal data.
    person_keys: tuple[PersonKey, ...] = ()
    # This entity is a CRM's contact records (what a ``PersonKey(crm_contacts=True)`` points at).
    crm_contact: bool = False
    # Payload fields the entity does not read but every record carries (``attributes`` of a
    # CRM record): expected for drift, beside the fields' own paths.
    envelope_payload: dict[str, str] | None = None
    # The source holds a person at most once in this entity (a CRM's contacts): identity
    # resolution never joins two of its records unless an exact identifier says so.
    exclusive: bool = False
    # A row is a device's, not a person's (a web analytics cookie): it names someone only through
    # the CRM id it may carry, and a client made of such rows alone is anonymous.
    device_records: bool = False
    # The ``client_360`` column counting a client's records of this entity (a count: kept as is
    # when the marts are pseudonymized).
    engagement_count: str | None = None
    # Checks across columns (an amount converts back to its minor units), on the derived schema.
    checks: tuple[pa.Check, ...] = ()
    # The records carry the people's handles on the declared networks in fields the account chose
    # (a CRM's person records): how such a field's name is read from the payload
    # (``$.properties.<name>``). The columns come from :mod:`cdp_platform.cleansed.handles`.
    handle_path: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.source}/{self.entity}: field names repeat: {names}")
        for f in self.fields:
            if f.region_from is not None and f.region_from not in names:
                raise ValueError(
                    f"{self.source}/{self.entity}: {f.name} reads its region from unknown field {f.region_from}"
                )
        if self.schema is None:
            object.__setattr__(self, "schema", derived_schema(self.fields, self.checks))
        if self.expected_payload is None:
            object.__setattr__(self, "expected_payload", derived_payload(self.fields, self.envelope_payload))

    @property
    def read_fields(self) -> tuple[Field, ...]:
        """The fields :func:`cleanse` reads and checks (all but the ``computed`` ones)."""
        return tuple(f for f in self.fields if not f.computed)

    @property
    def asset_path(self) -> list[str]:
        return ["cleansed", self.source, self.entity]

    @property
    def columns(self) -> list[str]:
        """The table's columns, in order: the raw row's id, then one per field."""
        return (
            list(self.schema.columns)
            if self.schema is not None
            else ["record_id", *(f.name for f in self.fields)]
        )

    @property
    def rejected_path(self) -> list[str]:
        return ["cleansed", self.source, f"{self.entity}_rejected"]

    @property
    def raw_path(self) -> list[str]:
        return ["raw", self.source, self.raw_stream]

    @property
    def schema_name(self) -> str:
        return f"cleansed_{self.source}"


def field_column(field_: Field) -> pa.Column:
    """The Pandera rule of a field's column, from its kind (the same rule for one kind everywhere)."""
    if field_.column is not None:
        return field_.column
    nullable = not field_.required
    by_kind = {
        "string": lambda: columns.text(nullable=nullable),
        "timestamp": lambda: columns.timestamp(nullable=nullable),
        "date": lambda: columns.day(nullable=nullable),
        "email": columns.email,
        "phone": columns.phone,
        "name": columns.person_name,
        "display_name": columns.person_name,
        "handle": columns.handle,
        "country": columns.country_code,
        "amount": columns.amount,
        "integer": lambda: columns.count(nullable=nullable),
        "float": lambda: pa.Column(pl.Float64, nullable=nullable),
        "boolean": columns.flag,
    }
    return by_kind[field_.kind]()


def derived_schema(fields: Sequence[Field], checks: Sequence[pa.Check] = ()) -> pa.DataFrameSchema:
    """The cleansed table's schema: the raw row's id, then each field's column."""
    return pa.DataFrameSchema(
        {"record_id": columns.identifier(), **{f.name: field_column(f) for f in fields}},
        checks=list(checks) or None,
    )


def derived_payload(fields: Sequence[Field], envelope: dict[str, str] | None = None) -> dict[str, str]:
    """Each payload path the fields read, with its JSON type, and the objects holding it.

    An object is optional (``object?``) when every key read inside it may be absent: a vendor that
    leaves out all of them may leave out the object (the author object of a hidden commenter)."""
    payload: dict[str, str] = {}
    parent_optional: dict[str, bool] = {}
    for f in fields:
        key = f.payload_key
        if key is None:
            continue
        parts = key.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            payload.setdefault(parent, "object")
            parent_optional[parent] = parent_optional.get(parent, True) and f.may_be_absent
        payload[key] = f.payload_type
    for parent, optional in parent_optional.items():
        if optional and payload[parent] == "object":
            payload[parent] = "object?"
    return {**(envelope or {}), **payload}


@dataclass(frozen=True)
class CleanseResult:
    clean: pl.DataFrame
    rejected: pl.DataFrame
    raw_rows: int
    collapsed: int
    # Payloads drift is judged on: the rows that passed the row rules, since a quarantined record
    # already carries its own reason and one unreadable value is not a schema change, plus the rows
    # quarantined for a value of another JSON type, since that is exactly what a vendor changing a
    # field's type looks like (every such row is quarantined, and drift must still name the field).
    accepted_payloads: pl.Series


REJECTED_SCHEMA = {
    "record_id": pl.String,
    "updated_at": pl.Datetime("us", "UTC"),
    "rule": pl.String,
    "field": pl.String,
    "value": pl.String,
    "payload": pl.String,
    "partition_date": pl.Date,
}

# What the columns every cleansed table has beside its fields hold, shown in the UI.
TABLE_COLUMNS = {
    RAW_ID: "The record's id at the vendor, as the raw layer keyed it: one row per id and day, the "
    "latest version the day received.",
    RAW_UPDATED: "When the vendor last changed the record (the stream's change time), UTC: of the "
    "versions of a record one day received, the latest is kept.",
    "partition_date": "The day (UTC) the vendor created or changed the record: the raw partition it "
    "was read from.",
}
# And those of the quarantine (``<entity>_rejected``).
REJECTED_COLUMNS = {
    RAW_ID: "The quarantined record's id at the vendor, as the raw layer keyed it.",
    RAW_UPDATED: "When the vendor last changed the quarantined record (the stream's change time), UTC.",
    "rule": "The first rule the record broke: missing_required, wrong_type, unparseable_timestamp, "
    "invalid_email or unexpected_format.",
    "field": "The cleansed column whose value broke the rule.",
    "value": "The offending value exactly as the vendor sent it; null when it was missing.",
    RAW_PAYLOAD: "The whole record exactly as the vendor sent it (JSON text), to repair it at the "
    "vendor or replay it.",
    "partition_date": TABLE_COLUMNS["partition_date"],
}
# The kinds whose text as sent is kept beside the normalized value (``<field>_original``).
ORIGINAL_KINDS = ("email", "phone")


def _path_keys(path: str) -> list[str | int] | None:
    """The steps of a plain JSONPath (``$.a.b``, ``$['a:b']``, ``$.a[0]``); None for anything else
    (filters, wildcards), which the JSON type rule does not support."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        match = _PATH_STEP.match(path, at)
        if match is None:
            return None
        key, quoted, index = match.groups()
        steps.append(int(index) if index is not None else (key if key is not None else quoted))
        at = match.end()
    return steps


def _json_type_at(record: Any, steps: Sequence[str | int]) -> str | None:
    """The JSON type of the value at ``steps`` (None when absent or null)."""
    value = record
    for step in steps:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return None
            value = value[step]
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _wrong_json_types(payloads: pl.Series, fields: Sequence[Field]) -> dict[str, np.ndarray]:
    """Per field, which rows hold a present value of another JSON type than documented.

    JSONPath extraction cannot tell ``"42"`` from ``42``, and decoding every payload in Python would
    cost more than the rest of the cleansing, so a regex first finds the rows where the field's key
    is followed by anything but a string (``"id": 4``, ``"id": null``); only those few are parsed.
    """
    height = payloads.len()
    flags = {f.name: np.zeros(height, dtype=bool) for f in fields}
    if not fields or height == 0:
        return flags
    steps = {f.name: _path_keys(f.path or "") or [] for f in fields}
    suspects = {}
    for f in fields:
        last = steps[f.name][-1]
        if isinstance(last, int):
            suspects[f.name] = pl.col("p").is_not_null()
            continue
        value_start = _OTHER_THAN[f.json_type or "string"]
        suspects[f.name] = pl.col("p").str.contains(f'"{re.escape(last)}"\\s*:\\s*{value_start}')
    frame = pl.DataFrame({"p": payloads}).select(**suspects).fill_null(False)
    rows = np.flatnonzero(frame.select(pl.any_horizontal(pl.all())).to_series().to_numpy())
    texts = payloads.gather(rows).to_list() if rows.size else []
    for row, text in zip(rows.tolist(), texts, strict=True):
        try:
            record = json.loads(text)
        except (TypeError, ValueError):
            continue
        for f in fields:
            found = _json_type_at(record, steps[f.name])
            if found is not None and found != f.json_type:
                flags[f.name][row] = True
    return flags


# Rows decoded per attempt: a payload whose shape breaks the typed decode (an object where a value
# belongs) sends only its own chunk to the slower per-field JSONPath extraction.
DECODE_CHUNK_ROWS = 50_000


def _decode_dtype(fields: Sequence[Field]) -> pl.DataType | None:
    """One nested polars dtype holding every plain-path field as a string leaf, or None when the
    paths disagree about a node's shape (a key read both as an object and as a value)."""
    tree: dict = {}
    for f in fields:
        steps = _path_keys(f.path or "")
        if not steps:
            return None
        node = tree
        for step in steps[:-1]:
            child = node.setdefault(step, {})
            if not isinstance(child, dict):
                return None
            node = child
        if isinstance(node.get(steps[-1]), dict):
            return None
        node[steps[-1]] = f.name  # two fields may read the same value (a country and its code)

    def build(node: dict) -> pl.DataType | None:
        indexes = [k for k in node if isinstance(k, int)]
        if indexes:
            if len(node) != len(indexes):
                return None
            # A list node: every index reads the same element shape.
            inner = [build(v) if isinstance(v, dict) else pl.String() for v in node.values()]
            if any(i is None for i in inner) or len(set(map(str, inner))) != 1:
                return None
            return pl.List(inner[0])
        fields_: dict[str, pl.DataType] = {}
        for key, value in node.items():
            dtype = build(value) if isinstance(value, dict) else pl.String()
            if dtype is None:
                return None
            fields_[key] = dtype
        return pl.Struct(fields_)

    return build(tree)


def _leaf(decoded: pl.Expr, steps: Sequence[str | int]) -> pl.Expr:
    for step in steps:
        decoded = (
            decoded.list.get(step, null_on_oob=True) if isinstance(step, int) else decoded.struct.field(step)
        )
    return decoded


def _extracted(payloads: pl.Series, fields: Sequence[Field]) -> pl.DataFrame:
    """The raw text of every payload field, as ``__raw_<name>`` string columns.

    JSONPath extraction parses the whole payload once per field; one typed decode of the fields the
    entity reads parses it once, which is what makes a million-row partition cheap. Values are the
    same text either way (numbers and booleans as their JSON text, strings unquoted). Paths a typed
    decode cannot express (filters) use JSONPath, as does any chunk the decode cannot read. Chunks
    are decoded in parallel.
    """
    plain = [f for f in fields if _path_keys(f.path or "")]
    dtype = _decode_dtype(plain)
    if dtype is None:
        plain = []
    by_path = [
        pl.col("p").str.json_path_match(f.path).alias(f"__raw_{f.name}") for f in fields if f not in plain
    ]
    matched = by_path + [pl.col("p").str.json_path_match(f.path).alias(f"__raw_{f.name}") for f in plain]
    decoded = by_path + [
        _leaf(pl.col("__decoded"), _path_keys(f.path or "") or []).alias(f"__raw_{f.name}") for f in plain
    ]
    chunks = [
        pl.LazyFrame({"p": payloads.slice(offset, DECODE_CHUNK_ROWS)})
        for offset in range(0, max(payloads.len(), 1), DECODE_CHUNK_ROWS)
    ]

    def decode(chunk: pl.LazyFrame) -> pl.LazyFrame:
        if not plain:
            return chunk.select(matched)
        return chunk.with_columns(pl.col("p").str.json_decode(dtype).alias("__decoded")).select(decoded)

    try:
        frames = pl.collect_all([decode(chunk) for chunk in chunks])
    except pl.exceptions.PolarsError:
        frames = []
        for chunk in chunks:
            try:
                frames.append(decode(chunk).collect())
            except pl.exceptions.PolarsError:
                frames.append(chunk.select(matched).collect())
    return pl.concat(frames).select(f"__raw_{f.name}" for f in fields)


def _as_sent(fields: Sequence[Field]) -> pl.Expr:
    """The offending value of a quarantined row exactly as the vendor sent it (``3.0``, not ``3``),
    re-read by JSONPath from the few rejected payloads."""
    value = pl.col("__value")
    for f in fields:
        if f.path is not None:
            source = pl.col(RAW_CONTEXT if f.in_context else RAW_PAYLOAD)
            value = (
                pl.when(pl.col("__field") == f.name)
                .then(source.str.json_path_match(f.json_path))
                .otherwise(value)
            )
    return value


def _normalized(field_: Field, raw: pl.Expr, phone_region: str) -> pl.Expr:
    kind = field_.kind
    if field_.pattern is not None:
        raw = pl.when(raw.str.contains(field_.pattern)).then(raw).otherwise(None)
    if kind == "timestamp":
        return normalize.timestamp(raw)
    if kind == "date":
        return normalize.date(raw)
    if kind == "email":
        return normalize.email(raw)
    if kind == "phone":
        region = (
            None
            if field_.region_from is None
            else normalize.country_code(pl.col(f"__raw_{field_.region_from}"))
        )
        return normalize.phone(raw, phone_region, region)
    if kind == "country":
        return normalize.country_code(raw)
    if kind == "name":
        return normalize.name(raw)
    if kind == "display_name":
        return normalize.display_name(raw)
    if kind == "handle":
        return normalize.handle(raw)
    if kind == "amount":
        return normalize.amount(raw)
    if kind == "integer":
        return normalize.integer(raw)
    if kind == "float":
        return raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    if kind == "boolean":
        return normalize.boolean(raw)
    return pl.when(raw.str.strip_chars() == "").then(None).otherwise(raw.str.strip_chars())


def _violation(field_: Field, raw: pl.Expr, value: pl.Expr) -> tuple[str, pl.Expr] | None:
    """The rule a field breaks on a row, as (rule name, expression true when broken)."""
    present = raw.is_not_null() & (raw.str.strip_chars() != "")
    if field_.kind in ("timestamp", "date"):
        return "unparseable_timestamp", present & value.is_null()
    if field_.kind == "email":
        return "invalid_email", present & ~normalize.email_is_valid(raw).fill_null(False)
    if field_.kind in ("amount", "integer", "float", "boolean"):
        return "wrong_type", present & value.is_null()
    if field_.pattern is not None:
        return "unexpected_format", present & ~raw.str.contains(field_.pattern).fill_null(False)
    return None


# What a kind's value becomes (see :func:`_normalized`), said after the field's own description.
_KIND_NOTES = {
    "string": "Trimmed; empty text is null.",
    "timestamp": "In UTC.",
    "date": "A calendar date.",
    "email": "Trimmed and lower-cased.",
    "name": "Whitespace collapsed, a word in ALL CAPS or all lower case title-cased (McDonald kept as "
    "typed); null when it has no letter.",
    "display_name": "The person's name out of a display name: a tagline after a pipe or a spaced dash, "
    "pronouns, asides in brackets, credentials, titles and emoji removed, then cased as a name; null "
    "when no letter is left.",
    "handle": "The bare username, lower-cased (@Jane_Doe and a profile URL both read as jane_doe); null "
    "when what is left is not a username.",
    "country": "The ISO 3166-1 alpha-2 code, read from a country's name (in several languages) or code; "
    "null when the country is not recognised.",
    "amount": "A decimal with two places, read from a JSON number or numeric text (thousands commas "
    "ignored).",
    "integer": "A whole number, read from a JSON number or numeric text.",
    "float": "A number, read from a JSON number or numeric text.",
    "boolean": "true or false, read from JSON booleans or true/false, 1/0, yes/no in any case.",
}
# The rule a present value of each kind can break, and when (see :func:`_violation`).
_KIND_RULES = {
    "timestamp": ("unparseable_timestamp", "unreadable as a time"),
    "date": ("unparseable_timestamp", "unreadable as a date"),
    "email": ("invalid_email", "not a valid address"),
    "amount": ("wrong_type", "not readable as a number"),
    "integer": ("wrong_type", "not readable as a number"),
    "float": ("wrong_type", "not readable as a number"),
    "boolean": ("wrong_type", "not readable as a boolean"),
}


def _phone_note(field_: Field) -> str:
    read_in = (
        f"the way the record's country ({field_.region_from}) writes it, else in the platform's default region"
        if field_.region_from
        else "in the platform's default region"
    )
    return f"E.164 (+14155550123): a national number is read {read_in}; null when it is not a valid number."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "?", "!")) else f"{text}."


def field_description(field_: Field, rejected_table: str) -> str:
    """A field's column as the UI describes it: the field's own description (what the value is at
    the vendor), then what the cleansing does to the value and which values quarantine the row.

    Empty when the field has no description of its own: the rules alone do not say what a column
    holds."""
    if not field_.description:
        return ""
    if field_.computed:
        return _sentence(field_.description)
    note = _phone_note(field_) if field_.kind == "phone" else _KIND_NOTES[field_.kind]
    broken: dict[str, list[str]] = {}  # rule -> when a value breaks it, in the order rules are tried
    if field_.required:
        broken["missing_required"] = ["missing"]
    if field_.json_type is not None:
        broken["wrong_type"] = [f"sent as another JSON type than {field_.json_type}"]
    if field_.kind in _KIND_RULES:
        rule, when = _KIND_RULES[field_.kind]
        broken.setdefault(rule, []).append(when)
    if field_.pattern is not None:
        rule = "unparseable_timestamp" if field_.kind in ("timestamp", "date") else "unexpected_format"
        broken.setdefault(rule, []).append(f"not in the vendor's documented format {field_.pattern}")
    parts = [_sentence(field_.description), note]
    if broken:
        conditions = "; ".join(f"{' or '.join(whens)} ({rule})" for rule, whens in broken.items())
        parts.append(f"The record goes to {rejected_table} when it is {conditions}.")
    if field_.kind in ORIGINAL_KINDS:
        parts.append(f"As sent: {field_.name}_original.")
    return " ".join(parts)


def original_description(field_: Field) -> str:
    """The ``<field>_original`` column kept beside an email or a phone."""
    return (
        f"{field_.name} exactly as the vendor sent it, before normalization: the evidence where "
        f"{field_.name} is null or differs."
    )


def column_descriptions(entity: CleansedEntity) -> dict[str, str]:
    """What each column of the entity's cleansed table holds: the columns every table has, each
    field's (:func:`field_description`) and each original's."""
    rejected = entity.rejected_path[-1]
    return {
        **TABLE_COLUMNS,
        **{f.name: field_description(f, rejected) for f in entity.fields},
        **{
            f"{f.name}_original": original_description(f)
            for f in entity.read_fields
            if f.kind in ORIGINAL_KINDS
        },
    }


def cleanse(
    raw: pl.DataFrame, entity: CleansedEntity, partition_date, phone_region: str = "US"
) -> CleanseResult:
    """Apply ``entity`` to one raw partition (columns ``record_id``, ``updated_at``, ``payload``
    and, when a field reads it, ``context``)."""
    fields = entity.read_fields
    context = pl.col(RAW_CONTEXT) if RAW_CONTEXT in raw.columns else pl.lit(None, pl.String)
    frame = raw.select(RAW_ID, RAW_UPDATED, RAW_PAYLOAD, context.cast(pl.String).alias(RAW_CONTEXT))
    frame = pl.concat(
        [frame, _extracted(frame[RAW_PAYLOAD], [f for f in fields if f.path and not f.in_context])],
        how="horizontal",
    )
    frame = frame.with_columns(
        pl.col(RAW_CONTEXT).str.json_path_match(f.json_path).alias(f"__raw_{f.name}")
        for f in fields
        if f.in_context
    )
    typed = [f for f in fields if f.json_type is not None]
    frame = frame.with_columns(
        pl.Series(f"__type_{name}", flags)
        for name, flags in _wrong_json_types(frame[RAW_PAYLOAD], typed).items()
    )
    if entity.prepare is not None:
        frame = entity.prepare(frame)
    for f in fields:
        if f.path is None:
            frame = frame.with_columns(pl.col(f.name).cast(pl.String).alias(f"__raw_{f.name}"))

    frame = frame.with_columns(
        [_normalized(f, pl.col(f"__raw_{f.name}"), phone_region).alias(f.name) for f in fields]
    )

    # Each row's first broken rule (in field order) is its reason; a row breaks at most one here.
    rule = pl.lit(None, pl.String)
    bad_field = pl.lit(None, pl.String)
    bad_value = pl.lit(None, pl.String)
    type_change = pl.lit(False)
    checks = []
    for f in fields:
        raw_col = pl.col(f"__raw_{f.name}")
        if f.required:
            checks.append(
                (
                    "missing_required",
                    f.name,
                    raw_col.is_null() | (raw_col.str.strip_chars() == ""),
                    raw_col,
                    False,
                )
            )
        if f.json_type is not None:
            checks.append(("wrong_type", f.name, pl.col(f"__type_{f.name}"), raw_col, True))
        violation = _violation(f, raw_col, pl.col(f.name))
        if violation is not None:
            checks.append((violation[0], f.name, violation[1], raw_col, False))
    for name, field_name, broken, raw_col, is_type_change in reversed(checks):
        rule = pl.when(broken).then(pl.lit(name)).otherwise(rule)
        bad_field = pl.when(broken).then(pl.lit(field_name)).otherwise(bad_field)
        bad_value = pl.when(broken).then(raw_col).otherwise(bad_value)
        type_change = pl.when(broken).then(pl.lit(is_type_change)).otherwise(type_change)
    frame = frame.with_columns(
        rule.alias("__rule"),
        bad_field.alias("__field"),
        bad_value.alias("__value"),
        type_change.alias("__type_change"),
    )

    partition = pl.lit(partition_date, pl.Date).alias("partition_date")
    rejected = frame.filter(pl.col("__rule").is_not_null()).select(
        pl.col(RAW_ID).alias("record_id"),
        pl.col(RAW_UPDATED).alias("updated_at"),
        pl.col("__rule").alias("rule"),
        pl.col("__field").alias("field"),
        _as_sent(fields).alias("value"),
        pl.col(RAW_PAYLOAD).alias("payload"),
        partition,
    )
    accepted = frame.filter(pl.col("__rule").is_null())
    originals = [
        pl.col(f"__raw_{f.name}").alias(f"{f.name}_original") for f in fields if f.kind in ORIGINAL_KINDS
    ]
    accepted = accepted.select(
        pl.col(RAW_ID).alias("record_id"),
        pl.col(RAW_UPDATED).alias("updated_at"),
        *[pl.col(f.name) for f in fields if f.name not in ("record_id", "updated_at")],
        *originals,
        partition,
    )
    if entity.extra_columns is not None:
        accepted = entity.extra_columns(accepted)
        accepted = accepted.select(pl.exclude("partition_date"), "partition_date")
    latest = accepted.sort(["record_id", "updated_at"], nulls_last=False).unique(
        subset=["record_id"], keep="last", maintain_order=True
    )
    return CleanseResult(
        clean=latest,
        rejected=rejected.cast(REJECTED_SCHEMA),  # type: ignore[arg-type]
        raw_rows=raw.height,
        collapsed=accepted.height - latest.height,
        accepted_payloads=frame.filter(pl.col("__rule").is_null() | pl.col("__type_change"))[RAW_PAYLOAD],
    )
