"""The registry of sources: every folder under ``cdp_platform/sources/`` with a ``declaration.py``.

Every other list of sources (settings variables, schedules and their stagger, pacers, resources,
raw and cleansed assets) is derived from :func:`declarations`, so a source is added by adding its
folder and nothing else. The six shipped sources keep the order they always had (settings, jobs
and the definitions snapshot list them in it); any other folder follows, by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from cdp_platform.sources.declaration import SourceDeclaration

# The order the shipped sources were always listed in; a new source needs no entry here.
FIRST = ("salesforce", "hubspot", "google_analytics", "facebook", "instagram", "twitter")

_HERE = Path(__file__).parent


def source_names() -> tuple[str, ...]:
    """The folders that declare a source, shipped ones first."""
    found = sorted(
        info.name
        for info in pkgutil.iter_modules([str(_HERE)])
        if info.ispkg and (_HERE / info.name / "declaration.py").is_file()
    )
    return tuple(n for n in FIRST if n in found) + tuple(n for n in found if n not in FIRST)


@cache
def declarations() -> dict[str, SourceDeclaration]:
    """Every source's declaration, by name; a folder whose ``SOURCE`` is misnamed fails here."""
    result: dict[str, SourceDeclaration] = {}
    for name in source_names():
        module = importlib.import_module(f"cdp_platform.sources.{name}.declaration")
        declaration = getattr(module, "SOURCE", None)
        if not isinstance(declaration, SourceDeclaration):
            raise TypeError(
                f"cdp_platform/sources/{name}/declaration.py: define SOURCE = SourceDeclaration(...)"
            )
        if declaration.name != name:
            raise ValueError(
                f"cdp_platform/sources/{name}/declaration.py declares {declaration.name!r}: "
                f"name the source after its folder ({name!r})"
            )
        result[name] = declaration
    return result


def declaration(name: str) -> SourceDeclaration:
    try:
        return declarations()[name]
    except KeyError:
        raise KeyError(f"no source {name!r}; known: {', '.join(declarations())}") from None
