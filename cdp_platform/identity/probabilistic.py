"""Probabilistic matching with Splink: Fellegi-Sunter on DuckDB, trained by EM, for records that
share no identifier (a lead with a new email, "Bob" for "Robert", a CRM export with names, addresses
and birth dates and no identifier at all).

The model is built from the data it is given (:func:`plan`): a comparison takes part only when its
column tells the records with a name apart (at least two values, the commonest held by at most half
of them), and so do the blocking and EM training rules that use it; no blocking rule makes a block
larger than ``BLOCK_LIMIT`` records. Only records with a first or a last name take part: without a
name there is nothing to compare that the deterministic rules have not already used. Pairs inside
one deterministic cluster are not scored, nor pairs whose first names are not compatible unless
their birth dates are (household members share everything else; see ``_FIRST_NAMES_AGREE``).

Comparisons (each with a null level, so a missing value is no evidence either way):

- name: exact full name (term-frequency adjusted: ``John Smith`` counts for less than a rare name);
  the same formal first name through the nickname table (Bob/Robert) with the same last name; one
  name exact and the other within a typo (:func:`within_a_typo`); first and last name swapped,
  exactly or within a typo; both within a typo; one name missing and the other the same (or within
  a typo); the same first name with another last name (a marriage); the same last name alone;
- date of birth: exact, one typing error apart (:mod:`.birth_dates`), else;
- phone: exact, else; postcode: exact, one digit or neighbours swapped, else;
- street: exact, within a typo, one the other with more (a house number or second line), else;
- city: exact (term-frequency adjusted), within a typo, else; region (state): exact, else;
- chosen name (when mailboxes or handles are present): the same mailbox user name, else the same
  number at the end of a user name or handle (both term-frequency adjusted), else two numbers.

Fixed m probabilities, and why (everything else is learnt by EM):

- the disagreement ("else") level of birth date, phone, postcode, street and city: EM cannot learn
  how often one person's values disagree from data where they rarely do (it drives that m to zero,
  and then one disagreement vetoes every other agreement); a fixed small value says "people move,
  change numbers and mistype";
- the name's "last name only" and "else" levels: a person's first name rarely changes beyond a
  nickname or a typo, but pairs blocked on a phone or an address are dominated by households (same
  phone, address and last name, another first name), from which EM would learn the opposite;
- the chosen name's "different numbers" and "else" levels: pairs where both carry a number and they
  differ are too rare for EM, and two mailboxes of one person (work, personal) often differ.

A level no training pair reached (a typo level on clean data) counts for nothing (m = u), not with
Splink's default m over a "not observed" u of 1e-6 (:func:`neutralise_untrained`).

The prior (the chance two random records match) comes from the deterministic clusters, whose pairs
are matches by rule, or, when the records share no identifier, from Splink's estimate with strict
rules (same name and birth date, or same name and address). u probabilities come from random
sampling, m probabilities from EM on each training rule (:data:`TRAINING_RULES`) that yields at
least ``MIN_TRAINING_PAIRS`` pairs, in order, until every comparison has been estimated by a rule that
does not block on it. Pairs above ``threshold`` are returned; whether they merge clusters is decided
by :mod:`cdp_platform.identity.merge`, which enforces the conflicts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator
from splink.backends.duckdb import DuckDBAPI

from cdp_platform.identity.birth_dates import compatible_sql
from cdp_platform.identity.config import ProbabilisticConfig

logger = logging.getLogger(__name__)
PAIR_SCHEMA = {"row_a": pl.Int64, "row_b": pl.Int64, "match_probability": pl.Float64}
# One comparison's part of a pair's score: which level matched and what it weighs (Splink's
# waterfall: match_weight = log2(bayes_factor), term-frequency adjustment included).
COMPARISON_EVIDENCE = pl.Struct(
    {"comparison": pl.String, "level": pl.String, "match_weight": pl.Float64, "bayes_factor": pl.Float64}
)
EVIDENCE_SCHEMA = {
    "row_a": pl.Int64,
    "row_b": pl.Int64,
    "record_id_a": pl.String,
    "record_id_b": pl.String,
    "match_probability": pl.Float64,
    "match_weight": pl.Float64,
    "comparisons": pl.List(COMPARISON_EVIDENCE),
}


@dataclass(frozen=True)
class ModelReport:
    """What the match model was able to do with the data it was given.

    ``trained`` is False when no model could be trained (``reason`` says why, naming what is
    missing); ``comparisons`` and ``training_rules`` are those the data allowed; ``degenerate``
    names estimated parameters that cannot be right (an agreement that counts against a match, a
    disagreement that counts for one, a level EM left untrained).
    """

    trained: bool
    reason: str | None = None
    comparisons: tuple[str, ...] = ()
    training_rules: tuple[str, ...] = ()
    degenerate: tuple[str, ...] = ()
    candidates: int = 0
    # Levels no training pair or random pair reached (a typo level on clean data): they are scored
    # as no evidence (Bayes factor 1) rather than with Splink's default or "not observed" values.
    untrained: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        """Everything a person should look at: why it did not train, and each degenerate parameter."""
        return ((self.reason,) if self.reason else ()) + self.degenerate


@dataclass(frozen=True)
class ScoredPairs:
    """What :func:`match_pairs` returns.

    - ``pairs``: (row_a < row_b, match_probability) at or above ``config.threshold``: the links to
      try (as :func:`.merge.merge_clusters` takes them).
    - ``evidence``: every scored pair at or above ``config.review_threshold`` (the pairs above
      included), one row each: ``row_a``, ``row_b``, ``record_id_a``, ``record_id_b``,
      ``match_probability``, ``match_weight`` and ``comparisons``, a list with one struct per
      comparison (``comparison``, ``level``: the matched level's label, ``match_weight``,
      ``bayes_factor`` = 2 ** match_weight), the pair's waterfall.
    - ``report``: a :class:`ModelReport`.
    """

    pairs: pl.DataFrame
    evidence: pl.DataFrame
    report: ModelReport


def _no_pairs(report: ModelReport) -> ScoredPairs:
    return ScoredPairs(
        pairs=pl.DataFrame(schema=PAIR_SCHEMA), evidence=pl.DataFrame(schema=EVIDENCE_SCHEMA), report=report
    )


def within_a_typo(a: str, b: str) -> str:
    """DuckDB SQL: two names one typo apart (Jaro-Winkler 0.9, or one Damerau-Levenshtein edit
    for names of five letters or more: a swap such as tSoll/Stoll). One definition for the model's
    typo levels and for :mod:`.unique_names`, which must call a name ambiguous exactly when the model
    would treat the two spellings as one.

    The edit distance is computed only for pairs with a Jaro-Winkler similarity of at least 0.7: one
    edit between names of five letters or more never falls below 0.75 (measured on 200,000 random
    one-edit pairs), and skipping the edit distance on every other pair keeps the random sampling of
    u (millions of pairs) cheap.
    """
    return (
        f"(jaro_winkler_similarity({a}, {b}) >= 0.9 "
        f"OR (least(length({a}), length({b})) >= 5 AND jaro_winkler_similarity({a}, {b}) >= 0.7 "
        f"AND damerau_levenshtein({a}, {b}) <= 1))"
    )


_COLUMNS = (
    "n_first",
    "n_first_canonical",
    "n_last",
    "n_full_name",
    "n_email_user",
    "n_number",
    "n_date_of_birth",
    "n_phone",
    "n_street",
    "n_city",
    "n_postcode",
    "n_region",
)
# Columns a comparison is built on when they tell records apart (at least two different values).
_OPTIONAL = (
    "n_date_of_birth",
    "n_phone",
    "n_email_user",
    "n_number",
    "n_street",
    "n_city",
    "n_postcode",
    "n_region",
)
# A probabilistic link needs compatible first names: the same formal name (nicknames included), one
# typo apart, or first and last name swapped (both ways). Household members share a phone, an
# address and often a last name, and differ in exactly this; the Fellegi-Sunter model treats those
# agreements as independent evidence and would add them up, so the pairs are not scored at all. A
# record without a first name cannot be told from the other members that way: it needs the other
# test. That test is the birth date, both known and at most one typing error apart: a household
# member with the same last name, address and birth date is a twin, rarer than a first name missing,
# mistyped beyond recognition or replaced by another.
_FIRST_NAMES_AGREE = (
    "(l.n_first_canonical = r.n_first_canonical "
    "OR jaro_winkler_similarity(l.n_first, r.n_first) >= 0.92 "
    "OR (jaro_winkler_similarity(l.n_first, r.n_last) >= 0.9 "
    "AND jaro_winkler_similarity(l.n_last, r.n_first) >= 0.9) "
    f"OR (l.n_date_of_birth IS NOT NULL AND r.n_date_of_birth IS NOT NULL "
    f"AND {compatible_sql('l.n_date_of_birth', 'r.n_date_of_birth')}))"
)
# EM training rules in order of preference, each with the columns it needs. Each one teaches the m
# values of every comparison it does not block on: on phone the name, birth date and address levels;
# on full name the phone, birth date and address levels; on birth date the name levels.
TRAINING_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("l.n_phone = r.n_phone", ("n_phone",)),
    ("l.n_full_name = r.n_full_name", ("n_full_name",)),
    ("l.n_date_of_birth = r.n_date_of_birth", ("n_date_of_birth",)),
    ("l.n_postcode = r.n_postcode", ("n_postcode",)),
    ("l.n_email_user = r.n_email_user", ("n_email_user",)),
)
# Blocking rules for predictions, each with the columns it needs; a rule whose columns are not all
# usable is left out.
_BLOCKING_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("l.n_first_canonical = r.n_first_canonical AND l.n_last = r.n_last", ("n_first_canonical", "n_last")),
    # Given and family name swapped (entered in the other order, or the other way round by a form).
    (
        "l.n_first = r.n_last AND l.n_last = r.n_first "
        "AND l.name_records <= {name_limit} AND r.name_records <= {name_limit}",
        ("n_first", "n_last"),
    ),
    ("l.n_phone = r.n_phone", ("n_phone",)),
    ("l.n_email_user = r.n_email_user", ("n_email_user",)),
    # The same chosen number: a social author's handle and the CRM contact whose mailbox carries it, or two
    # CRM records of one person where one mistyped the last name.
    ("l.n_number = r.n_number", ("n_number",)),
    ("l.n_date_of_birth = r.n_date_of_birth AND l.n_last = r.n_last", ("n_date_of_birth", "n_last")),
    (
        "l.n_date_of_birth = r.n_date_of_birth AND l.n_first_canonical = r.n_first_canonical",
        ("n_date_of_birth", "n_first_canonical"),
    ),
    (
        "l.n_date_of_birth = r.n_date_of_birth AND l.n_postcode = r.n_postcode",
        ("n_date_of_birth", "n_postcode"),
    ),
    ("l.n_date_of_birth = r.n_date_of_birth AND l.n_city = r.n_city", ("n_date_of_birth", "n_city")),
    ("l.n_date_of_birth = r.n_date_of_birth AND l.n_street = r.n_street", ("n_date_of_birth", "n_street")),
    ("l.n_date_of_birth = r.n_date_of_birth AND l.n_region = r.n_region", ("n_date_of_birth", "n_region")),
    (
        "l.n_first_canonical = r.n_first_canonical AND l.n_city = r.n_city AND l.n_postcode = r.n_postcode",
        ("n_first_canonical", "n_city", "n_postcode"),
    ),
    ("l.n_last = r.n_last AND l.n_postcode = r.n_postcode", ("n_last", "n_postcode")),
    ("l.n_street = r.n_street AND l.n_postcode = r.n_postcode", ("n_street", "n_postcode")),
    ("l.n_street = r.n_street AND l.n_city = r.n_city", ("n_street", "n_city")),
    ("l.n_street = r.n_street AND l.n_last = r.n_last", ("n_street", "n_last")),
    (
        "l.n_street = r.n_street AND l.n_first_canonical = r.n_first_canonical",
        ("n_street", "n_first_canonical"),
    ),
)
# Fewer training pairs than this on a rule and EM does not train on it.
MIN_TRAINING_PAIRS = 30
# Records sharing one name beyond which the name alone no longer makes a blocking group: names held
# by very many records (John Smith) would make blocks of millions of pairs whose name agreement is
# worth little; the other rules still pair those records.
NAME_BLOCK_LIMIT = 200
# The same for every other blocking rule: a value shared by more records than this (a placeholder
# birth date nobody blocked, one postcode for a whole single-city customer base, a million identical
# rows) would make a block of n^2 / 2 pairs, hours and gigabytes for no evidence.
BLOCK_LIMIT = 1000
# An assumed recall of the deterministic rules, to scale their pair count up to the prior.
_DETERMINISTIC_RECALL = 0.8


@dataclass(frozen=True)
class Plan:
    """What the data allows: usable columns, comparisons, blocking and training rules."""

    usable: tuple[str, ...]
    settings: SettingsCreator | None
    comparisons: tuple[str, ...]
    blocking_rules: tuple[str, ...]
    training_rules: tuple[str, ...]
    reason: str | None
    # The candidate rows with the block sizes the rules test (see blocking_rules).
    rows: pl.DataFrame | None = None


def _with_null(column: str, levels: list, output: str) -> cl.CustomComparison:
    return cl.CustomComparison(output_column_name=output, comparison_levels=[cll.NullLevel(column), *levels])


def _else(disagree_m: float) -> cll.ElseLevel:
    """The disagreement level, m fixed (see the module: EM cannot learn it)."""
    return cll.ElseLevel().configure(m_probability=disagree_m, fix_m_probability=True)


def _exact(column: str, term_frequencies: bool = False) -> cll.ExactMatchLevel:
    level = cll.ExactMatchLevel(column)
    return level.configure(tf_adjustment_column=column) if term_frequencies else level


def _nothing_to_compare(first: str, second: str, label: str) -> cll.CustomLevel:
    """The null level of a comparison of two columns: neither is known on both sides."""
    return cll.CustomLevel(
        f"({first}_l IS NULL OR {first}_r IS NULL) AND ({second}_l IS NULL OR {second}_r IS NULL)",
        label_for_charts=label,
    ).configure(is_null_level=True)


def _name() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            _nothing_to_compare("n_first", "n_last", "no name to compare"),
            cll.ExactMatchLevel("n_full_name").configure(tf_adjustment_column="n_full_name"),
            cll.CustomLevel(
                "n_first_canonical_l = n_first_canonical_r AND n_last_l = n_last_r",
                label_for_charts="nickname, same last name",
            ),
            cll.CustomLevel(
                f"n_first_canonical_l = n_first_canonical_r AND {within_a_typo('n_last_l', 'n_last_r')}",
                label_for_charts="same first name, last name within a typo",
            ),
            cll.CustomLevel(
                f"n_last_l = n_last_r AND {within_a_typo('n_first_l', 'n_first_r')}",
                label_for_charts="first name within a typo, same last name",
            ),
            cll.CustomLevel(
                "n_first_l = n_last_r AND n_last_l = n_first_r",
                label_for_charts="first and last name swapped",
            ),
            cll.CustomLevel(
                # Jaro-Winkler alone, cheap: every random pair reaches this level.
                "jaro_winkler_similarity(n_first_l, n_first_r) >= 0.9 "
                "AND jaro_winkler_similarity(n_last_l, n_last_r) >= 0.9",
                label_for_charts="first and last name each within a typo",
            ),
            cll.CustomLevel(
                "jaro_winkler_similarity(n_first_l, n_last_r) >= 0.9 "
                "AND jaro_winkler_similarity(n_last_l, n_first_r) >= 0.9",
                label_for_charts="first and last name swapped, within a typo",
            ),
            cll.CustomLevel(
                "(n_first_l IS NULL OR n_first_r IS NULL) AND n_last_l = n_last_r",
                label_for_charts="one first name missing, same last name",
            ).configure(tf_adjustment_column="n_last"),
            cll.CustomLevel(
                "(n_last_l IS NULL OR n_last_r IS NULL) AND n_first_canonical_l = n_first_canonical_r",
                label_for_charts="one last name missing, same first name",
            ),
            cll.CustomLevel(
                f"(n_first_l IS NULL OR n_first_r IS NULL) AND {within_a_typo('n_last_l', 'n_last_r')}",
                label_for_charts="one first name missing, last name within a typo",
            ),
            # A last name changed (at marriage) or replaced: how often that happens between two
            # records of one person is learnt from pairs blocked on birth date or phone.
            cll.CustomLevel(
                "n_first_canonical_l = n_first_canonical_r",
                label_for_charts="same first name, other last name",
            ),
            # Fixed (see the module): households dominate phone- and address-blocked pairs.
            cll.ExactMatchLevel("n_last").configure(
                label_for_charts="last name only", m_probability=0.01, fix_m_probability=True
            ),
            _else(0.01),
        ],
    )


def _chosen_name() -> cl.CustomComparison:
    # Two addresses of one person (personal and work) often differ in the part before the @ as
    # well, so a disagreement says little (m fixed high); the same chosen user name at two providers
    # says much, less for a common one (term frequencies: jsmith). A social author has no mailbox
    # but a handle, which carries the same chosen number.
    return cl.CustomComparison(
        output_column_name="chosen_name",
        comparison_levels=[
            _nothing_to_compare("n_email_user", "n_number", "nothing to compare"),
            cll.ExactMatchLevel("n_email_user").configure(tf_adjustment_column="n_email_user"),
            # People carry their number (a birth year, a lucky number) from one address or handle to
            # the next: jburgess1705 at work, jodie.burgess1705 at home, @jodieb_1705 on a network. How
            # much that is worth is learnt (u from random pairs): little where numbers are years.
            cll.ExactMatchLevel("n_number").configure(
                label_for_charts="same number in the user names", tf_adjustment_column="n_number"
            ),
            # Both carry a number and the numbers differ: some evidence of two people (a mother and
            # daughter, Kimberly and Kim, at one address).
            cll.CustomLevel(
                "n_number_l IS NOT NULL AND n_number_r IS NOT NULL",
                label_for_charts="different numbers in the user names",
            ).configure(m_probability=0.05, fix_m_probability=True),
            _else(0.6),
        ],
    )


def _comparisons(usable: set[str]) -> list[cl.CustomComparison]:
    """The comparisons the usable columns allow, name first."""
    found = [_name()]
    if "n_email_user" in usable or "n_number" in usable:
        found.append(_chosen_name())
    if "n_date_of_birth" in usable:
        found.append(
            _with_null(
                "n_date_of_birth",
                [
                    _exact("n_date_of_birth"),
                    cll.CustomLevel(
                        compatible_sql("n_date_of_birth_l", "n_date_of_birth_r"),
                        label_for_charts="one typing error apart",
                    ),
                    _else(0.01),
                ],
                "date_of_birth",
            )
        )
    if "n_phone" in usable:
        found.append(_with_null("n_phone", [_exact("n_phone"), _else(0.1)], "phone"))
    if "n_postcode" in usable:
        found.append(
            _with_null(
                "n_postcode",
                [
                    _exact("n_postcode"),
                    # One digit or two neighbours swapped (2706/2760); the edit distance only for
                    # pairs two substitutions apart, the Hamming test is cheap on random pairs.
                    cll.CustomLevel(
                        "CASE WHEN length(n_postcode_l) <> length(n_postcode_r) THEN false "
                        "WHEN hamming(n_postcode_l, n_postcode_r) <= 1 THEN true "
                        "WHEN hamming(n_postcode_l, n_postcode_r) = 2 "
                        "THEN damerau_levenshtein(n_postcode_l, n_postcode_r) <= 1 ELSE false END",
                        label_for_charts="one typo apart",
                    ),
                    _else(0.1),
                ],
                "postcode",
            )
        )
    if "n_street" in usable:
        found.append(
            _with_null(
                "n_street",
                [
                    _exact("n_street"),
                    # Jaro-Winkler alone: an edit distance on whole addresses costs too much on the
                    # millions of random pairs u is estimated from.
                    cll.CustomLevel(
                        "jaro_winkler_similarity(n_street_l, n_street_r) >= 0.9",
                        label_for_charts="within a typo",
                    ),
                    # One address is the other with more: a second line (a building, a locality) or
                    # a house number the other lacks. Compared without spaces, so that a word split
                    # or joined by a typo ("cre scent") does not hide it.
                    cll.CustomLevel(
                        "contains(street_squashed_l, street_squashed_r) "
                        "OR contains(street_squashed_r, street_squashed_l)",
                        label_for_charts="one is the other with more",
                    ),
                    _else(0.15),
                ],
                "street",
            )
        )
    if "n_city" in usable:
        found.append(
            _with_null(
                "n_city",
                [
                    _exact("n_city", term_frequencies=True),
                    # Jaro-Winkler alone, cheap on random pairs, as for the street.
                    cll.CustomLevel(
                        "jaro_winkler_similarity(n_city_l, n_city_r) >= 0.9", label_for_charts="within a typo"
                    ),
                    _else(0.1),
                ],
                "city",
            )
        )
    if "n_region" in usable:
        found.append(_with_null("n_region", [_exact("n_region"), cll.ElseLevel()], "region"))
    return found


# A column whose commonest value is held by more than this share of the records that have one tells
# few of them apart (a default postcode, one town for most customers): it is left out like a
# column of one value, and so are the blocking and training rules that would use it.
MAX_VALUE_SHARE = 0.5


def _usable(rows: pl.DataFrame, column: str) -> bool:
    values = rows[column].drop_nulls()
    if values.n_unique() < 2:
        return False
    commonest = values.value_counts(sort=True)["count"][0]
    return commonest <= MAX_VALUE_SHARE * values.len()


def plan(rows: pl.DataFrame, prior: float) -> Plan:
    """The model the candidate rows allow, or the reason there is none."""
    if rows.height < 2:
        return Plan((), None, (), (), (), f"{rows.height} record(s) with a name: nothing to compare")
    usable = {column for column in _COLUMNS if _usable(rows, column)}
    names = {"n_first_canonical", "n_last"} & usable
    if not names:
        return Plan(
            tuple(sorted(usable)),
            None,
            (),
            (),
            (),
            "first_name and last_name hold fewer than two different values (or one value for most records)",
        )
    others = usable & set(_OPTIONAL)
    if not others:
        return Plan(
            tuple(sorted(usable)),
            None,
            (),
            (),
            (),
            "no column beside the name tells records apart (date_of_birth, phone, email, street, city, "
            "postcode, region are missing or hold one value for most records)",
        )
    comparisons = _comparisons(usable)
    guard = f" AND l.cluster <> r.cluster AND {_FIRST_NAMES_AGREE}"
    rows, blocking = blocking_rules(rows, usable)
    blocking = tuple(rule + guard for rule in blocking)
    training = _training_rules(rows, usable, comparisons)
    names_of = tuple(comparison.get_comparison("duckdb").output_column_name for comparison in comparisons)
    if not training:
        return Plan(
            tuple(sorted(usable)),
            None,
            names_of,
            blocking,
            (),
            f"too few pairs to train the match model: fewer than {MIN_TRAINING_PAIRS} pairs of records "
            f"share a {', a '.join(_TRAINING_NAMES[needs[0]] for _, needs in TRAINING_RULES)}",
        )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="row",
        probability_two_random_records_match=prior,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=list(blocking),
        # The per-comparison match weights (mw_*, mw_tf_adj_*) are each link's evidence.
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )
    return Plan(tuple(sorted(usable)), settings, names_of, blocking, training, None, rows)


def blocking_rules(rows: pl.DataFrame, usable: set[str]) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The blocking rules the usable columns allow, each kept to blocks of at most ``BLOCK_LIMIT``
    records (``NAME_BLOCK_LIMIT`` for the name): a rule whose largest block is bigger gets a size
    column and a test on it, so an oversized value is left out and the rest of the rule stays."""
    rules = []
    for index, (rule, needs) in enumerate(_BLOCKING_RULES):
        if not all(column in usable for column in needs):
            continue
        rule = rule.format(name_limit=NAME_BLOCK_LIMIT)
        if "name_records" in rule:
            rules.append(rule)
            continue
        limit = NAME_BLOCK_LIMIT if needs == ("n_first_canonical", "n_last") else BLOCK_LIMIT
        largest = rows.drop_nulls(list(needs)).group_by(list(needs)).len()["len"].max()
        if largest is not None and int(largest) > limit:
            size = f"block_{index}"
            rows = rows.with_columns(pl.len().over(list(needs)).alias(size))
            rule = f"{rule} AND l.{size} <= {limit}"
        rules.append(rule)
    return rows, tuple(rules)


