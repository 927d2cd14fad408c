"""The registry of sources: every folder under ``cdp_platform/sources/`` with a ``declaration.py``.

Every other list of sources (settings variables, schedules and their stagger, pacers, resources,
raw and cleansed assets) is derived from :func:`declarations`, so a source is added by adding its
folder and nothing else. Sources are listed by their declared ``position`` (the shipped ones keep
the order settings, jobs and the definitions snapshot always had); any other follows, by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from cdp_platform.sources.declaration import SourceDeclaration

_HERE = Path(__file__).parent


def source_names() -> tuple[str, ...]:
    """The folders that declare a source, by their declared ``position``, then by name."""
    return tuple(declarations())


@cache
def declarations() -> dict[str, SourceDeclaration]:
    """Every source's declaration, by name; a folder whose ``SOURCE`` is misnamed fails here."""
    found = sorted(
        info.name
        for info in pkgutil.iter_modules([str(_HERE)])
        if info.ispkg and (_HERE / info.name / "declaration.py").is_file()
    )
    result: dict[str, SourceDeclaration] = {}
    for name in found:
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
    last = len(result)
    return dict(sorted(result.items(), key=lambda item: (item[1].position or last + 1, item[0])))


def declaration(name: str) -> SourceDeclaration:
    try:
        return declarations()[name]
    except KeyError:
        raise KeyError(f"no source {name!r}; known: {', '.join(declarations())}") from None
