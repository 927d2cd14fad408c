"""Pseudonymized marts: client_360, client_interactions and client_identities without personal data.

For analysts who must not see who a client is, but need to count, sum, segment and join. Every
direct identifier is replaced by a keyed hash (HMAC-SHA256, :mod:`cdp_platform.privacy.hashing`,
the installation's key): without the key a hash cannot be reversed by enumerating emails or phone
numbers, and the same value always gives the same hash, so the three tables still join on the
hashed ``client_id`` and an email hash in ``client_360.emails`` equals the one in
``client_identities``. Hashes are of the normalized identifier, exactly as the suppression list and
the erasure audit log hash it (``identifier_hash``), so an erased person's hashes can be checked
against these tables too. Normalized means two spellings of one mailbox (``Ann.Lee@gmail.com``,
``annlee@gmail.com``) are one hash: a list column then holds it once.

**Where.** A DuckDB file of its own (``CDP_PSEUDONYMIZED_WAREHOUSE_PATH``, by default
``pseudonymized.duckdb`` beside the warehouse), tables ``marts.client_360``,
``marts.client_interactions``, ``marts.client_identities`` and ``marts.pseudonymization_columns``
(what was done to each column). DuckDB has no users or grants: the only access boundary it has is
the file. A separate schema in the warehouse would hand analysts the personal data along with it;
a separate file can be given to them (copied, mounted read-only, shared) alone, and their reads
never hold the warehouse's lock. The key is never written there.

**Per column** (see the ``*_COLUMNS`` tables below): identifiers are hashed (names, emails,
phones, street, postcode, date of birth, CRM and platform ids, handles, record ids, the client id,
the account a person works for, and free text, which may hold anything a person wrote);
analytics columns are kept: counts, sums, amounts, dates and times, scores, sentiment, consent,
the source names, and city and country (one of many people; street and postcode, which can narrow
to a household, are hashed). The year of birth is added beside the hashed date of birth, for age
bands. A column that appears in a mart later and is not classified here is never copied: it is
dropped, named in the metadata, and the ``no_direct_identifiers`` check fails until it is
classified. Pseudonymized data is still personal data under the GDPR (Recital 26): whoever holds
the key, or enough outside knowledge (a public tweet's exact time), can re-identify a row.

After an erasure the marts lose the person, and these tables are rebuilt from them: the asset
follows the marts and ``privacy/erasure_audit``.
"""

import contextlib
import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

import dagster as dg
import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource

import cdp_platform.cleansed as cleansed
from cdp_platform.io.resources import LakeResource
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.privacy.hashing import keyed_hash, kinds, normalize, privacy_key
from cdp_platform.profile.translator import profile_automation_condition
from cdp_platform.settings import Settings

PSEUDONYMIZED_RESOURCE_KEY = "pseudonymized_warehouse"
PSEUDONYMIZED_SCHEMA = "marts"
SOURCE_SCHEMA = "marts"
COLUMNS_TABLE = "pseudonymization_columns"
CHECK_NAME = "no_direct_identifiers"
MARTS: tuple[str, ...] = ("client_360", "client_interactions", "client_identities")
ERASURE_AUDIT_KEY = dg.AssetKey(["privacy", "erasure_audit"])

KEEP = "keep"