def _training_rules(rows: pl.DataFrame, usable: set[str], comparisons: list) -> tuple[str, ...]:
    """Training rules with enough pairs, in order, until each comparison's columns are left unblocked
    by at least one of them (EM cannot estimate a comparison on pairs blocked on its own column)."""
    chosen: list[str] = []
    needs_training = {"name", *(c.get_comparison("duckdb").output_column_name for c in comparisons)}
    covered: set[str] = set()
    for rule, needs in TRAINING_RULES:
        if not all(column in usable for column in needs) or _pairs_sharing(rows, needs) < MIN_TRAINING_PAIRS:
            continue
        chosen.append(rule)
        blocked = {_COMPARISON_OF.get(column, column) for column in needs}
        covered |= needs_training - blocked
        if covered >= needs_training:
            break
    return tuple(chosen)


# What a training rule's column is, for a person reading why the model did not train.
_TRAINING_NAMES = {
    "n_phone": "phone",
    "n_full_name": "full name",
    "n_date_of_birth": "date of birth",
    "n_postcode": "postcode",
    "n_email_user": "mailbox user name",
}
# The comparison a training rule's column belongs to.
_COMPARISON_OF = {
    "n_phone": "phone",
    "n_full_name": "name",
    "n_date_of_birth": "date_of_birth",
    "n_postcode": "postcode",
    "n_email_user": "chosen_name",
}


