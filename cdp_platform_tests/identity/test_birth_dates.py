"""Birth dates one typo apart: the Python rule (the limit) and the SQL rule (the model) agree."""

from __future__ import annotations

import datetime
import random

import duckdb

from cdp_platform.identity.birth_dates import compatible, compatible_sql, digits


def _code(text: str) -> int:
    return digits(datetime.date.fromisoformat(text))


def test_typing_errors_are_compatible_and_other_dates_are_not() -> None:
    assert compatible(_code("1980-05-17"), _code("1980-05-17"))
    assert compatible(_code("1980-05-17"), _code("1981-05-17"))  # one digit
    assert compatible(_code("1980-05-04"), _code("1980-04-05"))  # day and month swapped
    assert compatible(_code("1980-05-12"), _code("1980-05-21"))  # neighbours swapped
    assert not compatible(_code("1980-05-17"), _code("1982-06-17"))
    assert not compatible(_code("1980-05-17"), _code("1990-05-18"))
    assert not compatible(_code("1980-05-04"), _code("1981-04-05"))


def test_the_sql_spelling_agrees_with_the_python_one() -> None:
    rng = random.Random(5)
    start = datetime.date(1940, 1, 1)
    pairs = []
    for _ in range(3000):
        a = start + datetime.timedelta(days=rng.randrange(25000))
        text = list(a.isoformat())
        # Mutate a copy: a digit, a swap of neighbours, day/month, or a random other date.
        kind = rng.randrange(4)
        positions = [i for i in range(10) if text[i] != "-"]
        if kind == 0:
            text[rng.choice(positions)] = str(rng.randrange(10))
        elif kind == 1:
            i = rng.choice(positions[:-1])
            j = positions[positions.index(i) + 1]
            text[i], text[j] = text[j], text[i]
        elif kind == 2:
            text[5:7], text[8:10] = text[8:10], text[5:7]
        else:
            text = list((start + datetime.timedelta(days=rng.randrange(25000))).isoformat())
        try:
            b = datetime.date.fromisoformat("".join(text))
        except ValueError:
            continue
        pairs.append((f"{digits(a):08d}", f"{digits(b):08d}", compatible(digits(a), digits(b))))
    connection = duckdb.connect()
    connection.execute("CREATE TABLE p (a VARCHAR, b VARCHAR, expected BOOLEAN)")
    connection.executemany("INSERT INTO p VALUES (?, ?, ?)", pairs)
    disagree = connection.execute(
        f"SELECT count(*) FROM p WHERE {compatible_sql('a', 'b')} <> expected"
    ).fetchone()
    assert disagree is not None and disagree[0] == 0
    kinds = connection.execute("SELECT count(*) FILTER (WHERE expected), count(*) FROM p").fetchone()
    assert kinds is not None and 0 < kinds[0] < kinds[1]


def test_the_limit_takes_a_typo_and_refuses_another_birth_date() -> None:
    import polars as pl

    from cdp_platform.identity import resolve

    frame = pl.DataFrame(
        {
            "record_id": ["a", "b", "c", "d"],
            "email": ["jo@mail.net", "jo@mail.net", "kim@mail.net", "kim@mail.net"],
            # One mailbox each: a and b one day-month swap apart; c and d two birth dates (two people
            # sharing a mailbox, a parent and a child).
            "date_of_birth": ["1980-05-04", "1980-04-05", "1958-03-12", "1986-07-30"],
        }
    )
    resolution = resolve(frame)
    clients = dict(zip(resolution.mapping["record_id"], resolution.mapping["client_id"], strict=True))
    assert clients["a"] == clients["b"]
    assert clients["c"] != clients["d"]
    assert resolution.refused["reason"].to_list() == ["limit:date_of_birth"]