# Column -> identifier kind to hash it as, or KEEP. Kinds of hashing.kinds() are normalized the way
# the suppression list and the audit log normalize them; the others are hashed as trimmed text.
# With these, client_360 lists each declared social network's identifiers (hashed as its kind) and
# counts each engagement entity's records (kept): :func:`client_360_columns`.
_CLIENT_360_COLUMNS: dict[str, str] = {
    "client_id": "client_id",
    "is_identified": KEEP,
    "first_name": "name",
    "last_name": "name",
    "full_name": "name",
    "name_source": KEEP,
    "email": "email",
    "email_source": KEEP,
    "phone": "phone",
    "phone_source": KEEP,
    "street": "street",
    "city": KEEP,  # a city holds many people; kept for geography
    "postcode": "postcode",  # can narrow to a few households
    "country": KEEP,
    "address_source": KEEP,
    "date_of_birth": "date_of_birth",  # hashed; birth_year is added for age bands
    "record_ids": "record_id",  # source record ids carry vendor ids (a tweet author, a CRM contact)
    "sources": KEEP,
    "emails": "email",
    "phones": "phone",
    "crm_ids": "crm_id",
    "ga_client_ids": "ga_client_id",
    "account_id": "account_id",  # the employer: with a small company, it is nearly the person
    "account_name": "account_name",
    "account_source": KEEP,
    "account_industry": KEEP,
    "lifecycle_stage": KEEP,
    "lead_status": KEEP,
    "lead_source": KEEP,
    "email_opt_out": KEEP,  # analysts must see consent to respect it
    "email_opt_out_source": KEEP,
    "email_opt_out_at": KEEP,
    "first_seen_at": KEEP,
    "last_seen_at": KEEP,
    "web_activity_as_of": KEEP,
    "last_web_activity_date": KEEP,
    "average_sentiment": KEEP,
    "scored_texts": KEEP,
    "purchases": KEEP,
    "purchases_total": KEEP,
    "first_purchase_at": KEEP,
    "last_purchase_at": KEEP,
    "average_purchase_value": KEEP,
    "p_alive": KEEP,
    "churn_probability": KEEP,
    "expected_purchases_90d": KEEP,
    "expected_average_value": KEEP,
    "clv_12m": KEEP,
}
# The web activity windows client_360 generates (sessions_30d ... revenue_lifetime): sums, kept.
CLIENT_360_KEPT_PATTERN = re.compile(
    r"(sessions|engaged_sessions|page_views|conversions|revenue)_(30d|90d|lifetime)"
)

CLIENT_INTERACTIONS_COLUMNS: dict[str, str] = {
    "interaction_id": "record_id",  # <source>:<entity>:<vendor id>: a tweet id finds its author
    "client_id": "client_id",
    "person_record_id": "record_id",
    "channel": KEEP,
    "interaction_type": KEEP,
    "occurred_at": KEEP,
    "text": "text",  # what a person wrote may name them, their address, their order
    "amount": KEEP,
    "sentiment_compound": KEEP,
    "sentiment_label": KEEP,
}

CLIENT_IDENTITIES_COLUMNS: dict[str, str] = {
    "client_id": "client_id",
    "identifier_type": KEEP,
    "identifier_value": "identifier",  # hashed as the kind its identifier_type names
    "source": KEEP,
    "record_id": "record_id",
    "link_rule": KEEP,  # rule names
    "match_probability": KEEP,
    # Rule names, comparison levels, Bayes factors and keyed hashes (the installation's key, as
    # here): never a value or a record id (see identity/evidence.py).
    "link_evidence": KEEP,
}
# client_identities.identifier_type -> the kind its value is hashed as (the same as client_360's
# lists, so an email hash is the same in both), with each declared social network's identifier
# (:func:`identifier_kinds`). A new type is still hashed, as identifier_<type>.
_IDENTIFIER_KINDS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "crm_id": "crm_id",
    "ga_client_id": "ga_client_id",
}


def _profile_identifiers():
    from cdp_platform.sources.profiles import profile_identifiers  # imports the sources' folders

    return profile_identifiers()


@cache
def client_360_columns() -> dict[str, str]:
    """client_360's policy: the fixed columns, each network's identifier list, each engagement count."""
    declared = {p.list_column: p.hash_kind for p in _profile_identifiers()}
    counts = {e.engagement_count: KEEP for e in cleansed.ENTITIES if e.engagement_count is not None}
    return {**_CLIENT_360_COLUMNS, **declared, **counts}


@cache
def identifier_kinds() -> dict[str, str]:
    """client_identities.identifier_type -> the kind its value is hashed as."""
    return {**_IDENTIFIER_KINDS, **{p.column: p.hash_kind for p in _profile_identifiers()}}


@cache
def policies() -> dict[str, dict[str, str]]:
    return {
        "client_360": client_360_columns(),
        "client_interactions": CLIENT_INTERACTIONS_COLUMNS,
        "client_identities": CLIENT_IDENTITIES_COLUMNS,
    }


