"""Every vendor's webhook declaration, collected from the sources' folders.

A source that receives webhooks has ``cdp_platform/sources/<source>/webhook.py`` defining
``WEBHOOK = WebhookSpec(source=<folder name>, ...)``; nothing else needs an edit. Its route is
``/webhooks/<source>``. The registry's order (:func:`cdp_platform.sources.registry.source_names`)
is the order of the routes.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from cdp_platform.sources.registry import source_names
from cdp_platform.webhooks.spec import WebhookSpec

_SOURCES = Path(__file__).resolve().parents[1] / "sources"


def _declared() -> dict[str, WebhookSpec]:
    specs: dict[str, WebhookSpec] = {}
    for name in source_names():
        if not (_SOURCES / name / "webhook.py").is_file():
            continue
        spec = getattr(importlib.import_module(f"cdp_platform.sources.{name}.webhook"), "WEBHOOK", None)
        if not isinstance(spec, WebhookSpec):
            raise TypeError(f"cdp_platform/sources/{name}/webhook.py: define WEBHOOK = WebhookSpec(...)")
        if spec.source != name or spec.route != name:
            raise ValueError(
                f"cdp_platform/sources/{name}/webhook.py declares source {spec.source!r}, route "
                f"{spec.route!r}: name both after the folder ({name!r})"
            )
        specs[name] = spec
    return specs


WEBHOOK_SPECS: dict[str, WebhookSpec] = _declared()
