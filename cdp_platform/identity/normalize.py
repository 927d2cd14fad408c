"""Normalization for matching: the identity columns turned into comparable keys, blocked values nulled.

This is stricter than the cleansed layer's normalization, which keeps what the person typed: here two
spellings of one mailbox, phone or handle must become the same key, and a placeholder (``unknown``,
``test@example.com``, an all-zero phone) must become null so that it can never link two people.

- email: trimmed, lowercased; for Gmail (and googlemail.com, the same service) dots and ``+tags`` in
  the local part are removed, because Gmail delivers all of those to one mailbox. Other providers
  treat dots as significant, so they are kept there.
- phone: E.164 via ``phonenumbers``; numbers typed nationally are read in the record's country when
  it is known, else in the configured default region; invalid numbers and runs of one digit are null.
- handles: the profile URL and a leading ``@`` removed, lowercased (social networks ignore case).
- names: accents folded, lowercased, letters only, spaces removed (van Dyke and Van-Dyke are one
  name, Mary Ann and Maryann too); ``first_name``/``last_name`` fall back to the first word of ``full_name``
  and the rest of it; ``first_canonical`` maps nicknames to formal names.
"""

from __future__ import annotations

import datetime

import phonenumbers
import polars as pl

from cdp_platform.cleansed.normalize import date as parse_date
from cdp_platform.cleansed.normalize import phone_to_e164
from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.nicknames import CANONICAL_FIRST_NAME
from cdp_platform.sources.profiles import handle_columns, profile_hosts_pattern, profile_identifiers

# The identity input's columns: these, with each declared social network's identifier (handles,
# then platform user ids: :func:`cdp_platform.sources.profiles.profile_identifiers`) before the
# web cookie.
_INPUT_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "street",
    "city",
    "postcode",
    "region",
    "country",
    "crm_id",
)


def input_columns() -> tuple[str, ...]:
    """Every column :func:`prepare` reads (a missing one counts as null)."""
    return (*_INPUT_COLUMNS, *(p.column for p in profile_identifiers()), "ga_client_id")


def __getattr__(name: str) -> object:
    # ``INPUT_COLUMNS`` is derived from the declared sources on first use, not at import.
    if name == "INPUT_COLUMNS":
        return input_columns()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_COUNTRIES: dict[str, str] = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "spain": "ES",
    "espana": "ES",
    "italy": "IT",
    "italia": "IT",
    "netherlands": "NL",
    "canada": "CA",
    "australia": "AU",
    "ireland": "IE",
}


def prepare(records: pl.DataFrame, config: ResolutionConfig) -> pl.DataFrame:
    """The input with every missing column added as null, cast to text, and normalized keys beside it.

    Returns one row per input row with ``row`` (0..n-1, the graph's node number), ``record_id``,
    ``source`` and the normalized columns the matchers use.
    """
    columns = input_columns()
    handles = handle_columns()
    user_ids = [p.column for p in profile_identifiers() if p.kind == "user_id"]
    missing = [column for column in columns if column not in records.columns]
    frame = records.with_columns(pl.lit(None, dtype=pl.String).alias(column) for column in missing)
    frame = frame.select(pl.col(column).cast(pl.String) for column in columns)
    if frame["record_id"].null_count():
        raise ValueError("record_id must not be null")
    if frame["record_id"].n_unique() != frame.height:
        raise ValueError("record_id must be unique: resolve() returns one row per record_id")

    blocked = sorted(config.blocked_text)
    frame = frame.with_columns(
        _text(pl.col(column), blocked).alias(column)
        for column in columns
        if column not in ("record_id", "source", "date_of_birth")
    )
    full_words = _name(pl.col("full_name")).str.split(" ")
    # A first name typed with a space (Mary Ann, "ja ck") is one name, as a last name is: spaces go.
    first = pl.coalesce(_name(pl.col("first_name")).str.replace_all(" ", ""), full_words.list.first())
    last = pl.coalesce(
        _name(pl.col("last_name")).str.replace_all(" ", ""),
        pl.when(full_words.list.len() > 1).then(full_words.list.slice(1).list.join("")),
    )
    country = _country(pl.col("country"))
    frame = frame.with_columns(
        first.alias("n_first"),
        last.alias("n_last"),
        country.alias("n_country"),
        _email(pl.col("email"), config).alias("n_email"),
        _date_of_birth(pl.col("date_of_birth"), config).alias("n_date_of_birth"),
        *(_handle(pl.col(column), blocked).alias(f"n_{column}") for column in handles),
        _squash(pl.col("postcode")).alias("n_postcode"),
        _words(pl.col("street")).alias("n_street"),
        _words(pl.col("city")).alias("n_city"),
        _words(pl.col("region")).alias("n_region"),
    )
    frame = frame.with_columns(
        pl.when(pl.col(column).is_in(blocked)).then(None).otherwise(pl.col(column)).alias(column)
        for column in ("n_first", "n_last")
    )
    frame = frame.with_columns(
        pl.col("n_first").replace(CANONICAL_FIRST_NAME).alias("n_first_canonical"),
        pl.concat_str(["n_first", "n_last"], separator=" ").alias("n_full_name"),
        _phones(frame, config).alias("n_phone"),
    )
    frame = frame.with_columns(
        pl.concat_str(["n_phone", "n_first", "n_last"], separator="|").alias("n_phone_name"),
        _mailbox_user(pl.col("n_email")).alias("n_email_user"),
    )
    frame = frame.with_columns(
        pl.coalesce(
            chosen_number(pl.col("n_email").str.extract(r"^([^@+]+)", 1)),
            *(chosen_number(pl.col(f"n_{column}")) for column in handles),
        ).alias("n_number")
    )
    return frame.with_row_index("row").select(
        pl.col("row").cast(pl.Int64),
        "record_id",
        "source",
        "n_first",
        "n_first_canonical",
        "n_last",
        "n_full_name",
        "n_email",
        "n_email_user",
        "n_number",
        "n_phone",
        "n_phone_name",
        "n_date_of_birth",
        "n_street",
        "n_city",
        "n_postcode",
        "n_region",
        "n_country",
        pl.col("crm_id").alias("n_crm_id"),
        *(f"n_{column}" for column in handles),
        *(pl.col(column).alias(f"n_{column}") for column in user_ids),
        pl.col("ga_client_id").alias("n_ga_client_id"),
    )