def __getattr__(name: str) -> object:
    # Derived from the declared sources on first use, not at import.
    derived = {
        "CLIENT_360_COLUMNS": client_360_columns,
        "IDENTIFIER_KINDS": identifier_kinds,
        "POLICIES": policies,
    }
    if name in derived:
        return derived[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


KEPT_PATTERNS: dict[str, re.Pattern[str]] = {"client_360": CLIENT_360_KEPT_PATTERN}

# Kinds whose values are unmistakable identifiers: the runtime check looks for these values in the
# output. Names, free text, dates and company names are left out: a surname can also be a city.
_CHECKED_KINDS = frozenset(
    {"email", "phone", "client_id", "record_id", "crm_id", "ga_client_id", "handle", "street",
     "postcode", "account_id"}
)  # fmt: skip


@cache
def checked_kinds() -> frozenset[str]:
    """These and every kind a declared network's identifier is hashed as (a platform's user id)."""
    return _CHECKED_KINDS | {p.hash_kind for p in _profile_identifiers()}


def policy(mart: str, column: str) -> str | None:
    """What happens to ``column`` of ``mart``: KEEP, the kind it is hashed as, or None (unclassified)."""
    chosen = policies()[mart].get(column)
    if chosen is None and mart in KEPT_PATTERNS and KEPT_PATTERNS[mart].fullmatch(column):
        return KEEP
    return chosen


class Pseudonymizer:
    """Keyed hashes of identifier values, each distinct (kind, value) hashed once per run."""

    def __init__(self, key: bytes, default_region: str = "US") -> None:
        self._key = key
        self._region = default_region
        self._cache: dict[tuple[str, str], str | None] = {}

    def __repr__(self) -> str:  # never the key, in a log line or a traceback
        return "Pseudonymizer(<key hidden>)"

    def key_fingerprint(self) -> str:
        """A short public id of the key, so two builds can be told apart without revealing it."""
        return keyed_hash("cdp:pseudonymization-key-fingerprint", self._key)[:12]

    def pseudonym(self, kind: str, value: object) -> str | None:
        """The keyed hash of ``value`` as an identifier of ``kind``; None for a null or empty value."""
        if value is None:
            return None
        text = value.isoformat() if isinstance(value, datetime.date) else str(value)
        cached = self._cache.get((kind, text), ...)
        if cached is not ...:
            return cached
        normalized = normalize(kind, text, self._region) if kind in kinds() else None
        # A value the normalizer cannot read (a malformed email) is still hashed, as written:
        # it must neither pass through nor vanish.
        canonical = normalized if normalized is not None else text.strip()
        result = keyed_hash(f"{kind}:{canonical}", self._key) if canonical else None
        self._cache[(kind, text)] = result
        return result

    def hash_series(self, kind: str, series: pl.Series) -> pl.Series:
        """``series`` (scalars or lists) with every value replaced by its pseudonym. Two spellings of
        one identifier give one hash, so a list holds each hash once (sorted, which reveals nothing)."""
        if isinstance(series.dtype, pl.List):
            values = series.explode().drop_nulls().unique().cast(pl.String)
            mapping = {v: self.pseudonym(kind, v) for v in values.to_list()}
            return series.cast(pl.List(pl.String)).list.eval(
                pl.element().replace_strict(mapping, default=None, return_dtype=pl.String).unique().sort()
            )
        text = series.cast(pl.String)
        mapping = {v: self.pseudonym(kind, v) for v in text.drop_nulls().unique().to_list()}
        return text.replace_strict(mapping, default=None, return_dtype=pl.String)

    def hash_by_kind(self, values: pl.Series, kinds: list[str]) -> pl.Series:
        """Each value hashed as the kind on its row (client_identities' typed values)."""
        hashed = [
            None if value is None else self.pseudonym(kind, value)
            for value, kind in zip(values.cast(pl.String).to_list(), kinds, strict=True)
        ]
        return pl.Series(values.name, hashed, dtype=pl.String)


@dataclass
class PseudonymizedMart:
    """One mart's pseudonymized table and what was done to its columns."""

    mart: str
    table: pl.DataFrame
    hashed: dict[str, str] = field(default_factory=dict)  # column -> kind
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # unclassified: never copied


def pseudonymize_mart(mart: str, frame: pl.DataFrame, hasher: Pseudonymizer) -> PseudonymizedMart:
    """``frame`` (the mart as dbt built it) with identifiers hashed, analytics kept, unknowns dropped."""
    out = PseudonymizedMart(mart, frame)
    columns: list[pl.Series] = []
    for column in frame.columns:
        chosen = policy(mart, column)
        series = frame[column]
        if chosen is None:
            out.dropped.append(column)
            continue
        if chosen == KEEP:
            out.kept.append(column)
            columns.append(series)
            continue
        out.hashed[column] = chosen
        if chosen == "identifier":
            by_type = identifier_kinds()
            row_kinds = [by_type.get(t, f"identifier_{t}") for t in frame["identifier_type"].to_list()]
            columns.append(hasher.hash_by_kind(series, row_kinds))
        else:
            columns.append(hasher.hash_series(chosen, series))
        if column == "date_of_birth":
            columns.append(series.cast(pl.Date).dt.year().alias("birth_year"))
            out.kept.append("birth_year")
    out.table = pl.DataFrame(columns) if columns else pl.DataFrame()
    return out


def identifier_values(marts: Mapping[str, pl.DataFrame]) -> set[str]:
    """Every value of an unmistakable identifier column (:func:`checked_kinds`) of the source marts."""
    found: set[str] = set()
    for mart, frame in marts.items():
        for column in frame.columns:
            kind = policy(mart, column)
            if kind is None or kind == KEEP or (kind not in checked_kinds() and kind != "identifier"):
                continue
            series = frame[column]
            if isinstance(series.dtype, pl.List):
                series = series.explode()
            if kind == "identifier":
                checked = [
                    identifier_kinds().get(t) in checked_kinds() for t in frame["identifier_type"].to_list()
                ]
                series = series.filter(pl.Series(checked, dtype=pl.Boolean))
            found.update(v for v in series.cast(pl.String).drop_nulls().to_list() if v.strip())
    return found


def cells_holding(table: pl.DataFrame, values: set[str]) -> dict[str, int]:
    """Per text (or list of text) column of ``table``: how many cells equal one of ``values``."""
    hits: dict[str, int] = {}
    for column in table.columns:
        series = table[column]
        if isinstance(series.dtype, pl.List) and series.dtype.inner == pl.String:  # type: ignore[union-attr]
            series = series.explode()
        elif series.dtype != pl.String:
            continue
        count = int(series.drop_nulls().is_in(list(values)).sum()) if values else 0
        if count:
            hits[column] = count
    return hits


def columns_table(results: Iterable[PseudonymizedMart]) -> pl.DataFrame:
    """What was done to each column, for the analysts reading the pseudonymized file."""
    rows = []
    for result in results:
        rows += [(result.mart, c, f"hashed ({k})") for c, k in result.hashed.items()]
        rows += [(result.mart, c, "kept") for c in result.kept]
        rows += [(result.mart, c, "dropped (unclassified)") for c in result.dropped]
    return pl.DataFrame(rows, schema=["mart", "column_name", "treatment"], orient="row")


def _read_marts(warehouse: DuckDBResource) -> dict[str, pl.DataFrame]:
    """The marts that exist: the partitioned timeline is built by its own runs, possibly later."""
    with warehouse.get_connection() as connection:
        built = {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = ?", [SOURCE_SCHEMA]
            ).fetchall()
        }
        return {
            mart: connection.execute(f"select * from {SOURCE_SCHEMA}.{mart}").pl()
            for mart in MARTS
            if mart in built
        }