def candidate_rows(prepared: pl.DataFrame, cluster: np.ndarray) -> pl.DataFrame:
    """The rows Splink sees: those with a first or a last name, with their deterministic cluster."""
    frame = prepared.select("row", *_COLUMNS)
    frame = frame.with_columns(pl.Series("cluster", cluster))
    # YYYYMMDD: the text .birth_dates.compatible_sql compares.
    frame = frame.with_columns(pl.col("n_date_of_birth").dt.strftime("%Y%m%d"))
    frame = frame.filter(pl.col("n_first").is_not_null() | pl.col("n_last").is_not_null())
    return frame.with_columns(
        pl.len().over("n_first", "n_last").alias("name_records"),
        pl.col("n_street").str.replace_all(" ", "", literal=True).alias("street_squashed"),
    )


def _pairs_sharing(rows: pl.DataFrame, columns: tuple[str, ...]) -> int:
    sizes = rows.drop_nulls(list(columns)).group_by(list(columns)).len()["len"].cast(pl.Int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _identifier_prior(rows: pl.DataFrame) -> float | None:
    """The prior from the deterministic clusters, or None when no two candidates share one."""
    n = rows.height
    sizes = rows.group_by("cluster").len()["len"].cast(pl.Int64)
    within = int((sizes * (sizes - 1) // 2).sum())
    if within == 0:
        return None
    total = n * (n - 1) // 2
    return min(0.5, within / _DETERMINISTIC_RECALL / max(total, 1))


# Strict rules for Splink's prior estimate when no identifier clusters exist: pairs agreeing on all
# of these are matches, and they find about this share of all matches.
_PRIOR_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "l.n_full_name = r.n_full_name AND l.n_date_of_birth = r.n_date_of_birth",
        ("n_full_name", "n_date_of_birth"),
    ),
    ("l.n_full_name = r.n_full_name AND l.n_street = r.n_street", ("n_full_name", "n_street")),
    ("l.n_full_name = r.n_full_name AND l.n_phone = r.n_phone", ("n_full_name", "n_phone")),
    ("l.n_full_name = r.n_full_name AND l.n_email_user = r.n_email_user", ("n_full_name", "n_email_user")),
)
_PRIOR_RULES_RECALL = 0.7


def match_pairs(prepared: pl.DataFrame, cluster: np.ndarray, config: ProbabilisticConfig) -> ScoredPairs:
    """Scored record pairs (row_a < row_b) from different clusters, with their evidence and a report
    of the model (see :class:`ScoredPairs`)."""
    rows = candidate_rows(prepared, cluster)
    identifier_prior = _identifier_prior(rows)
    planned = plan(rows, identifier_prior or 1e-4)
    if planned.settings is None:
        # EM needs pairs to learn from; without them the model would score with made-up m values,
        # so the deterministic result stands alone, and says so.
        assert planned.reason is not None
        logger.warning(
            "identity: the match model was not trained: %s; no probabilistic links", planned.reason
        )
        return _no_pairs(
            ModelReport(
                trained=False,
                reason=planned.reason,
                comparisons=planned.comparisons,
                candidates=rows.height,
            )
        )
    connection = duckdb.connect()
    # Splink's queries on large inputs would draw DuckDB's progress bar on the run's stdout.
    connection.execute("SET enable_progress_bar = false")
    if config.threads is not None:
        connection.execute(f"SET threads = {int(config.threads)}")
    try:
        db_api = DuckDBAPI(connection=connection)
        assert planned.rows is not None
        table = db_api.register(planned.rows.to_arrow(), dataset_display_name="identity_candidates")
        linker = Linker(table, planned.settings, log_level=logging.WARNING)
        if identifier_prior is None:
            usable = set(planned.usable)
            strict = [rule for rule, needs in _PRIOR_RULES if all(column in usable for column in needs)]
            if strict:
                linker.training.estimate_probability_two_random_records_match(
                    strict, recall=_PRIOR_RULES_RECALL
                )
        linker.training.estimate_u_using_random_sampling(
            max_pairs=config.u_max_pairs, seed=config.seed, min_count_per_level=None, num_chunks=1
        )
        trained_on, failures = [], []
        for rule in planned.training_rules:
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule,
                    max_pairs=config.em_max_pairs,
                    record_sample_proportion=config.em_record_sample_proportion,
                )
                trained_on.append(rule)
            except (ValueError, ZeroDivisionError) as exc:
                # Splink's EM fails on pairs that hold no match at all (the estimated share of
                # matches reaches zero): that rule teaches nothing, the others may.
                failures.append(f"EM on {rule} failed: {exc}")
        if not trained_on:
            reason = "; ".join(failures)
            logger.warning("identity: the match model was not trained: %s; no probabilistic links", reason)
            return _no_pairs(
                ModelReport(
                    trained=False, reason=reason, comparisons=planned.comparisons, candidates=rows.height
                )
            )
        model, untrained = neutralise_untrained(linker.misc.save_model_to_json())
        # Scored with the model whose untrained levels count for nothing (see neutralise_untrained).
        linker = Linker(table, model, log_level=logging.WARNING)
        predictions = linker.inference.predict(
            threshold_match_probability=config.review_threshold, warning_mode="never"
        )
        scored = pl.from_arrow(connection.sql(f"SELECT * FROM {predictions.physical_name}").arrow())
    finally:
        connection.close()
    assert isinstance(scored, pl.DataFrame)
    levels = model_levels(model)
    report = ModelReport(
        trained=True,
        comparisons=tuple(levels),
        training_rules=tuple(trained_on),
        degenerate=degenerate_parameters(levels) + tuple(failures),
        untrained=untrained,
        candidates=rows.height,
    )
    if untrained:
        logger.info("identity: match model levels not seen in training count for nothing: %s", untrained)
    for problem in report.degenerate:
        logger.warning("identity: degenerate match model parameter: %s", problem)
    evidence = _evidence(scored, levels, prepared["record_id"])
    pairs = evidence.filter(pl.col("match_probability") >= config.threshold).select(
        "row_a", "row_b", "match_probability"
    )
    return ScoredPairs(pairs=pairs, evidence=evidence, report=report)


