"""Smoke test: the README's run command brings up the UI with the code location loaded."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from cdp_platform_tests.support.services import free_port

PROJECT = Path(__file__).resolve().parents[1]

LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS = "{ assetNodes { assetKey { path } groupName } }"


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_dev_script_serves_the_loaded_code_location(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        ["bash", str(PROJECT / "scripts" / "dev.sh"), "-p", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the whole tree can be stopped
    )
    pgid = os.getpgid(process.pid)
    try:
        deadline = time.monotonic() + 120
        entry = None
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
            try:
                entries = _graphql(port, LOCATIONS)["workspaceOrError"]["locationEntries"]
                entry = next(e for e in entries if e["name"] == "cdp_platform")
                if entry["loadStatus"] == "LOADED":
                    break
            except (OSError, StopIteration, KeyError):
                pass
            time.sleep(1)
        assert entry is not None and entry["loadStatus"] == "LOADED", (
            tmp_path / "dagster-dev.log"
        ).read_text()[-3000:]
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry["locationOrLoadError"].get("message")
        keys = {"/".join(node["assetKey"]["path"]) for node in _graphql(port, ASSETS)["assetNodes"]}
        assert {"raw/hubspot/contacts", "raw/salesforce/contacts", "raw/twitter/mentions"} <= keys
        assert (tmp_path / "dagster_home" / "dagster.yaml").read_text().count("enabled: false") == 1
    finally:
        os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        log.close()
    assert not _group_alive(pgid), "dagster dev left processes running"
