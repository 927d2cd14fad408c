"""``dagster dev`` as the README starts it, in its own process group on a free port, for the tests
that need the running UI (the dev smoke test and the browser test share one).

It is stopped as a user stops it in a terminal: Ctrl-C, a SIGINT to its whole process group, which
the webserver, the daemon and the code servers each handle by shutting down. The child starts with
the default SIGINT and SIGTERM handling whatever the test runner inherited: a runner started in the
background (CI, a job runner) ignores SIGINT, Python passes that on, and Dagster maps SIGTERM to the
SIGINT handler, so ``dagster dev`` would then ignore both and its code servers would only exit when
their heartbeat times out, sometimes after the test's minute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PROJECT = Path(__file__).resolve().parents[2]

LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
ASSETS = "{ assetNodes { assetKey { path } groupName } }"

LOAD_TIMEOUT_SECONDS = 120
# dagster dev stops its webserver, daemon and code server in turn; on a loaded machine that takes a
# while, so the group gets a minute after SIGTERM before it counts as stuck, and another as leaked.
STOP_TIMEOUT_SECONDS = 60


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def group_alive(pgid: int) -> bool:
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


def dev_environment(folder: Path) -> dict[str, str]:
    """The environment of a fresh local install: Dagster's home, the lake and the warehouse all in
    ``folder``, the project's venv first on PATH (as scripts/bootstrap.sh leaves it)."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "CDP_LAKE_ROOT": str(folder / "lake"),
        "CDP_WAREHOUSE_PATH": str(folder / "warehouse.duckdb"),
        "PATH": f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(PROJECT / ".venv"),
    }


def readme_command(port: int) -> list[str]:
    """The README's run command, on ``port`` instead of 3000."""
    return ["bash", str(PROJECT / "scripts" / "dev.sh"), "-p", str(port)]


@dataclass
class DevServer:
    """A running ``dagster dev``: its process, its group, its port and its log."""

    process: subprocess.Popen
    pgid: int
    port: int
    home: Path
    log_path: Path
    log: IO[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def graphql(self, query: str) -> dict:
        return graphql(self.port, query)

    def asset_keys(self) -> set[str]:
        return {"/".join(node["assetKey"]["path"]) for node in self.graphql(ASSETS)["assetNodes"]}


def _default_interrupt_handling() -> None:
    """In the child before exec: SIGINT and SIGTERM handled as in a terminal (not inherited ignores)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(command: Sequence[str], env: Mapping[str, str], port: int, log_path: Path) -> DevServer:
    log = log_path.open("w")
    process = subprocess.Popen(
        list(command),
        cwd=PROJECT,
        env=dict(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the whole tree can be stopped
        preexec_fn=_default_interrupt_handling,
    )
    return DevServer(process, os.getpgid(process.pid), port, Path(env["DAGSTER_HOME"]), log_path, log)


def wait_loaded(server: DevServer, timeout: float = LOAD_TIMEOUT_SECONDS) -> dict:
    """The one code location's entry once it is LOADED (or the last one seen when time ran out).

    Raises ``AssertionError`` with the log's tail when the process exits early or several code
    locations are served.
    """
    deadline = time.monotonic() + timeout
    entry: dict | None = None
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_tail()
        try:
            entries = server.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
            # scripts/dev.sh loads workspace.yaml ("cdp_platform"); dg names it after the project.
            assert len(entries) == 1, entries
            entry = entries[0]
            if entry["loadStatus"] == "LOADED":
                return entry
        except (OSError, KeyError):
            pass
        time.sleep(1)
    assert entry is not None and entry["loadStatus"] == "LOADED", server.log_tail()
    return entry


def stop(server: DevServer) -> tuple[bool, bool]:
    """Ctrl-C (SIGINT to the group); returns (stopped within the timeout, left processes behind).

    Whatever the answer, nothing of the group is left running afterwards.
    """
    os.killpg(server.pgid, signal.SIGINT)
    try:
        server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        graceful = True
    except subprocess.TimeoutExpired:
        graceful = False
        os.killpg(server.pgid, signal.SIGKILL)
        server.process.wait(timeout=10)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while group_alive(server.pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    leaked = group_alive(server.pgid)
    if leaked:
        os.killpg(server.pgid, signal.SIGKILL)
    server.log.close()
    return graceful, leaked
