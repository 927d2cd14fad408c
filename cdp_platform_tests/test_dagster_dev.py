"""Smoke test: the README's run command brings up the UI with the code location loaded."""

import json
import os
import shutil
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
    """Whether a live (not zombie) process of the group remains. A zombie has exited: it only waits
    for a reaper, which in a container's PID namespace may be slow to come."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["readme", "dg"])
def test_dev_serves_the_loaded_code_location(tmp_path, launcher):
    """The README's run command (scripts/dev.sh, which sets up DAGSTER_HOME), and ``dg dev``."""
    port = free_port()
    home = tmp_path / "dagster_home"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "PATH": f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(PROJECT / ".venv"),
    }
    if launcher == "readme":
        command = ["bash", str(PROJECT / "scripts" / "dev.sh"), "-p", str(port)]
    else:
        home.mkdir()
        shutil.copy(PROJECT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
        command = [str(PROJECT / ".venv" / "bin" / "dg"), "dev", "--port", str(port), "--host", "127.0.0.1"]
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        command,
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
                # scripts/dev.sh loads workspace.yaml ("cdp_platform"); dg names it after the project.
                assert len(entries) == 1, entries
                entry = entries[0]
                if entry["loadStatus"] == "LOADED":
                    break
            except (OSError, KeyError):
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
            process.wait(timeout=60)
            graceful = True
        except subprocess.TimeoutExpired:
            graceful = False
            os.killpg(pgid, signal.SIGKILL)
            process.wait(timeout=10)
        # dagster dev stops its webserver, daemon and code server in turn; on a loaded machine that
        # takes a while, so give the group a minute before calling it a leak.
        deadline = time.monotonic() + 60
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        leaked = _group_alive(pgid)
        if leaked:
            os.killpg(pgid, signal.SIGKILL)
        log.close()
    assert graceful, "dagster dev did not stop within a minute of SIGTERM"
    assert not leaked, "dagster dev left processes running"
