"""Write the dbt seeds that turn a country as people type it into its ISO 3166-1 alpha-2 code.

Why seeds: the profile must show one spelling per country (client_360 showed "United States"
beside "US"), dbt normalizes in staging, and nothing may download at run time. The seeds are
committed; this script is how they were made and how to remake them after a library update:

    .venv/bin/python scripts/generate_country_seeds.py          # rewrite dbt/seeds/*.csv
    .venv/bin/python scripts/generate_country_seeds.py --check  # exit 1 when they are stale

- ``iso_3166_countries.csv``: the 249 officially assigned ISO 3166-1 countries (alpha-2, alpha-3,
  English name), from the Unicode CLDR data that ``babel`` ships (its territory list, less the
  codes that are not ISO 3166-1 countries: EU, UN, XK, ZZ, AC, ...; its alias table gives alpha-3).
- ``country_spellings.csv``: lowercased spelling -> alpha-2. The codes themselves, then what the
  cleansed layer already reads (``cdp_platform.cleansed.normalize``: the phone library's names in
  seven languages and typed aliases such as "USA", "U.K.", "England"), then the alpha-3 codes and
  CLDR's names in the same seven languages. The first reading of a spelling wins, so dbt and the
  cleansed layer's ``country_code`` agree wherever the cleansed layer has an answer.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from babel import Locale
from babel.core import get_global

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEEDS = ROOT / "dbt" / "seeds"
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")  # as cdp_platform.cleansed.normalize reads
# CLDR territories with a two-letter code that are not ISO 3166-1 countries (user-assigned,
# exceptionally reserved or groupings): Ascension, Clipperton, Sark, Diego Garcia, Ceuta and
# Melilla, the EU, the eurozone, the Canary Islands, Outlying Oceania, Tristan da Cunha, the UN,
# the pseudo-locales, Kosovo and "unknown".
NOT_ISO = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
# Withdrawn alpha-3 codes CLDR still aliases (Burma, Zaire, East Germany, metropolitan France,
# East Timor, South Yemen): not read as today's country.
WITHDRAWN_ALPHA3 = {"BUR", "ZAR", "DDR", "FXX", "TMP", "YMD"}


def countries() -> list[tuple[str, str, str]]:
    """(alpha-2, alpha-3, English name) of every ISO 3166-1 country, by alpha-2."""
    names = Locale("en").territories
    alpha2 = {code for code in names if len(code) == 2 and code.isalpha()} - NOT_ISO
    alpha3: dict[str, str] = {}
    for alias, targets in get_global("territory_aliases").items():
        if len(alias) == 3 and alias.isalpha() and alias not in WITHDRAWN_ALPHA3 and len(targets) == 1:
            if targets[0] in alpha2:
                alpha3[targets[0]] = alias
    missing = sorted(alpha2 - set(alpha3))
    if missing or len(alpha2) != 249:
        raise SystemExit(f"CLDR data gave {len(alpha2)} countries (249 expected), no alpha-3 for {missing}")
    return sorted((code, alpha3[code], names[code]) for code in alpha2)


def spellings(rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """Lowercased spelling -> alpha-2, first reading wins (see the module docstring)."""
    from cdp_platform.cleansed.normalize import _country_names  # the cleansed layer's own reading

    iso = {alpha2 for alpha2, _, _ in rows}
    found: dict[str, str] = {}

    def add(spelling: str, code: str) -> None:
        key = spelling.strip().lower()
        if key and code in iso:
            found.setdefault(key, code)

    for alpha2, _, _ in rows:
        add(alpha2, alpha2)
    for spelling, code in sorted(_country_names().items()):
        add(spelling, code)
    for alpha2, alpha3, _ in rows:
        add(alpha3, alpha2)
    for language in LANGUAGES:
        territories = Locale(language).territories
        for alpha2, _, _ in rows:
            if alpha2 in territories:
                add(territories[alpha2], alpha2)
    return dict(sorted(found.items()))


def render(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed seeds, write nothing"
    )
    parser.add_argument("--into", type=Path, default=SEEDS, help="the seeds folder (default dbt/seeds)")
    args = parser.parse_args(argv)
    rows = countries()
    files = {
        "iso_3166_countries.csv": render(("alpha2", "alpha3", "name"), rows),
        "country_spellings.csv": render(("spelling", "country_code"), list(spellings(rows).items())),
    }
    stale = [
        name
        for name, text in files.items()
        if not (args.into / name).exists() or (args.into / name).read_text() != text
    ]
    if args.check:
        for name in stale:
            print(f"{args.into / name} is stale: run scripts/generate_country_seeds.py", file=sys.stderr)
        return 1 if stale else 0
    args.into.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.into / name).write_text(text)
        print(f"{args.into / name}: {text.count(chr(10)) - 1} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
