"""Probabilistic matching with Splink: Fellegi-Sunter on DuckDB, trained by EM, for records that
share no identifier (a Facebook lead with a new email, "Bob" for "Robert", the same phone and city).

Only records with a first and a last name take part: without a name there is nothing to compare
that the deterministic rules have not already used. Pairs inside one deterministic cluster are not
scored, nor pairs whose first names disagree beyond a nickname or a typo (household members share
everything else). Pairs come from these blocking rules: same formal first and last name (names held
by at most ``NAME_BLOCK_LIMIT`` records), same phone, same mailbox user name, same chosen number
(:func:`.normalize.chosen_number`), same birth date and last name, same birth date and formal first
name, same formal first name, city and postcode. The model compares:

- name: exact full name (term-frequency adjusted, so ``John Smith`` counts for less than a rare
  name), the same formal first name through the nickname table (Bob/Robert) with the same last name,
  the same first name with a last name within Jaro-Winkler 0.9 or one Damerau-Levenshtein edit
  (a typo, a swap; five letters or more), a last name alone (its m fixed low: a person's first
  name rarely changes beyond a nickname);
- chosen name: the same mailbox user name, else the same number at the end of a user name or a
  Twitter handle (both term-frequency adjusted), else two different numbers;
- date of birth, phone, postcode, street: exact or not; city: exact, term-frequency adjusted.

Its prior (the chance two random records match) is set from the deterministic clusters, whose pairs
are matches by rule; u probabilities come from random sampling and m probabilities from EM, once
with pairs blocked on phone (to learn the name and address levels) and once on full name (to learn
phone, birth date and address levels). Pairs above ``threshold`` are returned; whether they merge
clusters is decided by :mod:`cdp_platform.identity.merge`, which enforces the conflicts.
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
)
# A probabilistic link needs compatible first names: the same formal name (nicknames included) or
# one typo apart. Household members share a phone, an address and often a last name, and differ in
# exactly this; the Fellegi-Sunter model treats those agreements as independent evidence and would
# add them up, so the pairs are not scored at all.
_FIRST_NAMES_AGREE = (
    "(l.n_first_canonical = r.n_first_canonical OR jaro_winkler_similarity(l.n_first, r.n_first) >= 0.92)"
)
# EM blocks on each of these in turn: on phone it learns the name, birth date and address levels,
# on full name the phone, birth date and address levels.
_TRAINING_COLUMNS = ("n_phone", "n_full_name")
# Fewer training pairs than this on either rule and the model is not trained at all.
MIN_TRAINING_PAIRS = 30
# Records sharing one name beyond which the name alone no longer makes a blocking group.
NAME_BLOCK_LIMIT = 200
# An assumed recall of the deterministic rules, to scale their pair count up to the prior.
_DETERMINISTIC_RECALL = 0.8


def within_a_typo(a: str, b: str) -> str:
    """DuckDB SQL: two last names one typo apart (Jaro-Winkler 0.9, or one Damerau-Levenshtein edit
    for names of five letters or more: a swap such as tSoll/Stoll). One definition for the model's
    typo level and for :mod:`.unique_names`, which must call a name ambiguous exactly when the model
    would treat the two spellings as one."""
    return (
        f"(jaro_winkler_similarity({a}, {b}) >= 0.9 "
        f"OR (least(length({a}), length({b})) >= 5 AND damerau_levenshtein({a}, {b}) <= 1))"
    )


def _exact(column: str, disagree_m: float, term_frequencies: bool = False) -> cl.CustomComparison:
    """Null, exact, else; the m of "else" (a true match that disagrees) is fixed, not learnt.

    EM cannot learn how often one person's values disagree from data where they almost never do
    (it drives that m to zero, and Splink rejects a zero); a fixed small value says "people move,
    change numbers and mistype", and keeps one disagreement from vetoing every other agreement.
    """
    exact = cll.ExactMatchLevel(column)
    if term_frequencies:
        exact = exact.configure(tf_adjustment_column=column)
    return cl.CustomComparison(
        output_column_name=column.removeprefix("n_"),
        comparison_levels=[
            cll.NullLevel(column),
            exact,
            cll.ElseLevel().configure(m_probability=disagree_m, fix_m_probability=True),
        ],
    )


def _settings(prior: float) -> SettingsCreator:
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.Or(cll.NullLevel("n_first"), cll.NullLevel("n_last")),
            cll.ExactMatchLevel("n_full_name").configure(tf_adjustment_column="n_full_name"),
            cll.CustomLevel(
                "n_first_canonical_l = n_first_canonical_r AND n_last_l = n_last_r",
                label_for_charts="nickname, same last name",
            ),
            cll.CustomLevel(
                f"n_first_canonical_l = n_first_canonical_r AND {within_a_typo('n_last_l', 'n_last_r')}",
                label_for_charts="same first name, last name within a typo",
            ),
            # Fixed, like the disagreement levels below: households (same phone, address and last
            # name, another first name) dominate phone-blocked training pairs, and EM would learn
            # from them that a person's first name often changes. It rarely does beyond a nickname.
            cll.ExactMatchLevel("n_last").configure(
                label_for_charts="last name only", m_probability=0.01, fix_m_probability=True
            ),
            cll.ElseLevel().configure(m_probability=0.01, fix_m_probability=True),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="row",
        probability_two_random_records_match=prior,
        comparisons=[
            name,
            # Two addresses of one person (personal and work) often differ in the part before the
            # @ as well, so a disagreement says little (m fixed high); the same chosen user name at
            # two providers says much, less for a common one (term frequencies: jsmith). A Twitter
            # author has no mailbox but a handle, which carries the same chosen number.
            cl.CustomComparison(
                output_column_name="chosen_name",
                comparison_levels=[
                    cll.CustomLevel(
                        "(n_email_user_l IS NULL OR n_email_user_r IS NULL) "
                        "AND (n_number_l IS NULL OR n_number_r IS NULL)",
                        label_for_charts="nothing to compare",
                    ).configure(is_null_level=True),
                    cll.ExactMatchLevel("n_email_user").configure(tf_adjustment_column="n_email_user"),
                    # People carry their number (a birth year, a lucky number) from one address
                    # or handle to the next: jburgess1705 at work, jodie.burgess1705 at home,
                    # @jodieb_1705 on Twitter. How much that is worth is learnt (u from random
                    # pairs): little where numbers are years.
                    cll.ExactMatchLevel("n_number").configure(
                        label_for_charts="same number in the user names",
                        tf_adjustment_column="n_number",
                    ),
                    # Both carry a number and the numbers differ: some evidence of two people
                    # (a mother and daughter, Kimberly and Kim, at one address), fixed like the
                    # other disagreements because EM cannot learn it from pairs that rarely occur.
                    cll.CustomLevel(
                        "n_number_l IS NOT NULL AND n_number_r IS NOT NULL",
                        label_for_charts="different numbers in the user names",
                    ).configure(m_probability=0.05, fix_m_probability=True),
                    cll.ElseLevel().configure(m_probability=0.6, fix_m_probability=True),
                ],
            ),
            _exact("n_date_of_birth", disagree_m=0.01),
            _exact("n_phone", disagree_m=0.1),
            _exact("n_postcode", disagree_m=0.1),
            _exact("n_street", disagree_m=0.15),
            _exact("n_city", disagree_m=0.1, term_frequencies=True),
        ],
        blocking_rules_to_generate_predictions=[
            f"{rule} AND l.cluster <> r.cluster AND {_FIRST_NAMES_AGREE}"
            for rule in (
                # Names held by very many records (John Smith) would make blocks of millions of
                # pairs whose name agreement is worth little; phone, birth date and postcode rules
                # still pair those records.
                "l.n_first_canonical = r.n_first_canonical AND l.n_last = r.n_last "
                f"AND l.name_records <= {NAME_BLOCK_LIMIT}",
                "l.n_phone = r.n_phone",
                "l.n_email_user = r.n_email_user",
                # The same chosen number: a Twitter author and the CRM contact whose mailbox carries
                # it, or two CRM records of one person where one mistyped the last name.
                "l.n_number = r.n_number",
                "l.n_date_of_birth = r.n_date_of_birth AND l.n_last = r.n_last",
                "l.n_date_of_birth = r.n_date_of_birth AND l.n_first_canonical = r.n_first_canonical",
                "l.n_first_canonical = r.n_first_canonical AND l.n_city = r.n_city AND l.n_postcode = r.n_postcode",
            )
        ],
        # The per-comparison match weights (mw_*, mw_tf_adj_*) are each link's evidence.
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def candidate_rows(prepared: pl.DataFrame, cluster: np.ndarray) -> pl.DataFrame:
    """The rows Splink sees: those with a first and a last name, with their deterministic cluster."""
    frame = prepared.select("row", *_COLUMNS)
    frame = frame.with_columns(pl.Series("cluster", cluster))
    frame = frame.with_columns(pl.col("n_date_of_birth").cast(pl.String))
    frame = frame.filter(pl.col("n_first").is_not_null() & pl.col("n_last").is_not_null())
    return frame.with_columns(pl.len().over("n_first_canonical", "n_last").alias("name_records"))


def _pairs_sharing(rows: pl.DataFrame, column: str) -> int:
    sizes = rows.drop_nulls(column).group_by(column).len()["len"].cast(pl.Int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _prior(rows: pl.DataFrame) -> float:
    n = rows.height
    sizes = rows.group_by("cluster").len()["len"].cast(pl.Int64)
    within = int((sizes * (sizes - 1) // 2).sum())
    total = n * (n - 1) // 2
    return min(0.5, max(within / _DETERMINISTIC_RECALL, 1.0) / max(total, 1))


def match_pairs(prepared: pl.DataFrame, cluster: np.ndarray, config: ProbabilisticConfig) -> ScoredPairs:
    """Scored record pairs (row_a < row_b) from different clusters, with their evidence and a report
    of the model (see :class:`ScoredPairs`)."""
    rows = candidate_rows(prepared, cluster)
    too_few = [column for column in _TRAINING_COLUMNS if _pairs_sharing(rows, column) < MIN_TRAINING_PAIRS]
    if too_few or rows["cluster"].n_unique() < 2:
        # EM needs pairs to learn from; without them the model would score with made-up m values,
        # so the deterministic result stands alone.
        reason = f"too few pairs to train the match model on {too_few}"
        logger.warning("identity: %s; no probabilistic links", reason)
        return _no_pairs(ModelReport(trained=False, reason=reason, candidates=rows.height))
    connection = duckdb.connect()
    if config.threads is not None:
        connection.execute(f"SET threads = {int(config.threads)}")
    try:
        db_api = DuckDBAPI(connection=connection)
        table = db_api.register(rows.to_arrow(), dataset_display_name="identity_candidates")
        settings = _settings(_prior(rows))
        linker = Linker(table, settings, log_level=logging.WARNING)
        linker.training.estimate_u_using_random_sampling(
            max_pairs=config.u_max_pairs, seed=config.seed, min_count_per_level=None, num_chunks=1
        )
        rules = tuple(f"l.{column} = r.{column}" for column in _TRAINING_COLUMNS)
        for rule in rules:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule,
                max_pairs=config.em_max_pairs,
                record_sample_proportion=config.em_record_sample_proportion,
            )
        model = linker.misc.save_model_to_json()
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
        training_rules=rules,
        degenerate=degenerate_parameters(levels),
        candidates=rows.height,
    )
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
