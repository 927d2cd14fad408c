"""Durable extraction progress in the lake: the cursor and the pages fetched so far.

An extraction of one stream for one partition keeps, beside the partition,
``_checkpoints/<asset key path>/<partition>/``:

- ``page-000001.parquet``, ``page-000002.parquet``...: the records of each page, written first,
  with ``dead-000001.jsonl`` beside a page that had records or a body that could not be used;
- ``state.json``: the paginator state to continue from and the number of pages it covers,
  written after the page it covers.

Pages are written before the state that counts them, so a crash between the two leaves a page
file the state does not count; :meth:`PageSpool.pages` ignores (and :meth:`PageSpool.resume`
deletes) such orphans, because the resumed run fetches that page again. Every file is written
atomically by the lake, so a SIGKILL at any instant leaves a consistent checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

from cdp_platform.io.lake import Lake
from cdp_platform.io.lake_io_manager import read_frame, write_frame

CHECKPOINT_ROOT = "_checkpoints"


def checkpoint_prefix(asset_path: list[str] | tuple[str, ...], partition: str) -> str:
    return "/".join([CHECKPOINT_ROOT, *asset_path, partition])


class LakeCheckpointStore:
    """``CheckpointStore`` over the lake: one ``state.json`` per key (a key is a lake prefix)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def load(self, key: str) -> dict | None:
        path = f"{key}/state.json"
        if not self.lake.exists(path):
            return None
        return json.loads(self.lake.read_bytes(path))

    def save(self, key: str, state: dict) -> None:
        self.lake.write_bytes(f"{key}/state.json", json.dumps(state, sort_keys=True, default=str).encode())

    def clear(self, key: str) -> None:
        for path in list(self.lake.list_keys(key)):
            self.lake.delete(path)


@dataclass
class PageSpool:
    """The records of each fetched page, kept in the lake until the partition is finalized."""

    lake: Lake
    prefix: str

    def _page_key(self, number: int) -> str:
        return f"{self.prefix}/page-{number:06d}.parquet"

    def _dead_key(self, number: int) -> str:
        return f"{self.prefix}/dead-{number:06d}.jsonl"

    def write(self, number: int, frame: pl.DataFrame, dead_letters: list[dict] | None = None) -> None:
        if dead_letters:
            lines = "".join(json.dumps(d, sort_keys=True, default=str) + "\n" for d in dead_letters)
            self.lake.write_bytes(self._dead_key(number), lines.encode())
        write_frame(self.lake, self._page_key(number), frame)

    def _numbers(self, kind: str = "page", suffix: str = ".parquet") -> list[int]:
        numbers = []
        for key in self.lake.list_keys(self.prefix):
            name = key.rsplit("/", 1)[-1]
            if name.startswith(f"{kind}-") and name.endswith(suffix):
                numbers.append(int(name[len(kind) + 1 : -len(suffix)]))
        return sorted(numbers)

    def resume(self, checkpointed_pages: int) -> None:
        """Delete pages written after the last checkpoint: the resumed run fetches them again."""
        for number in self._numbers():
            if number > checkpointed_pages:
                self.lake.delete(self._page_key(number))
        for number in self._numbers("dead", ".jsonl"):
            if number > checkpointed_pages:
                self.lake.delete(self._dead_key(number))

    def pages(self, checkpointed_pages: int) -> list[pl.DataFrame]:
        return [read_frame(self.lake, self._page_key(n)) for n in self._numbers() if n <= checkpointed_pages]

    def dead_letters(self, checkpointed_pages: int) -> list[dict]:
        letters: list[dict] = []
        for number in self._numbers("dead", ".jsonl"):
            if number <= checkpointed_pages:
                text = self.lake.read_bytes(self._dead_key(number)).decode()
                letters.extend(json.loads(line) for line in text.splitlines() if line)
        return letters
