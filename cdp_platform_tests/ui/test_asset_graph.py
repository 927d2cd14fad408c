"""The browser tests: the asset graph the UI draws shows the lineage from a raw asset to client_360,
and the marts' freshness checks are listed in the UI.

The platform is started as the README does (the session's ``dagster_dev``), and Debian's chromium,
driven by Playwright through its executable path, opens the global asset lineage filtered to every
path from ``raw/hubspot/contacts`` to ``client_360``. What is checked is what was drawn: the asset
nodes (their names and group boxes) and the edges between them, read from the graph's SVG. The
screenshots are kept in ``test-artifacts/ui/`` whatever the outcome.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from cdp_platform_tests.support import dagster_dev as dev
from cdp_platform_tests.support.services import in_ci

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = dev.PROJECT / "test-artifacts" / "ui"
# Every asset on a path between the two, in the UI's own selection syntax.
SELECTION = 'key:"raw/hubspot/contacts"+ and +key:"client_360"'
# Wide and tall enough (nine intermediate models build client_360, each source's contributions
# stand between its staging views and the unions, and every staging model follows
# sources_landed, itself after every cleansed table, so every source's staging lies between the two)
# that the whole path fits at a zoom where nodes are drawn in full, with their names
# (below 0.6 the graph draws bare boxes with shortened names).
VIEWPORT = {"width": 3600, "height": 9000}
# (group box, name drawn) of each asset along one path, from the raw asset to the mart.
LINEAGE = [
    ("raw_hubspot", "contacts"),
    ("cleansed", "contacts"),
    ("staging", "stg_hubspot__contacts"),
    ("staging", "stg_hubspot__identity_candidates"),
    ("intermediate", "int_identity_candidates"),
    ("profile", "identity_map"),
    ("profile", "client_360"),
]
TIMEOUT_MS = 45_000

# The drawn graph, in SVG coordinates: asset nodes and group boxes (foreignObjects) and edges.
DRAWN = """() => {
  const box = (fo) => ({x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
                        w: +fo.getAttribute('width'), h: +fo.getAttribute('height')});
  const nodes = [], groups = [];
  for (const fo of document.querySelectorAll('foreignObject')) {
    const name = fo.querySelector('[class*="AssetNode_assetName"] [data-tooltip]');
    if (name) { nodes.push({name: name.dataset.tooltip, ...box(fo)}); continue; }
    const label = fo.querySelector('[data-tooltip]');
    if (label) groups.push({name: label.dataset.tooltip, ...box(fo)});
  }
  const edges = [...document.querySelectorAll('path[stroke="var(--color-lineage-edge)"]')]
    .map((path) => path.getAttribute('d'));
  return {nodes, groups, edges};
}"""


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Debian's chromium is not installed at {CHROMIUM}"
    if in_ci():
        pytest.fail(f"{message}; scripts/test.sh installs it (scripts/browser.sh)", pytrace=False)
    pytest.skip(f"{message}; run `bash scripts/browser.sh` (or apt-get install chromium) to run this test")


def _inside(inner: dict, outer: dict) -> bool:
    return (
        outer["x"] <= inner["x"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def drawn_graph(drawn: dict) -> tuple[set[tuple[str, str]], set[tuple[tuple[str, str], tuple[str, str]]]]:
    """The (group, name) of every drawn asset node, and the drawn edges between them.

    An edge is a path from the right side of one node to the left side of another: it is matched
    to nodes by where it starts and ends.
    """
    nodes = {}
    for node in drawn["nodes"]:
        groups = [g["name"] for g in drawn["groups"] if _inside(node, g)]
        if len(groups) == 1:  # else drawn mid-layout, outside its box: not counted
            nodes[(groups[0], node["name"])] = node

    def at(x: float, y: float, side: str) -> tuple[str, str] | None:
        for key, n in nodes.items():
            edge_x = n["x"] + n["w"] if side == "right" else n["x"]
            if abs(edge_x - x) <= 12 and n["y"] <= y <= n["y"] + n["h"]:
                return key
        return None

    edges = set()
    for d in drawn["edges"]:
        points = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
        source, target = at(points[0], points[1], "right"), at(points[-2], points[-1], "left")
        if source and target:
            edges.add((source, target))
    return set(nodes), edges


def lineage_drawn(drawn: dict) -> bool:
    nodes, edges = drawn_graph(drawn)
    return set(LINEAGE) <= nodes and all(pair in edges for pair in itertools.pairwise(LINEAGE))


@contextlib.contextmanager
def browser_page(viewport: dict, screenshot: Path) -> Iterator[Page]:
    """A page of headless chromium; its screenshot is saved when the block ends, however it ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport=viewport)
        page.set_default_timeout(TIMEOUT_MS)
        # The UI greets a new browser on localhost with a community dialog: marked as seen in local
        # storage, as the UI itself does, and dismissed should it come anyway.
        page.add_init_script("window.localStorage.setItem('communityNux', '\"1\"')")
        page.add_locator_handler(
            page.get_by_text("Join the Dagster community"),
            lambda: page.get_by_role("button", name="Skip").click(),
        )
        try:
            yield page
        finally:
            page.screenshot(path=str(screenshot))
            browser.close()


