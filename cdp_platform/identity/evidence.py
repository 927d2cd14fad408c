"""Why two records are one client: the evidence of every accepted link.

For a link made by a rule, the rule and the value the two records share (an email, a CRM id, a
phone with the same name, the user name a handle and a mailbox share...). For a probabilistic link,
the Splink waterfall: per comparison, the level that matched, its Bayes factor and match weight
(log2 of the Bayes factor; they add up, with the prior's, to the link's match weight).

:func:`link_evidence` returns the shared values in the clear: it is part of the library, which
keeps no secrets. Whatever writes evidence anywhere replaces them with keyed hashes first
(:func:`hash_shared_values`, the privacy key the lake resource provides), so the warehouse says
*which kind* of value two records share and lets anyone holding the value check it, but never
spells it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import polars as pl

from cdp_platform.identity.config import link_types
from cdp_platform.identity.merge import PROBABILISTIC_RULE
from cdp_platform.sources.profiles import profile_identifiers

# Per rule: the kind of value its two records share (a kind of privacy.hashing.KINDS where there is
# one, so the hash equals the pseudonymized marts' and the erasure audit's) and the prepared column
# holding it, on both records or (handle_email) on the one that is not a bare handle. Each declared
# network's identifier is its own rule (:func:`shared_values`), between ``crm_id``'s and
# ``email``'s or after, in priority order.
_SHARED_VALUES: dict[str, tuple[str, str]] = {
    "crm_id": ("crm_id", "n_crm_id"),
    "email": ("email", "n_email"),
    "ga_client_id": ("ga_client_id", "n_ga_client_id"),
    # The phone rule also needs the same first and last name; the phone is the identifier.
    "phone_name": ("phone", "n_phone"),
}
_OTHER_RULES: dict[str, tuple[str, str]] = {
    # A handle-only profile and the mailbox of the same user name: the rich record holds it.
    "handle_email": ("handle", "n_email_user"),
    # The handle spells the name and carries the number only the client's mailbox carries.
    "handle_name": ("number", "n_number"),
    "unique_name": ("name", "n_unique_name"),
}


@cache
def shared_values() -> dict[str, tuple[str, str]]:
    """Per rule, (kind, prepared column): the link types in priority order, then the other rules."""
    declared = {p.column: (p.hash_kind, f"n_{p.column}") for p in profile_identifiers()}
    by_type = {**_SHARED_VALUES, **declared}
    return {**{rule: by_type[rule] for rule in link_types()}, **_OTHER_RULES}


def __getattr__(name: str) -> object:
    # ``SHARED_VALUES`` is derived from the declared sources on first use, not at import.
    if name == "SHARED_VALUES":
        return shared_values()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LINK_EVIDENCE_SCHEMA = {
    "row_a": pl.Int64,
    "row_b": pl.Int64,
    "rule": pl.String,
    "match_probability": pl.Float64,
    "shared_kind": pl.String,
    "shared_value": pl.String,
    "comparison": pl.String,
    "level": pl.String,
    "bayes_factor": pl.Float64,
    "match_weight": pl.Float64,
}
WATERFALL_SCHEMA = {
    "row_a": pl.Int64,
    "row_b": pl.Int64,
    "comparison": pl.String,
    "level": pl.String,
    "bayes_factor": pl.Float64,
    "match_weight": pl.Float64,
}


def waterfall_rows(scored: pl.DataFrame) -> pl.DataFrame:
    """The model's scored pairs (:class:`.probabilistic.ScoredPairs` ``evidence``: a list of
    per-comparison structs per pair) as one row per (pair, comparison), ``WATERFALL_SCHEMA``."""
    if scored.height == 0:
        return pl.DataFrame(schema=WATERFALL_SCHEMA)
    return (
        scored.select("row_a", "row_b", "comparisons")
        .explode("comparisons")
        .drop_nulls("comparisons")
        .unnest("comparisons")
        .select(pl.col(name).cast(dtype) for name, dtype in WATERFALL_SCHEMA.items())
    )


def link_evidence(
    prepared: pl.DataFrame, links: pl.DataFrame, waterfall: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per rule link (its shared value) and per comparison of each probabilistic link
    (``waterfall``: row_a, row_b, comparison, level, bayes_factor, match_weight); ``LINK_EVIDENCE_SCHEMA``.

    A probabilistic link without waterfall rows (a model that does not report them) keeps one row
    with its probability and no comparison. Links of rules not in :func:`shared_values` (a
    reviewer's ``same``) keep one row with no shared value.
    """
    values = prepared.with_columns(
        # The name key unique_name links on: the formal first name (nicknames folded) and the last.
        pl.concat_str(["n_first_canonical", "n_last"], separator=" ").alias("n_unique_name"),
    )
    ruled = links.filter(pl.col("rule") != PROBABILISTIC_RULE)
    parts = []
    for rule, (kind, column) in shared_values().items():
        chosen = ruled.filter(pl.col("rule") == rule)
        if chosen.height == 0:
            continue
        ends = chosen.join(
            values.select(pl.col("row").alias("row_a"), pl.col(column).alias("value_a")),
            on="row_a",
            how="left",
        ).join(
            values.select(pl.col("row").alias("row_b"), pl.col(column).alias("value_b")),
            on="row_b",
            how="left",
        )
        shared = pl.coalesce("value_a", "value_b")
        parts.append(
            ends.select(
                "row_a",
                "row_b",
                "rule",
                "match_probability",
                pl.lit(kind).alias("shared_kind"),
                shared.alias("shared_value"),
            )
        )
    others = ruled.filter(~pl.col("rule").is_in(list(shared_values())))
    parts.append(others.select("row_a", "row_b", "rule", "match_probability"))
    scored = links.filter(pl.col("rule") == PROBABILISTIC_RULE).select(
        "row_a", "row_b", "rule", "match_probability"
    )
    if waterfall is not None and waterfall.height:
        with_steps = scored.join(waterfall, on=["row_a", "row_b"], how="inner")
        parts.append(with_steps)
        scored = scored.join(waterfall.select("row_a", "row_b").unique(), on=["row_a", "row_b"], how="anti")
    parts.append(scored)
    frame = pl.concat(
        [part.cast({k: v for k, v in LINK_EVIDENCE_SCHEMA.items() if k in part.columns}) for part in parts],  # type: ignore[arg-type]
        how="diagonal",
    )
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in LINK_EVIDENCE_SCHEMA.items()
    )