def _write(target: DuckDBResource, results: list[PseudonymizedMart]) -> None:
    """All tables in one transaction: a reader never sees tables hashed under two different keys."""
    with contextlib.ExitStack() as stack:
        try:
            connection = stack.enter_context(target.get_connection())
        except duckdb.IOException as exc:
            raise dg.Failure(
                description=(
                    f"the pseudonymized warehouse {target.database} is open in another process (an "
                    f"analyst's session?): DuckDB allows one writer. Close it and materialize again. ({exc})"
                )
            ) from None
        connection.execute(f"create schema if not exists {PSEUDONYMIZED_SCHEMA}")
        connection.execute("begin transaction")
        try:
            # A mart that does not exist (any more) has no pseudonymized copy either.
            for mart in set(MARTS) - {r.mart for r in results}:
                connection.execute(f"drop table if exists {PSEUDONYMIZED_SCHEMA}.{mart}")
            frames = [(r.mart, r.table) for r in results] + [(COLUMNS_TABLE, columns_table(results))]
            for name, frame in frames:
                arrow = frame.to_arrow()  # noqa: F841  (DuckDB reads the Python variable by name)
                connection.execute(
                    f"create or replace table {PSEUDONYMIZED_SCHEMA}.{name} as select * from arrow"
                )
            connection.execute("commit")
        except BaseException:
            connection.execute("rollback")
            raise


