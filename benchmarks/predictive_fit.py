"""Simulate customers from known parameters, fit BG/NBD and Gamma-Gamma, report time, error and memory.

Run: ``.venv/bin/python benchmarks/predictive_fit.py --customers 1000000 [--seed 1] [--score]
[--replicates K]``. Prints one JSON object: seconds per stage (simulate, summarize, fit each model,
optionally scoring every customer), fitted parameters, relative errors against the truth, standard
errors, and peak RSS. With ``--replicates K`` the run repeats for seeds seed..seed+K-1 and also reports
how many replicates had every parameter within 5 % (sampling error, not the optimizer, decides that
at 100,000 customers). Numbers live here, not in test assertions: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

from cdp_platform.predictive.bgnbd import fit_bgnbd
from cdp_platform.predictive.gamma_gamma import fit_gamma_gamma
from cdp_platform.predictive.scores import score_summary
from cdp_platform.predictive.simulation import TrueParameters, simulate_customers
from cdp_platform.predictive.summary import summarize_transactions

TOLERANCE = 0.05


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(customers: int, seed: int, score: bool) -> dict[str, Any]:
    """One simulate → summarize → fit (→ score) pass, timed stage by stage."""
    truth = TrueParameters()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    simulated = simulate_customers(customers, truth, seed=seed)
    seconds["simulate"] = time.perf_counter() - started
    started = time.perf_counter()
    summary = summarize_transactions(simulated.transactions, simulated.end)
    seconds["summarize"] = time.perf_counter() - started
    started = time.perf_counter()
    bgnbd = fit_bgnbd(summary)
    seconds["fit_bgnbd"] = time.perf_counter() - started
    started = time.perf_counter()
    gamma_gamma = fit_gamma_gamma(summary)
    seconds["fit_gamma_gamma"] = time.perf_counter() - started
    seconds["fit"] = seconds["fit_bgnbd"] + seconds["fit_gamma_gamma"]
    if score:
        started = time.perf_counter()
        score_summary(summary, bgnbd, gamma_gamma)
        seconds["score"] = time.perf_counter() - started

    fitted = {**bgnbd.params, **gamma_gamma.params}
    true = truth.to_dict()
    relative_errors = {name: (value - true[name]) / true[name] for name, value in fitted.items()}
    return {
        "customers": customers,
        "transactions": simulated.transactions.height,
        "repeat_buyers": bgnbd.n_repeat_buyers,
        "seed": seed,
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
        "parameters": fitted,
        "true_parameters": true,
        "relative_errors": relative_errors,
        "max_abs_relative_error": max(abs(error) for error in relative_errors.values()),
        "standard_errors": {**bgnbd.standard_errors, **gamma_gamma.standard_errors},
        "log_likelihood": {"bgnbd": bgnbd.log_likelihood, "gamma_gamma": gamma_gamma.log_likelihood},
        "iterations": {"bgnbd": bgnbd.iterations, "gamma_gamma": gamma_gamma.iterations},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--score", action="store_true", help="also score every customer (P(alive), CLV)")
    parser.add_argument("--replicates", type=int, default=1, help="repeat with seeds seed, seed+1, ...")
    args = parser.parse_args()
    runs = [run(args.customers, args.seed + i, args.score) for i in range(args.replicates)]
    if args.replicates == 1:
        report: dict[str, Any] = runs[0]
    else:
        report = {
            "customers": args.customers,
            "replicates": args.replicates,
            "within_5_percent": sum(r["max_abs_relative_error"] <= TOLERANCE for r in runs),
            "max_abs_relative_error_by_seed": {
                r["seed"]: round(r["max_abs_relative_error"], 4) for r in runs
            },
            "max_fit_seconds": max(r["seconds"]["fit"] for r in runs),
            "runs": runs,
        }
    report["peak_rss_mb"] = _peak_mb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
