"""Erased people out of the files tools write beside the data: dbt's ``target/`` and ``logs/``,
and the compute logs of the local Dagster instance.

These files are not tables; they are written by dbt and Dagster, which never put a value there on
purpose (our assets log counts and hashes, and a test searches the event log and compute logs for
identifiers after a whole-pipeline build). But a compiled query, a run result or a line of a
third-party library can hold one, and each of them is a copy an erasure must reach. So after every
batch each text file under those folders is searched for the batch's identifiers (ids, emails,
phones and handles, as :meth:`~cdp_platform.privacy.erasure.Person.letter_tokens` gives them): a
log loses the lines that spell one, any other file that spells one is deleted (dbt remakes its
artifacts on its next invocation). Dagster's event log is a SQLite database, whose freed pages keep
deleted values: there, the rule is that nothing is ever written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Compute logs (.out, .err) and dbt's logs are line logs; the rest are whole artifacts.
LINE_LOG_SUFFIXES = (".log", ".out", ".err")
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactFolder:
    """A folder to scrub; ``only_suffixes`` limits it to those files (a Dagster home's storage holds
    the SQLite event log beside the compute logs: never delete a database for a match)."""

    path: Path
    only_suffixes: tuple[str, ...] | None = None


def token_pattern(tokens: Iterable[str]) -> re.Pattern[bytes] | None:
    """Case-insensitive, and not inside a longer word or number (``151`` is not in ``1515``)."""
    words = sorted({t.lower().encode() for t in tokens if t and len(t) >= 4}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(
        rb"(?<![0-9a-z])(?:" + b"|".join(re.escape(w) for w in words) + rb")(?![0-9a-z])", re.IGNORECASE
    )


def scrub_folders(folders: Sequence[ArtifactFolder], tokens: Iterable[str]) -> list[tuple[str, str, int]]:
    """Remove every trace of ``tokens`` from the files under ``folders``; returns
    ``(layer, path, lines or files removed)`` for the audit."""
    pattern = token_pattern(tokens)
    if pattern is None:
        return []
    removals = []
    for folder in folders:
        if not folder.path.is_dir():
            continue
        for root, _, names in os.walk(folder.path):
            for name in names:
                path = Path(root, name)
                if folder.only_suffixes is not None and path.suffix not in folder.only_suffixes:
                    continue
                removed = _scrub_file(path, pattern)
                if removed:
                    removals.append(("artifact", str(path), removed))
    return removals


def _scrub_file(path: Path, pattern: re.Pattern[bytes]) -> int:
    try:
        if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
            return 0
        data = path.read_bytes()
    except OSError:  # a file removed meanwhile (dbt cleans its own folders)
        return 0
    if not pattern.search(data):
        return 0
    if path.suffix not in LINE_LOG_SUFFIXES:
        path.unlink(missing_ok=True)
        return 1
    lines = data.splitlines(keepends=True)
    kept = [line for line in lines if not pattern.search(line)]
    fresh = path.with_name(f".{path.name}.scrub")
    fresh.write_bytes(b"".join(kept))
    os.replace(fresh, path)
    return len(lines) - len(kept)
