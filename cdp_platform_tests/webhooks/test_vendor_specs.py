"""The webhook declarations are collected from the sources' folders, each named after its folder."""

from __future__ import annotations

from pathlib import Path

import cdp_platform.sources as sources_package
from cdp_platform.webhooks.vendor_specs import WEBHOOK_SPECS


def test_each_source_folder_with_a_webhook_declares_its_own_route():
    folders = {p.parent.name for p in Path(sources_package.__file__).parent.glob("*/webhook.py")}
    assert folders == {"hubspot", "facebook", "instagram", "twitter"} | ({"stripe"} & folders)
    assert set(WEBHOOK_SPECS) == folders | {"stripe"}
    for route, spec in WEBHOOK_SPECS.items():
        assert spec.route == route == spec.source
        assert spec.secret_var.startswith(f"CDP_{route.upper()}_")
        if spec.handshake is not None:
            assert spec.handshake_var and spec.handshake_var.startswith(f"CDP_{route.upper()}_")
