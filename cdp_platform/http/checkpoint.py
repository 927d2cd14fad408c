"""Checkpoints: where an extraction stands, saved after every page so a killed run resumes.

``Checkpoint.next_state`` is the paginator state to continue from (a cursor, a next URL, an
offset); ``done`` says the paginator reached its end. ``request_fingerprint`` ties a checkpoint to
the first request it belongs to, so a cursor is never resumed against a different query.

``CheckpointStore`` is the storage seam: the lead implements the lake-backed store; the in-memory
and local-folder stores here serve tests and local runs. The folder store writes a temporary file
and renames it over the old one (``os.replace`` is atomic), so a crash leaves either the old or the
new checkpoint, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote


class CheckpointStore(Protocol):
    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, value: dict[str, Any]) -> None: ...

    def clear(self, key: str) -> None: ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Checkpoint:
    stream: str
    partition: str
    next_state: dict[str, Any] | None
    records_so_far_count: int = 0
    pages: int = 0
    updated_at: str = field(default_factory=_now_iso)
    done: bool = False
    complete: bool = False
    request_fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Checkpoint:
        known = {name: value[name] for name in cls.__dataclass_fields__ if name in value}
        return cls(**known)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        return cls.from_dict(json.loads(text))


def fingerprint(value: Any) -> str:
    """A stable short hash of a JSON-like value (the first request of an extraction)."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class InMemoryCheckpointStore:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.saves = 0

    def load(self, key: str) -> dict[str, Any] | None:
        value = self.values.get(key)
        return json.loads(json.dumps(value)) if value is not None else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        # A JSON round trip, as a durable store would do, so tests catch unserializable state.
        self.values[key] = json.loads(json.dumps(value))
        self.saves += 1

    def clear(self, key: str) -> None:
        self.values.pop(key, None)


class LocalFolderCheckpointStore:
    """One JSON file per key under ``root``; ``/`` in a key makes subfolders."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        segments = [quote(segment, safe="-_.=+") for segment in key.split("/") if segment]
        if not segments or any(segment in {".", ".."} for segment in segments):
            raise ValueError(f"unusable checkpoint key: {key!r}")
        return self.root.joinpath(*segments[:-1], f"{segments[-1]}.json")

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.path_for(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def save(self, key: str, value: dict[str, Any]) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as temp:
                json.dump(value, temp, sort_keys=True)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def clear(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)