def evidence_long(evidence: pl.DataFrame) -> pl.DataFrame:
    """``ScoredPairs.evidence`` with one row per (pair, comparison): record_id_a, record_id_b,
    match_probability, match_weight (the pair's), comparison, level, comparison_match_weight,
    bayes_factor."""
    return (
        evidence.explode("comparisons")
        .select(
            "record_id_a",
            "record_id_b",
            "match_probability",
            "match_weight",
            pl.col("comparisons").struct.field("comparison"),
            pl.col("comparisons").struct.field("level"),
            pl.col("comparisons").struct.field("match_weight").alias("comparison_match_weight"),
            pl.col("comparisons").struct.field("bayes_factor"),
        )
        .drop_nulls("comparison")
    )


def neutralise_untrained(model: dict) -> tuple[dict, tuple[str, ...]]:
    """The settings dict with every level lacking a trained m or u made neutral (m = u, fixed).

    Splink scores such a level with a default m and, when random sampling never saw it, u = 1e-6:
    a Bayes factor in the hundreds of thousands for a level no data supports (on clean data, a typo
    level). Counting it for nothing is the one honest weight. Returns the patched dict and the
    levels patched, as ``comparison 'label'``."""
    patched = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if isinstance(m, float | int) and isinstance(u, float | int):
                continue
            value = (
                float(u) if isinstance(u, float | int) else float(m) if isinstance(m, float | int) else 0.01
            )
            level["m_probability"] = level["u_probability"] = value
            level["fix_m_probability"] = level["fix_u_probability"] = True
            patched.append(
                f"{comparison['output_column_name']} '{level.get('label_for_charts') or level['sql_condition']}'"
            )
    return model, tuple(patched)


