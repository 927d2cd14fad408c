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


def _naming_others(paths_by_home: dict[str, list[Path]], root: Path) -> list[str]:
    """``path:line`` of every line of a file naming a declared source other than its home's."""
    names = source_names()
    found = []
    for home, paths in paths_by_home.items():
        others = [name for name in names if name != home]
        pattern = re.compile("|".join(re.escape(name) for name in others), re.IGNORECASE)
        found += [
            f"{path.relative_to(root)}:{number}: {line.strip()}"
            for path in paths
            for number, line in enumerate(path.read_text().splitlines(), start=1)
            if pattern.search(line)
        ]
    return found


def test_no_module_outside_a_sources_folder_names_a_source():
    """The HELPERS check (``git grep -il <source> -- cdp_platform ':!cdp_platform/sources/<source>'
    ':!cdp_platform/sandbox'``) as a test: a source's folder names no other source either, so a CRM's
    contacts do not spell a network's handle field; the account's settings map it
    (``cdp_platform.cleansed.handles``)."""
    sources = PACKAGE / "sources"
    homes: dict[str, list[Path]] = {"": []}
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or path.suffix == ".pyc" or "sandbox" in path.relative_to(PACKAGE).parts[:1]:
            continue
        parts = path.relative_to(sources).parts if path.is_relative_to(sources) else ()
        home = parts[0] if len(parts) > 1 and parts[0] in source_names() else ""
        homes.setdefault(home, []).append(path)
    assert len(homes) >= 8 and any(p.name == "contacts.py" for p in homes["salesforce"])
    found = _naming_others(homes, PACKAGE.parent)
    assert found == [], "declare it in the source's folder, or make it the account's setting:\n" + "\n".join(
        found
    )


def test_no_staging_model_names_another_source():
    """A source's dbt staging models select what its own tables hold: the networks' handle columns
    a CRM's people carry come from the generated ``handle_columns()`` (``person_handles()``)."""
    staging = PACKAGE.parent / "dbt" / "models" / "staging"
    homes = {
        name: sorted((staging / name).glob("*.sql")) for name in source_names() if (staging / name).is_dir()
    }
    assert len(homes) >= 7 and homes["hubspot"]
    found = _naming_others(homes, PACKAGE.parent)
    assert found == [], "\n".join(found)
