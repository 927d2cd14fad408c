"""The registry of sources: every folder under ``cdp_platform/sources/`` with a ``declaration.py``,
and the sources declared in the YAML files of ``CDP_SOURCES_DIR``.

Every other list of sources (settings variables, schedules and their stagger, pacers, resources,
raw and cleansed assets) is derived from :func:`declarations`, so a source is added by adding its
folder (or its file) and nothing else. Sources are listed by their declared ``position`` (the
shipped ones keep the order settings, jobs and the definitions snapshot always had); any other
follows, by name.

The shipped sources are found once per process. The configured ones are part of the environment,
which only ``settings`` reads: :func:`cdp_platform.settings.load_settings` hands the folder to
:func:`configure`, so the sources a process knows are those of the settings it last loaded (a code
location loads them once; a run's worker process loads them again from the same environment).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from cdp_platform.sources.declaration import SourceDeclaration

if TYPE_CHECKING:
    from cdp_platform.sources.yaml_source import ConfiguredSource

_HERE = Path(__file__).parent
# The sources of CDP_SOURCES_DIR, by name, as the last loaded settings configured them.
_configured: dict[str, ConfiguredSource] = {}


def source_names() -> tuple[str, ...]:
    """Every source's name: the shipped ones by their declared ``position``, then by name; then
    the configured ones, by name."""
    return tuple(declarations())


def declarations() -> dict[str, SourceDeclaration]:
    """Every source's declaration, by name: the shipped ones, then the configured ones."""
    shipped = builtin_declarations()
    if not _configured:
        return shipped
    return {**shipped, **{name: source.declaration for name, source in sorted(_configured.items())}}


def configure(sources_dir: Path | None) -> tuple[ConfiguredSource, ...]:
    """Load the YAML sources of ``sources_dir`` (None: none) in place of the ones configured
    before; a wrong file raises :class:`~cdp_platform.sources.yaml_source.SourceFileError` and
    leaves the registry as it was."""
    if sources_dir is None:
        _configured.clear()
        return ()
    from cdp_platform.sources.yaml_source import load_sources_dir

    loaded = load_sources_dir(sources_dir, builtin=builtin_declarations())
    _configured.clear()
    _configured.update((source.name, source) for source in loaded)
    return loaded


def configured() -> dict[str, ConfiguredSource]:
    """The sources declared in YAML files, by name (none unless ``CDP_SOURCES_DIR`` is set)."""
    return dict(_configured)


@cache
def builtin_declarations() -> dict[str, SourceDeclaration]:
    """The shipped sources' declarations, by name; a folder whose ``SOURCE`` is misnamed fails here."""
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
