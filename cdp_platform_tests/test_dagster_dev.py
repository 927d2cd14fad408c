"""Smoke test: the README's run command brings up the UI with the code location loaded."""

import shutil

import pytest

from cdp_platform_tests.support import dagster_dev as dev
from cdp_platform_tests.support.services import free_port


def _serves_the_loaded_code_location(server: dev.DevServer) -> None:
    entry = dev.wait_loaded(server)
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry["locationOrLoadError"].get("message")
    assert {"raw/hubspot/contacts", "raw/salesforce/contacts", "raw/twitter/mentions"} <= server.asset_keys()
    assert (server.home / "dagster.yaml").read_text().count("enabled: false") == 1


@pytest.mark.slow
def test_the_readme_command_serves_the_loaded_code_location(dagster_dev):
    """scripts/dev.sh, which also sets up DAGSTER_HOME. The server is the session's shared one (the
    browser test uses it too); the ``dagster_dev`` fixture asserts that it stops cleanly."""
    _serves_the_loaded_code_location(dagster_dev)


@pytest.mark.slow
def test_dg_dev_serves_the_loaded_code_location(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(dev.PROJECT / "deploy" / "local" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    command = [str(dev.PROJECT / ".venv" / "bin" / "dg"), "dev", "--port", str(port), "--host", "127.0.0.1"]
    server = dev.start(command, dev.dev_environment(tmp_path), port, tmp_path / "dagster-dev.log")
    try:
        _serves_the_loaded_code_location(server)
    finally:
        graceful, leaked = dev.stop(server)
    assert graceful, "dagster dev did not stop within a minute of Ctrl-C (SIGINT to its process group)"
    assert not leaked, "dagster dev left processes running"
