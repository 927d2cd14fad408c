"""``scripts/dev.sh`` stops on SIGTERM and on Ctrl-C however it was started, even from a script
that put it in the background (which hands it SIGINT ignored, as non-interactive shells do for
``&`` jobs; before the fix only SIGKILL stopped it).

The script is started the way a job runner or ``some_script.sh &`` starts it: in its own process
group, with SIGINT and SIGTERM ignored on entry. Once the UI answers, one signal goes to the
script's own process (SIGTERM, as ``kill <pid>`` or a service manager sends it) or to its whole
group (SIGINT, a terminal's Ctrl-C); the whole process group must then be gone within a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from cdp_platform_tests.support import dagster_dev as dev
from cdp_platform_tests.support.services import free_port

pytestmark = pytest.mark.slow


def _ignore_interrupts() -> None:
    """What a non-interactive shell does to a background job (and what it passes on)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _start_in_background(tmp_path) -> dev.DevServer:
    port = free_port()
    log = (tmp_path / "dev.log").open("w")
    process = subprocess.Popen(
        dev.readme_command(port),
        cwd=dev.PROJECT,
        env=dev.dev_environment(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_ignore_interrupts,
    )
    return dev.DevServer(
        process, os.getpgid(process.pid), port, tmp_path / "dagster_home", tmp_path / "dev.log", log
    )


def _gone_after(server: dev.DevServer, send) -> tuple[bool, str]:
    """Send the signal; whether the whole group was gone within the stop timeout (SIGKILL after)."""
    dev.wait_loaded(server)
    send()
    deadline = time.monotonic() + dev.STOP_TIMEOUT_SECONDS
    while dev.group_alive(server.pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    gone = not dev.group_alive(server.pgid)
    tail = server.log_tail()
    if not gone:
        os.killpg(server.pgid, signal.SIGKILL)
    server.process.wait(timeout=30)
    server.log.close()
    return gone, tail


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("sigterm_to_the_script", id="SIGTERM to the script's pid"),
        pytest.param("ctrl_c_to_the_group", id="SIGINT to its process group (Ctrl-C)"),
    ],
)
def test_dev_sh_started_in_the_background_stops_on_a_signal(tmp_path, how):
    server = _start_in_background(tmp_path)
    try:
        if how == "sigterm_to_the_script":
            gone, tail = _gone_after(server, lambda: os.kill(server.process.pid, signal.SIGTERM))
        else:
            gone, tail = _gone_after(server, lambda: os.killpg(server.pgid, signal.SIGINT))
    finally:
        if server.process.poll() is None:
            os.killpg(server.pgid, signal.SIGKILL)
    assert gone, f"scripts/dev.sh was still running a minute after {how}; log tail:\n{tail}"
