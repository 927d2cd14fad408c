"""Build the dbt project of two commits on one warehouse and compare every model row for row.

Why: a refactor of the profile's SQL (``client_360`` split into intermediate models, the staging
``latest`` CTE made a macro) must not change a single value, type or column of what users read.
Both arms start from the same copy of one warehouse (the same cleansed tables, the same
``identity_map``, sentiment and scores, which are Python assets and not rebuilt here) and run
``dbt seed`` and ``dbt run --full-refresh`` of their own project; then every model present in
both (staging, intermediate, marts) is compared: column names, order and types, and the rows as
multisets (``except all`` both ways, so duplicates count).

Where a relation differs, the report says which columns differ on how many rows (joined on the
relation's key) with up to five distinct (before, after) pairs, so an intended change of values
(ISO country codes) can be told from an accident. ``--allow TABLE.COLUMN`` names intended
differences: the exit status is 0 when nothing else differs, 1 otherwise.

Warehouses:

- ``crafted`` (default, seconds): the profile tests' crafted cleansed tables
  (``cdp_platform_tests/profile/warehouse.py``: survivorship ties, consent conflicts, windows,
  anonymous visitors), with their stand-in identity_map, sentiment and scores.
- ``sandbox`` (a few minutes): the suite's shared ``sandbox_marts`` build: the in-process sandbox
  through raw, cleansed, the real identity_map and sentiment.
- a path: a copy of an existing warehouse (for example ``.cdp/warehouse.duckdb``).

Usage (from the project root, with the venv):

    .venv/bin/python scripts/profile_equivalence.py --warehouse crafted
    .venv/bin/python scripts/profile_equivalence.py --warehouse sandbox \\
        --allow '*.country' --allow 'stg_*.country_original' --json /tmp/equivalence.json
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages (and its tests' fixtures)

SCHEMAS = ("staging", "intermediate", "marts")
# The column that identifies a row of a relation, for the per-column report of a difference.
KEYS = {
    "client_360": "client_id",
    "client_identities": "record_id",
    "client_interactions": "interaction_id",
    "int_identity_candidates": "record_id",
    "int_interactions_unioned": "interaction_id",
    "int_client_purchases": "record_id",
}
DBT = str(Path(sys.executable).with_name("dbt"))


def git(*args: str) -> bytes:
    """The output of ``git <args>`` in this repository."""
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout  # noqa: S603, S607


def export_project(ref: str, into: Path) -> Path:
    """The ``dbt/`` folder of commit ``ref``, written under ``into`` (``git archive``, no checkout)."""
    archive = git("archive", "--format=tar", ref, "dbt")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into / "dbt"


def run_dbt(project: Path, warehouse: Path, work: Path, *args: str) -> None:
    """``dbt <args>`` of ``project`` on ``warehouse``; dbt's own files go under ``work``."""
    environ = {
        **os.environ,
        "CDP_WAREHOUSE_PATH": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "CDP_DBT_TARGET": "local",
    }
    command = [
        DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    result = subprocess.run(command, env=environ, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed for {project}:\n{result.stdout[-4000:]}")


def crafted_warehouse(path: Path, project: Path, work: Path) -> None:
    """The profile tests' crafted warehouse: cleansed tables, then (after dbt builds the models they
    read) the stand-ins of identity_map, interaction_sentiment and client_scores, as
    ``cdp_platform_tests/profile/conftest.py`` writes them."""
    from cdp_platform_tests.profile import warehouse

    with duckdb.connect(str(path)) as connection:
        warehouse.write_cleansed(connection)
    select = "staging int_identity_candidates int_interactions_unioned"
    run_dbt(project, path, work, "seed")
    run_dbt(project, path, work, "run", "--select", select)
    with duckdb.connect(str(path)) as connection:
        ids = [r[0] for r in connection.execute(
            "select record_id from intermediate.int_identity_candidates order by record_id"
        ).fetchall()]  # fmt: skip
        warehouse.write_table(connection, "identity", "identity_map", warehouse.identity_map_frame(ids))
        texts = [r[0] for r in connection.execute(
            "select interaction_id from intermediate.int_interactions_unioned where text is not null"
        ).fetchall()]  # fmt: skip
        sentiment = warehouse.sentiment_frame(texts)
        warehouse.write_table(connection, "predictive", "interaction_sentiment", sentiment)
    run_dbt(project, path, work, "run", "--select", "int_client_purchases")
    with duckdb.connect(str(path)) as connection:
        clients = [r[0] for r in connection.execute(
            "select distinct client_id from intermediate.int_client_purchases"
            " where client_id is not null order by 1"
        ).fetchall()]  # fmt: skip
        warehouse.write_table(connection, "predictive", "client_scores", warehouse.scores_frame(clients))


def sandbox_warehouse(path: Path, work: Path) -> None:
    """The suite's shared sandbox build (``cdp_platform_tests/privacy/sandbox_marts.py``). It runs
    the working tree's project through Dagster (do not edit dbt/ while it builds)."""
    from cdp_platform_tests.privacy.sandbox_marts import _build

    root = work / "sandbox_marts"
    root.mkdir()
    built = _build(root)
    shutil.copyfile(built.warehouse, path)


def relations(connection: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    """``schema.table`` → [(column, type)] in column order, for the model schemas of ``catalog``."""
    rows = connection.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns"
        " where table_catalog = ? and table_schema in ('staging', 'intermediate', 'marts')"
        " order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        found.setdefault(f"{schema}.{table}", []).append((column, data_type))
    return found


def compare(before: Path, after: Path) -> dict[str, Any]:
    """Every relation of both warehouses compared (see the module docstring)."""
    connection = duckdb.connect()
    connection.execute(f"attach '{before}' as before (read_only)")
    connection.execute(f"attach '{after}' as after (read_only)")
    old, new = relations(connection, "before"), relations(connection, "after")
    report: dict[str, Any] = {
        "only_before": sorted(set(old) - set(new)),
        "only_after": sorted(set(new) - set(old)),
        "relations": {},
    }
    for name in sorted(set(old) & set(new)):
        entry: dict[str, Any] = {"columns_equal": old[name] == new[name]}
        if not entry["columns_equal"]:
            entry["columns_before"], entry["columns_after"] = old[name], new[name]
        entry["rows_before"] = connection.execute(f"select count(*) from before.{name}").fetchone()[0]
        entry["rows_after"] = connection.execute(f"select count(*) from after.{name}").fetchone()[0]
        common = [c for c, _ in old[name] if c in dict(new[name])]
        columns = ", ".join(f'"{c}"' for c in common)
        missing = connection.execute(
            f"select count(*) from (select {columns} from before.{name}"
            f" except all select {columns} from after.{name})"
        ).fetchone()[0]
        added = connection.execute(
            f"select count(*) from (select {columns} from after.{name}"
            f" except all select {columns} from before.{name})"
        ).fetchone()[0]
        entry["rows_only_before"], entry["rows_only_after"] = missing, added
        entry["identical"] = entry["columns_equal"] and missing == 0 and added == 0
        key = KEYS.get(name.split(".")[1]) or next(
            (c for c in ("record_id", "interaction_id", "client_id") if c in common), None
        )
        if (missing or added) and key in common:
            entry["key"] = key
            entry["differing_columns"] = differing_columns(connection, name, key, common)
        report["relations"][name] = entry
    connection.close()
    return report


def differing_columns(
    connection: duckdb.DuckDBPyConnection, name: str, key: str, columns: list[str]
) -> dict[str, Any]:
    """Per column: on how many rows (joined on ``key``) the value differs, with up to five distinct
    (before, after) pairs."""
    found: dict[str, Any] = {}
    for column in columns:
        if column == key:
            continue
        join = (
            f'from before.{name} as b join after.{name} as a on b."{key}" = a."{key}"'
            f' where b."{column}" is distinct from a."{column}"'
        )
        count = connection.execute(f"select count(*) {join}").fetchone()[0]
        if count:
            pairs = connection.execute(
                f'select distinct b."{column}"::varchar, a."{column}"::varchar {join} order by 1, 2 limit 5'
            ).fetchall()
            found[column] = {"rows": count, "pairs": [list(p) for p in pairs]}
    return found


def verdict(report: dict[str, Any], allowed: list[str]) -> list[str]:
    """What differs beyond the allowed ``table.column`` patterns (``fnmatch``: ``stg_*.country``);
    empty when nothing does. A column added by the new project counts as a difference of its own."""

    def allowed_column(table: str, column: str) -> bool:
        return any(fnmatch.fnmatchcase(f"{table}.{column}", pattern) for pattern in allowed)

    problems = [f"{name} only before" for name in report["only_before"]]
    for name, entry in report["relations"].items():
        if entry["identical"]:
            continue
        table = name.split(".")[1]
        if not entry["columns_equal"]:
            old, new = dict(entry["columns_before"]), dict(entry["columns_after"])
            kept = [c for c, _ in entry["columns_after"] if c in old]
            if [c for c, _ in entry["columns_before"]] != kept:
                problems.append(f"{name}: columns removed or reordered")
            problems += [f"{name}.{c}: {old[c]} became {new[c]}" for c in kept if old[c] != new[c]]
            problems += [f"{name}.{c} added" for c in new if c not in old and not allowed_column(table, c)]
        if entry["rows_before"] != entry["rows_after"]:
            problems.append(f"{name}: {entry['rows_before']} rows before, {entry['rows_after']} after")
        if not (entry["rows_only_before"] or entry["rows_only_after"]):
            continue  # the same rows in the columns both have
        differing = entry.get("differing_columns")
        if differing is None:
            problems.append(f"{name}: rows differ (no key to tell which columns)")
            continue
        problems += [f"{name}.{c} differs" for c in differing if not allowed_column(table, c)]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--base",
        help="the commit of the 'before' dbt project (default: where HEAD left main, "
        "`git merge-base HEAD main`, so the comparison is this branch's own change)",
    )
    parser.add_argument("--warehouse", default="crafted", help="crafted, sandbox or a warehouse path")
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        help="TABLE.COLUMN (fnmatch pattern) allowed to differ or be added",
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (printed)")
    args = parser.parse_args(argv)

    if args.base is None:
        args.base = git("merge-base", "HEAD", "main").decode().strip()[:12]
    work = Path(tempfile.mkdtemp(prefix="profile_equivalence_"))
    try:
        # The working tree's project is copied first, so an edit made while this runs is not half in.
        after = work / "head" / "dbt"
        shutil.copytree(ROOT / "dbt", after, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
        head = git("rev-parse", "--short", "HEAD").decode().strip()
        if git("status", "--porcelain", "dbt").strip():
            head += " + uncommitted dbt changes"
        source = work / "input.duckdb"
        if args.warehouse == "crafted":
            crafted_warehouse(source, after, work / "input")
        elif args.warehouse == "sandbox":
            sandbox_warehouse(source, work)
        else:
            given = Path(args.warehouse)
            if not given.is_file():
                raise SystemExit(f"--warehouse {given}: no such file (crafted, sandbox or a path)")
            shutil.copyfile(given, source)
        base = work / "base"
        base.mkdir()
        arms = {"before": export_project(args.base, base), "after": after}
        for arm, project in arms.items():
            copy = work / f"{arm}.duckdb"
            shutil.copyfile(source, copy)
            with duckdb.connect(str(copy)) as connection:
                # Each arm builds every model itself: a model of the other arm's project (built
                # with the input warehouse) must not look like one of this arm's.
                for schema in (*SCHEMAS, "reference"):
                    connection.execute(f"drop schema if exists {schema} cascade")
            run_dbt(project, copy, work / arm, "seed")
            run_dbt(project, copy, work / arm, "run", "--full-refresh")
        report = {
            "base": args.base,
            "head": head,
            "warehouse": args.warehouse,
            **compare(work / "before.duckdb", work / "after.duckdb"),
        }
        problems = verdict(report, args.allow)
        report["allowed"] = sorted(args.allow)
        report["problems"] = problems
        report["equivalent"] = not problems
        text = json.dumps(report, indent=2, default=str)
        if args.json:
            args.json.write_text(text + "\n")
        summary = {
            name: ("identical" if e["identical"] else e.get("differing_columns", "differs"))
            for name, e in report["relations"].items()
        }
        print(json.dumps({**{k: report[k] for k in ("base", "head", "warehouse", "only_before",
                                                     "only_after", "problems", "equivalent")},
                          "relations": summary}, indent=2, default=str))  # fmt: skip
        return 0 if not problems else 1
    finally:
        if args.keep:
            print(f"work folder: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
