"""Normalization of the values vendors send, as polars expressions and small pure functions.

Each function takes the raw value the way some vendor sends it and returns one canonical form, or
null when the value cannot be read. The cleansed assets keep the original beside the canonical
value and quarantine rows whose required values come back null, so nothing is silently changed
or dropped.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import phonenumbers
import polars as pl
from phonenumbers.geodata.locale import LOCALE_DATA

UTC_DATETIME = pl.Datetime("us", "UTC")
AMOUNT = pl.Decimal(18, 2)

# Syntax only (RFC 5322 is far looser than what any mail system accepts): one @, a dot-atom
# local part, a domain with a dot and letters-only top-level label.
EMAIL_PATTERN = r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$"


def timestamp(column: str | pl.Expr) -> pl.Expr:
    """Any vendor timestamp as UTC: ``+0000`` offsets, ``Z``, fractional seconds or not, ms epoch
    (CRM property values), unix seconds (payments APIs), ``YYYYMMDD`` (web analytics) and
    ``YYYY-MM-DD`` dates. Unreadable → null."""
    text = (pl.col(column) if isinstance(column, str) else column).cast(pl.String).str.strip_chars()
    # "+0000" and "+00:00" are both ISO 8601; chrono's %z accepts either, and %.f also accepts no
    # fraction, so with "Z" spelled "+0000" one pattern reads every ISO form the vendors send.
    candidates = [
        text.str.replace(r"Z$", "+0000").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC", time_unit="us"
        ),
        pl.when(text.str.contains(r"^\d{12,14}$"))
        .then(text.cast(pl.Int64, strict=False))
        .otherwise(None)
        .cast(pl.Datetime("ms"))
        .dt.replace_time_zone("UTC")
        .dt.cast_time_unit("us"),
        # Unix seconds (a payments API's ``created``): nine to eleven digits, 1973 to 5138.
        pl.when(text.str.contains(r"^\d{9,11}$"))
        .then(text.cast(pl.Int64, strict=False) * 1_000_000)
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
        pl.when(text.str.contains(r"^\d{8}$"))
        .then(text.str.to_date("%Y%m%d", strict=False))
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
        pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    ]
    return pl.coalesce(candidates)


def date(column: str | pl.Expr) -> pl.Expr:
    return timestamp(column).dt.date()


def email(column: str | pl.Expr) -> pl.Expr:
    """Trimmed and lowercased; the syntax is checked separately by :func:`email_is_valid`."""
    expr = pl.col(column) if isinstance(column, str) else column
    cleaned = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(cleaned == "").then(None).otherwise(cleaned)


def email_is_valid(column: str | pl.Expr) -> pl.Expr:
    return email(column).str.contains(EMAIL_PATTERN)


@lru_cache(maxsize=200_000)
def phone_to_e164(raw: str | None, default_region: str = "US") -> str | None:
    """A phone number as E.164 (``+14155550123``), or ``None`` when it is not a valid number."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or not re.search(r"\d", text):
        return None
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone(column: str | pl.Expr, default_region: str = "US", region: pl.Expr | None = None) -> pl.Expr:
    """E.164 via ``phonenumbers``. Parsing runs once per distinct value (most repeat).

    ``region`` (ISO alpha-2 per row, e.g. from :func:`country_code` of the record's country) reads
    national numbers the way the person's own country writes them (``0170 1234567`` is German);
    a number that is not valid there, or a row without a region, is read in ``default_region``.
    """
    expr = (pl.col(column) if isinstance(column, str) else column).cast(pl.String)
    if region is None:
        return expr.map_batches(lambda series: _phones(series, default_region), return_dtype=pl.String)
    return pl.struct(expr.alias("number"), region.cast(pl.String).alias("region")).map_batches(
        lambda series: _phones_in_regions(series, default_region), return_dtype=pl.String
    )


def _phones_in_regions(series: pl.Series, default_region: str) -> pl.Series:
    rows = series.struct.unnest().with_columns(pl.col("region").fill_null(default_region))
    pairs = rows.unique().drop_nulls("number")
    parsed = pairs.with_columns(
        pl.Series(
            "e164",
            [
                phone_to_e164(number, region) or phone_to_e164(number, default_region)
                for number, region in pairs.iter_rows()
            ],
            dtype=pl.String,
        )
    )
    return rows.join(parsed, on=["number", "region"], how="left", maintain_order="left")["e164"]


def _phones(series: pl.Series, default_region: str) -> pl.Series:
    unique = series.unique().drop_nulls()
    mapping = {value: phone_to_e164(value, default_region) for value in unique.to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.String)


# Spellings people type that are neither a country's name nor its code.
_COUNTRY_ALIASES = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
}
_NAME_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Lowercased country names (in a few languages, from the phone-number library's own locale
    data) and ISO alpha-2 codes → ISO alpha-2 code."""
    names: dict[str, str] = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        names[region.lower()] = region
        by_language = LOCALE_DATA.get(region, {})
        for language in _NAME_LANGUAGES:
            label = by_language.get(language)
            # "*xx" means "the same as language xx" (the data shares repeated names).
            while label is not None and label.startswith("*"):
                label = by_language.get(label[1:])
            if label:
                names.setdefault(label.lower(), region)
    names.update(_COUNTRY_ALIASES)
    return names


def country_code(column: str | pl.Expr) -> pl.Expr:
    """A country as typed (``Germany``, ``DE``, ``Deutschland``, ``USA``) as its ISO 3166 alpha-2
    code; unknown → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return text.replace_strict(_country_names(), default=None, return_dtype=pl.String)


