"""When two birth dates may be one person's: the same date, one mistyped digit, two neighbouring
digits swapped, or the day and the month swapped (05/04 typed as 04/05, the US and European orders).

Those are the errors people make typing a date; anything further apart is another birth date. The
rule is used twice: by the match model as a comparison level (SQL, :func:`compatible_sql`) and by the
date-of-birth limit, which refuses to join a client holding two incompatible birth dates (Python,
:func:`compatible`). The two spellings are tested to agree (``test_birth_dates.py``).
"""

from __future__ import annotations

import datetime


def digits(day: datetime.date) -> int:
    """``YYYYMMDD`` as an integer: the code the limit compares."""
    return day.year * 10000 + day.month * 100 + day.day


def compatible(a: int, b: int) -> bool:
    """Two ``YYYYMMDD`` codes that may be one birth date typed twice (see the module)."""
    if a == b:
        return True
    left, right = f"{a:08d}", f"{b:08d}"
    differ = [i for i in range(8) if left[i] != right[i]]
    if len(differ) == 1:
        return True
    if len(differ) == 2 and differ[1] == differ[0] + 1:
        i = differ[0]
        if left[i] == right[i + 1] and left[i + 1] == right[i]:
            return True
    return left[:4] == right[:4] and left[4:6] == right[6:8] and left[6:8] == right[4:6]


def compatible_sql(a: str, b: str) -> str:
    """DuckDB SQL: :func:`compatible` for two ``YYYYMMDD`` text columns (both non-null).

    On two strings of one length, one substituted digit is a Hamming distance of 1 and a swap of
    neighbours a Damerau-Levenshtein distance of 1; the cheap Hamming test goes first because the
    model computes this on millions of random pairs."""
    return (
        f"(CASE WHEN length({a}) <> length({b}) THEN false "
        f"WHEN hamming({a}, {b}) <= 1 THEN true "
        f"WHEN hamming({a}, {b}) = 2 AND damerau_levenshtein({a}, {b}) <= 1 THEN true "
        f"ELSE {a}[1:4] = {b}[1:4] AND {a}[5:6] = {b}[7:8] AND {a}[7:8] = {b}[5:6] END)"
    )