def draw_lineage(base_url: str, screenshot: Path) -> dict:
    """Open the lineage between the two assets in headless chromium; what it drew, and a screenshot."""
    url = f"{base_url}/asset-groups~{urllib.parse.quote(SELECTION, safe='')}/"
    with browser_page(VIEWPORT, screenshot) as page:
        page.goto(url)
        # Groups are drawn collapsed: wait for their boxes, then expand them all with the
        # graph's own shortcut (Alt+E, a toggle: a click on a group would expand that one and
        # turn the shortcut into "collapse all"), and wait until every asset of the path is
        # drawn by name.
        page.locator("foreignObject [data-tooltip='raw_hubspot']").first.wait_for()
        page.keyboard.press("Alt+KeyE")
        page.wait_for_function(
            """(names) => {
              const drawn = new Set([...document.querySelectorAll(
                'foreignObject [class*="AssetNode_assetName"] [data-tooltip]')].map((e) => e.dataset.tooltip));
              return names.every((name) => drawn.has(name));
            }""",
            arg=sorted({name for _, name in LINEAGE}),
        )
        # Edges are drawn after the nodes: read the graph until the path is complete (or time
        # runs out, and the assertions say what is missing).
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        drawn = page.evaluate(DRAWN)
        while not lineage_drawn(drawn) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
            drawn = page.evaluate(DRAWN)
        return drawn


def running_ui(request: pytest.FixtureRequest) -> dev.DevServer:
    """The session's dagster dev, loaded; chromium is looked for first, so that a machine without it
    skips before starting the platform."""
    require_chromium()
    server: dev.DevServer = request.getfixturevalue("dagster_dev")
    dev.wait_loaded(server)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return server


def test_the_asset_graph_draws_the_lineage_from_a_raw_asset_to_client_360(request, capsys):
    server = running_ui(request)
    screenshot = ARTIFACTS / "asset-lineage-raw-to-client_360.png"
    try:
        drawn = draw_lineage(server.url, screenshot)
    finally:
        with capsys.disabled():
            print(f"\nscreenshot of the asset graph: {screenshot}")

    nodes, edges = drawn_graph(drawn)
    assert set(LINEAGE) <= nodes, sorted(nodes)
    for source, target in itertools.pairwise(LINEAGE):
        assert (source, target) in edges, (source, target, sorted(edges))
    # Only what lies on a path between the two is drawn: no other raw asset, nothing downstream.
    assert [name for group, name in nodes if group.startswith("raw_")] == ["contacts"]
    assert ("profile", "client_interactions") not in nodes


def test_the_marts_freshness_checks_are_listed_in_the_ui(request):
    """client_360's Checks tab lists its freshness check beside the dbt tests."""
    server = running_ui(request)
    with browser_page({"width": 1600, "height": 1000}, ARTIFACTS / "client_360-checks.png") as page:
        page.goto(f"{server.url}/assets/client_360?view=checks")
        page.get_by_text("freshness_check", exact=True).first.wait_for()
        page.get_by_text("unique_client_360_client_id", exact=True).first.wait_for()