# A name has a letter in some script; anything without one ("🏕", "...", "123") is not a name.
LETTER = r"\p{L}"


def name(column: str | pl.Expr) -> pl.Expr:
    """Whitespace collapsed; a word in ALL CAPS or all lowercase title-cased (``McDonald`` is
    kept as typed); empty or letterless → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    collapsed = expr.cast(pl.String).str.strip_chars().str.replace_all(r"\s+", " ")
    collapsed = pl.when(collapsed.str.contains(LETTER)).then(collapsed).otherwise(None)
    word = pl.element()
    fixed = (
        collapsed.str.split(" ")
        .list.eval(
            pl.when((word == word.str.to_uppercase()) | (word == word.str.to_lowercase()))
            .then(word.str.to_titlecase())
            .otherwise(word)
        )
        .list.join(" ")
    )
    return pl.when(collapsed == "").then(None).otherwise(fixed)


# What people add to a social display name around their name (issue 17, seen in recorded social
# networks' answers: "Emily Waligoske 🏕", "Dr. Jane Doe, PhD", "jane doe (she/her) | Acme").
_AFTER_SEPARATOR = r"\s*(?:[|•·]|\s[-\u2013\u2014]\s).*$"  # a company or tagline after a pipe or dash
_PRONOUNS = r"(?i)[(\[]?\b(?:she|he|they|xe|ze|it)\s*/\s*(?:her|hers|him|his|them|theirs|they|xem|zir|she|he)\b(?:\s*/\s*\w+)?[)\]]?"
_BRACKETED = r"\([^)]*\)|\[[^\]]*\]"
_CREDENTIALS = r"(?i),.*$|\b(?:phd|ph\.d|md|mba|cpa|esq|msc|bsc|rn|jr|sr|ii|iii|iv)\b\.?"
_TITLES = r"(?i)^(?:(?:dr|mr|mrs|ms|mx|miss|prof|sir|dame|rev)\b\.?\s+)+"
# Everything but letters, combining marks, spaces and the punctuation names use; variation
# selectors and emoji tag characters go too (they are marks or format characters of an emoji).
_NOT_NAME = r"[\x{FE00}-\x{FE0F}\x{E0000}-\x{E007F}]|[^\p{L}\p{M}\s'\x{2019}.\-]"


_EDGE_PUNCTUATION = ".-'\u2019"


def display_name(column: str | pl.Expr) -> pl.Expr:
    """A social display name as a person's name: a company or tagline after a pipe or a spaced
    dash, pronouns, bracketed asides, credentials and generational suffixes, leading titles,
    emoji, flags and symbols removed; then as :func:`name` (case, whitespace). No letter left → null.

    ``Emily Waligoske 🏕`` → ``Emily Waligoske``; ``DR. JANE DOE, PhD`` → ``Jane Doe``;
    ``jane doe (she/her) | Acme`` → ``Jane Doe``; ``🇺🇦🇺🇦`` → null.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    text = (
        expr.cast(pl.String)
        .str.replace(_AFTER_SEPARATOR, "")
        .str.replace_all(_PRONOUNS, " ")
        .str.replace_all(_BRACKETED, " ")
        .str.replace_all(_CREDENTIALS, " ")
        .str.replace_all(_NOT_NAME, " ")
        .str.strip_chars()
        .str.replace(_TITLES, "")
    )
    # Punctuation left alone at a word's edge ("Doe ." or "- Jane") is debris, not a name.
    words = text.str.split(" ").list.eval(
        pl.element()
        .str.strip_chars(_EDGE_PUNCTUATION)
        .filter(pl.element().str.strip_chars(_EDGE_PUNCTUATION).str.contains(LETTER))
    )
    return name(words.list.join(" "))


@cache
def _profile_prefix() -> str:
    """A profile URL (on a host a declared network's handles live on, with or without scheme and
    www) or an @."""
    from cdp_platform.sources.profiles import profile_hosts_pattern  # imports the sources' folders

    hosts = profile_hosts_pattern()
    return "^@" if hosts is None else rf"^(?:https?://)?(?:www\.)?(?:mobile\.)?(?:{hosts})/|^@"


def handle(column: str | pl.Expr) -> pl.Expr:
    """A social handle as the network's canonical username: ``@Jane_Doe``, ``jane_doe`` and
    ``https://<the network's host>/Jane_Doe/`` are all ``jane_doe`` (usernames are case-insensitive), so
    the same account matches across systems. Anything that is not a bare username after that → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = (
        expr.cast(pl.String)
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace(_profile_prefix(), "")
        .str.replace(r"[/?#].*$", "")
    )
    return pl.when(text.str.contains(r"^[a-z0-9_.]{1,30}$")).then(text).otherwise(None)


def amount(column: str | pl.Expr) -> pl.Expr:
    """A money amount (JSON number or numeric string) as Decimal(18, 2); unreadable → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String).str.strip_chars().str.replace_all(",", "")
    return text.cast(pl.Float64, strict=False).round(2).cast(AMOUNT, strict=False)


def integer(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)


def boolean(column: str | pl.Expr) -> pl.Expr:
    """``true``/``false`` in any case, ``1``/``0``, JSON booleans; anything else → null."""
    expr = pl.col(column) if isinstance(column, str) else column
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["true", "1", "yes"]))
        .then(True)
        .when(text.is_in(["false", "0", "no"]))
        .then(False)
        .otherwise(None)
    )
