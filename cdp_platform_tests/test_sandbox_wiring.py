"""The emulator beside the product: a production code location never loads ``cdp_platform.sandbox``.

The local default wires the sandbox in at one place (``cdp_platform.definitions.local_wiring``,
which calls ``cdp_platform.sandbox.wiring``); a production location, where every vendor has a base
URL, gets the "no truth available" graders and vendor resources without an in-process server.
Each load runs in a fresh interpreter, so ``sys.modules`` shows exactly what loading it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdp_platform.definitions import layer_definitions
from cdp_platform.identity.grading import IDENTITY_TRUTH_KEY, IdentityTruth
from cdp_platform.predictive.grading import SENTIMENT_TRUTH_KEY, SentimentTruth
from cdp_platform.sandbox.identity_truth import SandboxIdentityTruth
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.sentiment_labels import SandboxSentimentLabels
from cdp_platform.settings import VENDOR_CREDENTIALS, VENDOR_OPTIONS, env_var_name, load_settings
from cdp_platform.sources import RESOURCE_CLASSES, resource_key
from cdp_platform.sources.vendor import NoEndpoint

REPO = Path(__file__).resolve().parents[1]

# Loads a code location the way Dagster does (the module's @dg.definitions), validates it, and
# prints which cdp_platform.sandbox modules are loaded and what the graders and vendors were given.
PROBE = """
import importlib.util, json, sys
import dagster as dg

target = sys.argv[1]
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("code_location", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
else:
    module = importlib.import_module(target)
defs = module.defs()
dg.Definitions.validate_loadable(defs)
resources = defs.resources
print(json.dumps({
    "sandbox_modules": sorted(
        name for name in sys.modules if name == "cdp_platform.sandbox" or name.startswith("cdp_platform.sandbox.")
    ),
    "graders": {key: type(resources[key]).__name__ for key in ("identity_truth", "sentiment_truth")},
    "servers": {key: type(r.server).__name__ for key, r in resources.items() if key.endswith("_api")},
    "assets": len(list(defs.resolve_asset_graph().get_all_asset_keys())),
}))
"""


def _production_environ(root: Path) -> dict[str, str]:
    """A complete production configuration: every vendor at a (never contacted) base URL."""
    environ = {
        "CDP_ENV": "production",
        "CDP_LAKE_ROOT": str(root / "lake"),
        "CDP_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "CDP_PRIVACY_HMAC_KEY": "k" * 40,
        "DAGSTER_HOME": str(root),
    }
    for vendor, roles in VENDOR_CREDENTIALS.items():
        environ[env_var_name(vendor, "base_url")] = f"https://{vendor}.example.com"
        environ.update({env_var_name(vendor, option): "123" for option in VENDOR_OPTIONS[vendor]})
        environ.update({env_var_name(vendor, role): "secret" for role in roles})
    return environ


def _load(target: str, environ: dict[str, str]) -> dict:
    # Only PATH and the like from this process: no CDP_* variable of the test run leaks in.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CDP_", "DAGSTER_"))}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, target],
        env={**base, **environ},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("target", ["cdp_platform.definitions", str(REPO / "deploy/celery/definitions.py")])
def test_a_production_code_location_never_loads_the_sandbox(target, tmp_path):
    loaded = _load(target, _production_environ(tmp_path))
    assert loaded["sandbox_modules"] == []
    assert loaded["graders"] == {"identity_truth": "IdentityTruth", "sentiment_truth": "SentimentTruth"}
    assert set(loaded["servers"].values()) == {"NoneType"} and len(loaded["servers"]) == len(
        VENDOR_CREDENTIALS
    )
    assert loaded["assets"] > 50


def test_the_local_default_loads_the_sandbox_through_its_wiring(tmp_path):
    """The control of the test above: the same probe does see the sandbox when it is wired in."""
    environ = {
        "CDP_LAKE_ROOT": str(tmp_path / "lake"),
        "CDP_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "DAGSTER_HOME": str(tmp_path),
    }
    loaded = _load("cdp_platform.definitions", environ)
    assert "cdp_platform.sandbox.wiring" in loaded["sandbox_modules"]
    assert loaded["graders"] == {
        "identity_truth": "SandboxIdentityTruth",
        "sentiment_truth": "SandboxSentimentLabels",
    }
    assert set(loaded["servers"].values()) == {"InProcessSandbox"}


def test_graders_follow_which_vendors_the_sandbox_serves():
    everything = layer_definitions(load_settings({})).resources
    assert isinstance(everything[IDENTITY_TRUTH_KEY], SandboxIdentityTruth)
    assert isinstance(everything[SENTIMENT_TRUTH_KEY], SandboxSentimentLabels)
    # One server for all: the graders read the very world the connectors are served.
    servers = {id(everything[resource_key(v)].server) for v in VENDOR_CREDENTIALS}
    assert (
        servers == {id(everything[IDENTITY_TRUTH_KEY].server)} == {id(everything[SENTIMENT_TRUTH_KEY].server)}
    )

    # One real CRM: its candidates have no truth, so the map is not graded; the social texts still are.
    hubspot = {"CDP_HUBSPOT_BASE_URL": "https://api.hubapi.com", "CDP_HUBSPOT_ACCESS_TOKEN": "x"}
    mixed = layer_definitions(load_settings(hubspot)).resources
    assert type(mixed[IDENTITY_TRUTH_KEY]) is IdentityTruth
    assert isinstance(mixed[SENTIMENT_TRUTH_KEY], SandboxSentimentLabels)
    assert mixed[resource_key("hubspot")].server is None
    assert isinstance(mixed[resource_key("salesforce")].server, InProcessSandbox)

    assert IdentityTruth().true_persons() is None and SentimentTruth().labels() is None


def test_a_vendor_without_base_url_or_server_names_the_variable():
    from cdp_platform.sources import raw_definitions

    with pytest.raises(ValueError, match=r"^CDP_SALESFORCE_BASE_URL is not set and no in-process server"):
        raw_definitions(load_settings({}))
    # A resource built by hand without either says the same when it is used, not a None URL later.
    resource = RESOURCE_CLASSES["hubspot"](access_token="x")
    with pytest.raises(NoEndpoint, match=r"^CDP_HUBSPOT_BASE_URL is not set and no in-process server"):
        resource.client()
    assert resource.model_copy(update={"base_url": "https://api.hubapi.com"}).api_base_url() == (
        "https://api.hubapi.com"
    )
