"""Durable extraction progress in the lake: the cursors and the pages fetched so far.

An extraction of one stream for one partition keeps, beside the partition,
``_checkpoints/<asset key path>/<partition>/``:

- ``<slice>/state.json`` (and sub-keys for a search split into time windows): where each first request's
  pagination continues, saved by :func:`cdp_platform.http.extract` after every page;
- ``pages/<slice>/<part>-<number>.parquet``: the raw rows of each page, with
  ``.jsonl`` dead letters beside a page that had any. Written before the cursor that moves past it.

A page is identified by its slice, sub-extraction and number, and a resumed extraction restarts
numbering after the last checkpointed page. A page written just before a crash (its cursor never
saved) is therefore fetched again under the same name and overwrites its file, so the spool never
holds a page twice; the finalizing step still de-duplicates by record id, for vendors that repeat a
record across pages. Every file is written atomically, so a SIGKILL at any instant leaves a
consistent checkpoint.
"""

from __future__ import annotations

import json

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
        # delete_prefix, not each listed key: a writer killed between its temporary file and the
        # rename (SIGKILL mid-save) leaves a hidden temporary file that would stay forever.
        self.lake.delete_prefix(key)


class PageSpool:
    """The raw rows of each fetched page, kept in the lake until the partition is finalized."""

    def __init__(self, lake: Lake, prefix: str) -> None:
        self.lake = lake
        self.prefix = f"{prefix}/pages"

    def _name(self, slice_name: str, part: str, number: int) -> str:
        return f"{self.prefix}/{slice_name}/{part or 'p'}-{number:06d}"

    def write(
        self, slice_name: str, part: str, number: int, frame: pl.DataFrame, dead_letters: list[dict]
    ) -> None:
        name = self._name(slice_name, part, number)
        if dead_letters:
            lines = "".join(json.dumps(d, sort_keys=True, default=str) + "\n" for d in dead_letters)
            self.lake.write_bytes(f"{name}.jsonl", lines.encode())
        else:
            self.lake.delete(f"{name}.jsonl")
        write_frame(self.lake, f"{name}.parquet", frame)

    def pages(self) -> list[pl.DataFrame]:
        return [read_frame(self.lake, key) for key in self.lake.list_keys(self.prefix) if key.endswith(".parquet")]

    def dead_letters(self) -> list[dict]:
        letters: list[dict] = []
        for key in self.lake.list_keys(self.prefix):
            if key.endswith(".jsonl"):
                text = self.lake.read_bytes(key).decode()
                letters.extend(json.loads(line) for line in text.splitlines() if line)
        return letters