def hash_shared_values(evidence: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """``evidence`` with ``shared_value`` replaced by ``shared_value_hash``: the keyed hash of
    ``"<kind>:<value>"`` (:func:`cdp_platform.privacy.hashing.identifier_hash` for the kinds it
    knows, so an email's hash is the one the pseudonymized marts hold)."""
    from cdp_platform.privacy.hashing import KINDS, identifier_hash, keyed_hash

    pairs = evidence.select("shared_kind", "shared_value").drop_nulls().unique()
    hashes = {
        (kind, value): (
            # Identity's phones are E.164 already, which is what identifier_hash would parse them
            # into again (phonenumbers, the slow part: seconds per 100,000 phones).
            keyed_hash(f"{kind}:{value}", key)
            if kind not in KINDS or kind == "phone"
            else identifier_hash(kind, value, key)
        )
        for kind, value in pairs.iter_rows()
    }
    lookup = pl.DataFrame(
        [(kind, value, digest) for (kind, value), digest in hashes.items()],
        schema={"shared_kind": pl.String, "shared_value": pl.String, "shared_value_hash": pl.String},
        orient="row",
    )
    return (
        evidence.join(lookup, on=["shared_kind", "shared_value"], how="left", maintain_order="left")
        .drop("shared_value")
        .select(*[c if c != "shared_value" else "shared_value_hash" for c in evidence.columns])
    )


def _step() -> pl.Expr:
    """One comparison of a waterfall as text: ``name: exact full name (BF 512, +9.0)``."""
    return pl.format(
        "{}: {} (BF {}, {})",
        pl.col("comparison"),
        pl.col("level"),
        pl.col("bayes_factor").round_sig_figs(3),
        pl.when(pl.col("match_weight") >= 0)
        .then(pl.lit("+") + pl.col("match_weight").round(1).cast(pl.String))
        .otherwise(pl.col("match_weight").round(1).cast(pl.String)),
    )


def describe_links(hashed: pl.DataFrame) -> pl.DataFrame:
    """One line of text per link of hashed evidence (``record_id_a``, ``record_id_b``, ``text``):
    ``email #3fa2c1d0e9b4`` for a rule (the first 12 characters of the shared value's keyed hash),
    ``probabilistic 0.973: name: exact full name (BF 512, +9.0), ...`` for the model."""
    steps = (
        hashed.filter(pl.col("comparison").is_not_null())
        .group_by("record_id_a", "record_id_b", maintain_order=True)
        .agg(_step().str.join(", ").alias("steps"))
    )
    links = hashed.unique(["record_id_a", "record_id_b", "rule"], keep="first", maintain_order=True)
    links = links.join(steps, on=["record_id_a", "record_id_b"], how="left")
    text = (
        pl.when(pl.col("match_probability").is_not_null())
        .then(
            pl.concat_str(
                pl.col("rule"),
                pl.lit(" ") + pl.col("match_probability").round(3).cast(pl.String),
                pl.lit(": ") + pl.col("steps"),
                ignore_nulls=True,
            )
        )
        .otherwise(
            pl.concat_str(
                pl.col("rule"),
                pl.lit(" ")
                + pl.col("shared_kind")
                + pl.lit("#")
                + pl.col("shared_value_hash").str.slice(0, 12),
                ignore_nulls=True,
            )
        )
    )
    return links.select("record_id_a", "record_id_b", "rule", "match_probability", text.alias("text"))


def per_record(described: pl.DataFrame, most: int = 5) -> pl.DataFrame:
    """Per record (``record_id``, ``link_evidence``): the text of its links, at most ``most`` of
    them (a cookie shared by fifty records is fifty links) and how many more there are."""
    ends = pl.concat(
        [
            described.select(pl.col("record_id_a").alias("record_id"), "text"),
            described.select(pl.col("record_id_b").alias("record_id"), "text"),
        ]
    )
    return (
        ends.unique(maintain_order=True)
        .group_by("record_id")
        .agg(pl.col("text").sort().head(most).str.join("; ").alias("shown"), pl.len().alias("links"))
        .select(
            "record_id",
            pl.when(pl.col("links") > most)
            .then(pl.format("{}; +{} more", pl.col("shown"), pl.col("links") - most))
            .otherwise(pl.col("shown"))
            .alias("link_evidence"),
        )
    )


def markdown_sample(hashed: pl.DataFrame, name: Callable[[str, str], str], links: int = 8) -> str:
    """A markdown table of the evidence of a few links, for asset metadata: the least certain
    probabilistic links (their waterfall, one comparison a line) before rule links, each named by
    ``name(record_id_a, record_id_b)`` (a keyed hash: metadata never holds a record id or a value)."""
    chosen = (
        hashed.select("record_id_a", "record_id_b", "rule", "match_probability")
        .unique(maintain_order=True)
        # The least certain probabilistic links first: those are the ones worth a look.
        .sort(pl.col("rule") != "probabilistic", "match_probability", "record_id_a", "record_id_b")
        .head(links)
        .drop("match_probability")
    )
    rows = hashed.join(chosen, on=["record_id_a", "record_id_b", "rule"]).sort(
        pl.col("rule") != "probabilistic", "record_id_a", "record_id_b", "comparison", nulls_last=True
    )
    lines = [
        "| link | rule | probability | comparison | level | Bayes factor | match weight | shared value (keyed hash) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows.iter_rows(named=True):
        cells = [
            name(row["record_id_a"], row["record_id_b"]),
            row["rule"],
            "" if row["match_probability"] is None else f"{row['match_probability']:.4f}",
            row["comparison"] or "",
            row["level"] or "",
            "" if row["bayes_factor"] is None else f"{row['bayes_factor']:.3g}",
            "" if row["match_weight"] is None else f"{row['match_weight']:+.2f}",
            ""
            if row["shared_value_hash"] is None
            else f"{row['shared_kind']}#{row['shared_value_hash'][:12]}",
        ]
        lines.append("| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)
