"""The emulated vendors are plug-ins: a new one is a module of sandbox/vendors, and nothing else.

Issue 16 ("one home per source"): the shared sandbox modules find the vendors through
``cdp_platform.sandbox.plugins`` instead of listing them. These tests hold that: the wiring modules
name no vendor, a vendor module dropped into the package is served, wired and faulted without an
edit elsewhere, and two vendors claiming one name are refused.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

import cdp_platform.sandbox.vendors as vendors_package
from cdp_platform.sandbox import credentials, plugins, ratelimit
from cdp_platform.sandbox.app import create_app, sandbox_stats
from cdp_platform.sandbox.faults import resolve_faults
from cdp_platform.sandbox.in_process import SANDBOX_ROOT, sandbox_base_url, sandbox_options
from cdp_platform.sources.registry import source_names
from cdp_platform_tests.sandbox.conftest import CONFIG

SANDBOX = Path(plugins.__file__).parent

# The shared modules that used to list vendors. population.py still describes the world in vendor
# terms (a person's handles and ids on the social networks); every module below must not.
VENDORLESS = (
    "app.py",
    "cli.py",
    "config.py",
    "credentials.py",
    "faults.py",
    "identity_candidates.py",
    "identity_truth.py",
    "in_process.py",
    "plugins.py",
    "purchases.py",
    "ratelimit.py",
    "records.py",
    "sentiment_labels.py",
    "truth.py",
    "webhooks.py",
    "wiring.py",
)


def _vendor_words() -> set[str]:
    """Every shipped source's name and every emulated vendor's module name and mount prefix."""
    words = set(source_names())
    for vendor in plugins.emulated_vendors():
        words.add(vendor.name)
        words.update(mount.prefix for mount in vendor.mounts)
    return words


@pytest.mark.parametrize("module", VENDORLESS)
def test_the_shared_modules_name_no_vendor(module: str) -> None:
    text = (SANDBOX / module).read_text().lower()
    named = sorted(word for word in _vendor_words() if re.search(rf"(?<![a-z]){re.escape(word)}", text))
    assert named == [], f"sandbox/{module} names {named}: declare it in the vendor's module instead"


def test_vendors_are_found_in_declared_order() -> None:
    found = plugins.emulated_vendors()
    assert [v.position for v in found] == sorted(v.position for v in found)
    # Every emulated mount serves a source the platform ships (no stale declarations).
    assert set(plugins.source_mounts()) <= set(source_names())
    # Helper modules of the package (common, names, candidates) are not vendors.
    assert {"common", "names", "candidates"}.isdisjoint(v.name for v in found)


_ECHO = '''
"""A vendor that exists only in this test: one data route that answers with its own credential."""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cdp_platform.sandbox.plugins import EmulatedVendor, Mount


class Echo:
    def __init__(self, state):
        self.state = state

    def routes(self):
        return [Route("/v1/echo", self.echo)]

    @staticmethod
    def is_data_path(path):
        return path.startswith("/v1/")

    async def echo(self, request: Request):
        return JSONResponse({"key": self.state.credentials.echo_api_key})

    async def fault_response(self, request, plan):
        return None


VENDOR = EmulatedVendor(
    position=1000,
    api=Echo,
    mounts=(Mount("echo", "echo_source", credentials={"api_key": "echo-key"},
                  account_options=lambda data: {"account": "acct-1"}),),
    accepts={"echo_api_key": "echo-key"},
    quotas={"echo_calls_per_minute": 60},
    public={"ECHO_API_KEY": "echo-key"},
)
'''


@pytest.fixture
def extra_vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The vendors package with one more module (``echo``), discovered afresh; restored after."""
    (tmp_path / "echo.py").write_text(textwrap.dedent(_ECHO))
    monkeypatch.setattr(vendors_package, "__path__", [*vendors_package.__path__, str(tmp_path)])
    saved = (dict(credentials._LAZY), dict(ratelimit._LAZY))
    plugins.emulated_vendors.cache_clear()
    credentials._LAZY.clear()
    ratelimit._LAZY.clear()
    yield
    sys.modules.pop("cdp_platform.sandbox.vendors.echo", None)
    plugins.emulated_vendors.cache_clear()
    credentials._LAZY.clear()
    credentials._LAZY.update(saved[0])
    ratelimit._LAZY.clear()
    ratelimit._LAZY.update(saved[1])


@pytest.mark.anyio
async def test_a_new_vendor_module_is_served_wired_and_faulted(extra_vendor, data) -> None:
    assert [v.name for v in plugins.emulated_vendors()][-1] == "echo"
    assert credentials.SandboxCredentials().echo_api_key == "echo-key"
    assert credentials.ECHO_API_KEY == "echo-key"
    assert credentials.SANDBOX_CREDENTIALS["echo_source"] == {"api_key": "echo-key"}
    assert ratelimit.RateLimitSettings().echo_calls_per_minute == 60
    assert sandbox_base_url("echo_source") == f"{SANDBOX_ROOT}/echo"
    assert sandbox_options("echo_source", data) == {"account": "acct-1"}
    assert resolve_faults({"echo": "storm"})["echo"].name == "storm"

    app = create_app(CONFIG, data=data, credentials=credentials.SandboxCredentials(echo_api_key="given"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as client:
        response = await client.get("/echo/v1/echo")
    assert response.status_code == 200 and response.json() == {"key": "given"}
    assert sandbox_stats(app)["requests"]["echo"] == {"total": 1, "data": 1}


def test_two_vendors_claiming_one_prefix_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    twin = _ECHO.replace('Mount("echo", "echo_source"', 'Mount("echo", "other_source"').replace(
        "echo_api_key", "twin_api_key"
    ).replace("echo_calls_per_minute", "twin_calls").replace("ECHO_API_KEY", "TWIN_API_KEY")
    (tmp_path / "echo.py").write_text(textwrap.dedent(_ECHO))
    (tmp_path / "echo_twin.py").write_text(textwrap.dedent(twin))
    monkeypatch.setattr(vendors_package, "__path__", [*vendors_package.__path__, str(tmp_path)])
    plugins.emulated_vendors.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"\['echo', 'echo_twin'\] both declare the mount prefix 'echo'"):
            plugins.emulated_vendors()
    finally:
        for name in ("echo", "echo_twin"):
            sys.modules.pop(f"cdp_platform.sandbox.vendors.{name}", None)
        monkeypatch.undo()
        plugins.emulated_vendors.cache_clear()