def pseudonymized_key(mart: str) -> dg.AssetKey:
    return dg.AssetKey(["pseudonymized", mart])


def build_pseudonymized_marts(settings: Settings) -> dg.AssetsDefinition:
    """The three pseudonymized marts as one step: one key load, one hashing pass, one write."""
    production = settings.env == "production"
    target = str(settings.pseudonymized_warehouse_path)
    specs = [
        dg.AssetSpec(
            pseudonymized_key(mart),
            deps=[dg.AssetKey(mart), ERASURE_AUDIT_KEY],
            group_name="privacy",
            kinds={"python", "duckdb"},
            metadata={"database": target, "table": f"{PSEUDONYMIZED_SCHEMA}.{mart}"},
            automation_condition=profile_automation_condition(),
            skippable=True,  # a mart not built yet (the timeline has its own runs) is not copied
            description=(
                f"{mart} with every direct identifier replaced by an HMAC-SHA256 keyed hash (client_id "
                f"too, so the pseudonymized marts join), in the separate DuckDB file for analysts."
            ),
        )
        for mart in MARTS
    ]
    checks = [
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset=pseudonymized_key(mart),
            description=(
                "Every column of the mart is classified (an unclassified one is dropped, never copied), "
                "and no email, phone, id, handle, street or postcode of the marts appears in the table."
            ),
        )
        for mart in MARTS
    ]

    @dg.multi_asset(
        name="pseudonymized_marts",
        specs=specs,
        check_specs=checks,
        pool=WAREHOUSE_POOL,  # it reads the warehouse, which dbt and the erasure job write
        can_subset=False,
    )
    def pseudonymized_marts(
        context: dg.AssetExecutionContext,
        warehouse: DuckDBResource,
        pseudonymized_warehouse: DuckDBResource,
        lake: LakeResource,
    ):
        hasher = Pseudonymizer(privacy_key(lake.lake(), production=production), settings.default_phone_region)
        sources = _read_marts(warehouse)
        results = [pseudonymize_mart(mart, frame, hasher) for mart, frame in sources.items()]
        _write(pseudonymized_warehouse, results)
        known = identifier_values(sources)
        fingerprint = hasher.key_fingerprint()
        for mart in MARTS:
            if mart not in sources:
                # Not materialized: it follows when the mart is built (the automation condition).
                context.log.warning(f"{SOURCE_SCHEMA}.{mart} does not exist yet: nothing to pseudonymize")
                yield dg.AssetCheckResult(
                    asset_key=pseudonymized_key(mart),
                    check_name=CHECK_NAME,
                    passed=True,
                    description=f"{SOURCE_SCHEMA}.{mart} does not exist yet: no table, nothing exposed",
                )
        for result in results:
            if result.dropped:
                context.log.warning(
                    f"{result.mart}: unclassified columns not copied: {', '.join(result.dropped)} "
                    "(classify them in cdp_platform/privacy/pseudonymize.py)"
                )
            leaks = cells_holding(result.table, known)
            key = pseudonymized_key(result.mart)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows": result.table.height,
                    "source_rows": sources[result.mart].height,
                    "hashed_columns": dg.MetadataValue.json(result.hashed),
                    "kept_columns": len(result.kept),
                    "dropped_columns": dg.MetadataValue.json(result.dropped),
                    "key_fingerprint": fingerprint,
                },
            )
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=CHECK_NAME,
                passed=not result.dropped and not leaks,
                # Column names and counts only: the values themselves must not reach the event log.
                metadata={
                    "unclassified_columns": dg.MetadataValue.json(result.dropped),
                    "cells_holding_identifiers": dg.MetadataValue.json(leaks),
                },
            )

    return pseudonymized_marts


def pseudonymized_definitions(settings: Settings) -> dg.Definitions:
    """The pseudonymized marts and the resource of their separate DuckDB file."""
    return dg.Definitions(
        assets=[build_pseudonymized_marts(settings)],
        resources={
            PSEUDONYMIZED_RESOURCE_KEY: DuckDBResource(database=str(settings.pseudonymized_warehouse_path))
        },
    )
