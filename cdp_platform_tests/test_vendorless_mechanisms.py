"""Issue 16: one home per source. The mechanisms (the HTTP client, pacers, error classification,
webhook receiving, the Graph API protocol shared by two sources, automation) name no vendor: what
is a vendor's is declared in its folder and reaches them through the registry."""

from __future__ import annotations

import re
from pathlib import Path

from cdp_platform.sources.registry import source_names

PACKAGE = Path(__file__).resolve().parents[1] / "cdp_platform"
MECHANISMS = (
    *sorted((PACKAGE / "http").glob("*.py")),
    *sorted((PACKAGE / "webhooks").glob("*.py")),
    *sorted((PACKAGE / "automation").glob("*.py")),
    *sorted((PACKAGE / "sources").glob("graph*.py")),
)


def test_no_mechanism_names_a_declared_source():
    names = source_names()
    assert len(names) >= 7 and MECHANISMS
    pattern = re.compile("|".join(re.escape(name) for name in names), re.IGNORECASE)
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in MECHANISMS
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == [], "declare it in the source's folder instead:\n" + "\n".join(found)
