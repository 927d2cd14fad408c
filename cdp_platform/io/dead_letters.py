"""Dead letters: what an extraction could not use, kept with the reason and the redacted request.

``dead_letter/<source>/<stream>/<partition>.jsonl`` holds one JSON object per unusable response or
record (the body, the error, the redacted request, when). A partition's file is replaced when the
partition is materialized again, like the partition itself, and removed when the new run had none;
the raw asset's ``dead_letters`` check fails while the file exists.
"""

from __future__ import annotations

import json

from cdp_platform.io.lake import Lake

DEAD_LETTER_ROOT = "dead_letter"


def dead_letter_key(source: str, stream: str, partition: str) -> str:
    return f"{DEAD_LETTER_ROOT}/{source}/{stream}/{partition}.jsonl"


def write_dead_letters(
    lake: Lake, source: str, stream: str, partition: str, letters: list[dict]
) -> str | None:
    key = dead_letter_key(source, stream, partition)
    if not letters:
        lake.delete(key)
        return None
    lines = "".join(json.dumps(letter, sort_keys=True, default=str) + "\n" for letter in letters)
    lake.write_bytes(key, lines.encode())
    return lake.uri(key)


def read_dead_letters(lake: Lake, source: str, stream: str, partition: str) -> list[dict]:
    key = dead_letter_key(source, stream, partition)
    if not lake.exists(key):
        return []
    return [json.loads(line) for line in lake.read_bytes(key).decode().splitlines() if line]