@dataclass(frozen=True)
class Level:
    """One level of a trained comparison: its comparison vector value (gamma), label and m, u."""

    gamma: int
    label: str
    m: float | None
    u: float | None
    fixed_m: bool


def model_levels(model: dict) -> dict[str, list[Level]]:
    """Per comparison (output column name), its levels from a Splink settings dict
    (``linker.misc.save_model_to_json()``). Splink numbers the null level -1 and the others from
    ``len - 1`` (the first listed, the strongest) down to 0 (the else level)."""
    levels: dict[str, list[Level]] = {}
    for comparison in model["comparisons"]:
        listed = comparison["comparison_levels"]
        gamma = sum(1 for level in listed if not level.get("is_null_level")) - 1
        found = []
        for level in listed:
            label = level.get("label_for_charts") or level["sql_condition"]
            if level.get("is_null_level"):
                found.append(Level(-1, label, None, None, fixed_m=True))
                continue
            found.append(
                Level(
                    gamma,
                    label,
                    level.get("m_probability"),
                    level.get("u_probability"),
                    bool(level.get("fix_m_probability")),
                )
            )
            gamma -= 1
        levels[comparison["output_column_name"]] = found
    return levels


def degenerate_parameters(levels: dict[str, list[Level]]) -> tuple[str, ...]:
    """Estimated parameters that cannot be right, named: a comparison's strongest level (an exact
    agreement) whose m/u says it counts against a match, its else level (a disagreement) counting
    for one, or a level left without an m or u."""
    found = []
    for comparison, listed in levels.items():
        scored = [level for level in listed if level.gamma >= 0]
        for level in scored:
            if level.m is None or level.u is None or level.m <= 0 or level.u <= 0:
                found.append(f"{comparison} '{level.label}': m or u not estimated (m={level.m}, u={level.u})")
        if len(scored) < 2:
            continue
        strongest, disagree = scored[0], scored[-1]
        if strongest.m and strongest.u and strongest.m / strongest.u < 1:
            found.append(
                f"{comparison} '{strongest.label}': m/u = {strongest.m / strongest.u:.3g} < 1 "
                "(an agreement counted against a match)"
            )
        if disagree.m and disagree.u and disagree.m / disagree.u > 1:
            found.append(
                f"{comparison} '{disagree.label}': m/u = {disagree.m / disagree.u:.3g} > 1 "
                "(a disagreement counted for a match)"
            )
    return tuple(found)