def _text(expr: pl.Expr, blocked: list[str]) -> pl.Expr:
    """Trimmed text; a placeholder (compared case-insensitively) becomes null."""
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed.str.to_lowercase().is_in(blocked)).then(None).otherwise(trimmed)


def _fold(expr: pl.Expr) -> pl.Expr:
    """Lowercase ASCII-ish text: accents removed (é → e, ü → u), ß spelled out."""
    return (
        expr.str.to_lowercase().str.replace_all("ß", "ss").str.normalize("NFKD").str.replace_all(r"\p{M}", "")
    )


def _name(expr: pl.Expr) -> pl.Expr:
    cleaned = _fold(expr).str.replace_all(r"[^a-z ]", "").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def _words(expr: pl.Expr) -> pl.Expr:
    cleaned = _fold(expr).str.replace_all(r"[^a-z0-9 ]", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def _squash(expr: pl.Expr) -> pl.Expr:
    cleaned = _fold(expr).str.replace_all(r"[^a-z0-9]", "")
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def _country(expr: pl.Expr) -> pl.Expr:
    """ISO 3166 alpha-2 from a name, code or common alias; unknown spellings become null."""
    folded = _fold(expr).str.strip_chars()
    codes = sorted(phonenumbers.SUPPORTED_REGIONS)
    upper = folded.str.to_uppercase()
    return (
        pl.when(folded.is_in(list(_COUNTRIES)))
        .then(folded.replace_strict(_COUNTRIES, default=None, return_dtype=pl.String))
        .when(upper.is_in(codes))
        .then(upper)
        .otherwise(None)
    )


def _email(expr: pl.Expr, config: ResolutionConfig) -> pl.Expr:
    lowered = expr.str.to_lowercase().str.replace_all(r"\s+", "")
    parts = lowered.str.extract_groups(r"^([^@]+)@([a-z0-9.-]+\.[a-z]{2,})$")
    local, domain = parts.struct.field("1"), parts.struct.field("2")
    domain = pl.when(domain == "googlemail.com").then(pl.lit("gmail.com")).otherwise(domain)
    gmail_local = local.str.replace(r"\+.*$", "").str.replace_all(".", "", literal=True)
    local = pl.when(domain == "gmail.com").then(gmail_local).otherwise(local)
    address = pl.concat_str([local, domain], separator="@")
    is_blocked = (
        address.is_in(sorted(config.blocked_emails))
        | domain.is_in(sorted(config.blocked_email_domains))
        | local.is_in(sorted(config.blocked_email_local_parts))
        | (local == "")
    )
    return pl.when(is_blocked).then(None).otherwise(address)


def _mailbox_user(normalized_email: pl.Expr) -> pl.Expr:
    """The part of an address a person chose, for comparing (never for linking on its own).

    ``jane.doe1982+shop@yahoo.com`` and ``jane_doe1982@outlook.com`` are not one mailbox, but the same
    chosen name in two places is evidence of one person (Splink's email comparison has the same
    "username" level). Separators and ``+tags`` go, so ``jane.doe1982`` meets ``janedoe1982``; the same
    key also compares a mailbox with a social handle (:mod:`.handle_email`).
    """
    return user_key(normalized_email.str.extract(r"^([^@]+)@", 1))


def user_key(expr: pl.Expr) -> pl.Expr:
    """A chosen user name without case, ``+tag`` or separators (``.``, ``_``, ``-``)."""
    key = expr.str.to_lowercase().str.replace(r"\+.*$", "").str.replace_all(r"[._\-]", "")
    return pl.when(key.str.len_chars() > 0).then(key)


def chosen_number(key: pl.Expr) -> pl.Expr:
    """The number a person put at the end of a user name or handle (two digits or more), if any.

    People carry one number (a birth year, a lucky number) from one user name to the next:
    ``jburgess1705`` at work, ``jodie.burgess1705`` at home, ``@jodieb_1705`` on a social network. It is
    evidence for Splink (term-frequency adjusted: a year is worth less than a rare number) and for
    :mod:`.handle_email`, never a link on its own. Read before separators are dropped, so that
    ``jim17_2111`` carries 2111, not 172111.
    """
    return key.str.extract(r"(\d{2,})$", 1)


def _date_of_birth(expr: pl.Expr, config: ResolutionConfig) -> pl.Expr:
    parsed = parse_date(expr)
    blocked = sorted(config.blocked_dates_of_birth)
    # A birth date after the records were made is a typing slip, not a person.
    return (
        pl.when(parsed.is_in(blocked) | (parsed > pl.lit(datetime.datetime.now(datetime.UTC).date())))
        .then(None)
        .otherwise(parsed)
    )


def _handle(expr: pl.Expr, blocked: list[str]) -> pl.Expr:
    cleaned = expr.str.to_lowercase()
    hosts = profile_hosts_pattern()
    if hosts is not None:  # a handle typed as its profile URL (``https://<host>/<handle>``)
        cleaned = cleaned.str.replace(rf"^(https?://)?(www\.|mobile\.)?({hosts})/", "")
    cleaned = cleaned.str.replace(r"[/?#].*$", "").str.replace(r"^@+", "").str.strip_chars()
    return pl.when(cleaned.is_in(blocked)).then(None).otherwise(cleaned)


def _phones(frame: pl.DataFrame, config: ResolutionConfig) -> pl.Series:
    """E.164 per row.

    A well-formed North American number (region US or CA, ten digits with an optional 1, area code
    and exchange not starting with 0 or 1) is formatted by rule: ``+1`` and its ten digits, exactly
    what ``phonenumbers`` returns for it, twenty times faster, which matters at a million records.
    Everything else is parsed by ``phonenumbers``, once per distinct (text, region).
    """
    region = frame["n_country"].fill_null(config.default_region)
    pairs = pl.DataFrame({"raw": frame["phone"], "region": region}).with_columns(
        pl.col("raw").str.replace_all(r"\D", "").alias("digits")
    )
    plus = pl.col("raw").str.starts_with("+")
    nanp = (
        pl.col("region").is_in(list(_NANP_REGIONS))
        & pl.col("raw").str.contains(r"^\+?[\d\s().\-]+$")
        & pl.when(plus)
        .then(pl.col("digits").str.contains(r"^1[2-9]\d{2}[2-9]\d{6}$"))
        .otherwise(pl.col("digits").str.contains(r"^1?[2-9]\d{2}[2-9]\d{6}$"))
    )
    pairs = pairs.with_columns(
        pl.when(nanp).then(pl.concat_str([pl.lit("+1"), pl.col("digits").str.slice(-10)])).alias("fast")
    )
    slow = pairs.filter(pl.col("fast").is_null()).select("raw", "region").unique().drop_nulls("raw")
    parsed = [phone_to_e164(raw, reg) for raw, reg in slow.iter_rows()]
    lookup = slow.with_columns(pl.Series("parsed", parsed, dtype=pl.String))
    e164 = pairs.join(lookup, on=["raw", "region"], how="left", maintain_order="left").select(
        pl.coalesce("fast", "parsed")
    )["fast"]
    # Placeholders that happen to be well formed: one digit repeated, or a run, as the last seven.
    last_seven = e164.str.slice(-7)
    return pl.select(pl.when(last_seven.is_in(_PLACEHOLDER_SEVEN)).then(None).otherwise(e164)).to_series()


_NANP_REGIONS = frozenset({"US", "CA"})
_PLACEHOLDER_SEVEN = [str(d) * 7 for d in range(10)] + ["1234567", "0123456", "7654321"]
