"""The lake backends: atomic writes, listing, errors; the same tests on a folder and on real S3."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cdp_platform.io.lake import LakeError, LocalLake, S3Lake


def test_round_trip_list_and_delete(lake):
    lake.write_bytes("a/b/1.parquet", b"one")
    lake.write_bytes("a/b/2.parquet", b"two")
    lake.write_bytes("a/c/3.parquet", b"three")
    assert lake.read_bytes("a/b/2.parquet") == b"two"
    assert sorted(lake.list_keys("a/b")) == ["a/b/1.parquet", "a/b/2.parquet"]
    assert sorted(lake.list_keys("a")) == ["a/b/1.parquet", "a/b/2.parquet", "a/c/3.parquet"]
    assert lake.size("a/c/3.parquet") == 5
    lake.delete("a/b/1.parquet")
    assert not lake.exists("a/b/1.parquet")
    assert list(lake.list_keys("missing")) == []


def test_missing_key_names_the_uri(lake):
    with pytest.raises(LakeError, match=r"nope/x\.parquet does not exist"):
        lake.read_bytes("nope/x.parquet")


@pytest.mark.parametrize("key", ["", "../escape", "a//b", "a/./b"])
def test_keys_cannot_escape_the_root(lake, key):
    with pytest.raises(LakeError, match="invalid lake key"):
        lake.write_bytes(key, b"x")


def test_readers_never_see_half_a_file(tmp_path: Path):
    """A reader racing a writer sees the old bytes or the new bytes, never a mix or a truncation."""
    lake = LocalLake(tmp_path)
    versions = [bytes([i]) * 2_000_000 for i in range(1, 6)]
    lake.write_bytes("p/2026-11-01.parquet", versions[0])
    seen: list[bytes] = []
    done = threading.Event()

    def writer() -> None:
        for _ in range(4):
            for version in versions:
                lake.write_bytes("p/2026-11-01.parquet", version)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        seen.append(lake.read_bytes("p/2026-11-01.parquet"))
    thread.join()
    assert seen, "the reader never ran while the writer wrote"
    assert all(data in versions for data in seen)
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["2026-11-01.parquet"]  # no temp files left


def test_s3_writes_request_server_side_encryption(s3_endpoint, s3_bucket):
    lake = S3Lake(s3_bucket, "enc", endpoint_url=s3_endpoint)
    lake.write_bytes("x/1.parquet", b"data")
    assert lake.head("x/1.parquet")["ServerSideEncryption"] == "AES256"


def test_delete_prefix_removes_everything_under_it_and_nothing_else(lake):
    lake.write_bytes("ck/raw/day/state.json", b"{}")
    lake.write_bytes("ck/raw/day/pages/p-000001.parquet", b"page")
    lake.write_bytes("ck/raw/other/state.json", b"{}")
    lake.delete_prefix("ck/raw/day")
    assert list(lake.list_keys("ck/raw/day")) == []
    assert list(lake.list_keys("ck")) == ["ck/raw/other/state.json"]
    lake.delete_prefix("ck/raw/missing")  # nothing there: no error


def test_delete_prefix_removes_what_a_killed_writer_left(tmp_path: Path):
    """SIGKILL between the temporary file and the rename leaves a hidden file that list_keys does not
    show; clearing a checkpoint must not leave it behind forever."""
    lake = LocalLake(tmp_path)
    lake.write_bytes("ck/raw/day/state.json", b"{}")
    orphan = tmp_path / "ck" / "raw" / "day" / ".state.json.x1y2z3.tmp"
    orphan.write_bytes(b'{"half')
    assert list(lake.list_keys("ck/raw/day")) == ["ck/raw/day/state.json"]
    lake.delete_prefix("ck/raw/day")
    assert not orphan.exists()
    assert not (tmp_path / "ck" / "raw" / "day").exists()