def _evidence(scored: pl.DataFrame, levels: dict[str, list[Level]], record_ids: pl.Series) -> pl.DataFrame:
    """One row per scored pair with its waterfall (see :class:`ScoredPairs`)."""
    if scored.is_empty():
        return pl.DataFrame(schema=EVIDENCE_SCHEMA)
    parts = []
    for comparison, listed in levels.items():
        labels = {level.gamma: level.label for level in listed}
        tf = f"mw_tf_adj_{comparison}"
        weight = pl.col(f"mw_{comparison}") + (pl.col(tf).fill_null(0.0) if tf in scored.columns else 0.0)
        parts.append(
            pl.struct(
                pl.lit(comparison).alias("comparison"),
                pl.col(f"gamma_{comparison}")
                .replace_strict(labels, default=None, return_dtype=pl.String)
                .alias("level"),
                weight.cast(pl.Float64).alias("match_weight"),
                pl.lit(2.0).pow(weight).cast(pl.Float64).alias("bayes_factor"),
            )
        )
    ids = record_ids.to_numpy()
    frame = scored.select(
        pl.min_horizontal("row_l", "row_r").cast(pl.Int64).alias("row_a"),
        pl.max_horizontal("row_l", "row_r").cast(pl.Int64).alias("row_b"),
        pl.col("match_probability").cast(pl.Float64),
        pl.col("match_weight").cast(pl.Float64),
        pl.concat_list(parts).alias("comparisons"),
    ).sort("row_a", "row_b")
    return frame.with_columns(
        pl.Series("record_id_a", ids[frame["row_a"].to_numpy()], dtype=pl.String),
        pl.Series("record_id_b", ids[frame["row_b"].to_numpy()], dtype=pl.String),
    ).select(list(EVIDENCE_SCHEMA))
