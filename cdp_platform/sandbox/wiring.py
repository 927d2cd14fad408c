"""The one place the bundled sandbox is wired into the platform: the local default calls it.

Every vendor without a base URL (``CDP_<VENDOR>_BASE_URL`` unset, allowed only outside production)
is served by the sandbox in this process: the vendor resources get a :class:`InProcessSandbox`, which
knows where each source is mounted, the account identifiers it defines and the public credentials
it accepts. The graders come from here too: ``identity_map`` is graded on the sandbox's true
persons when every vendor is the in-process sandbox, and ``interaction_sentiment`` on the true
labels of the social vendors it serves.

:func:`cdp_platform.definitions.local_wiring` imports this module only when some vendor has no base
URL, so a production code location (every vendor has one) never loads ``cdp_platform.sandbox``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from cdp_platform.identity.grading import IDENTITY_TRUTH_KEY
from cdp_platform.predictive.grading import SENTIMENT_TRUTH_KEY
from cdp_platform.sandbox.identity_truth import SandboxIdentityTruth
from cdp_platform.sandbox.in_process import InProcessSandbox
from cdp_platform.sandbox.sentiment_labels import SandboxSentimentLabels, served_text_streams
from cdp_platform.settings import Settings


@dataclass(frozen=True)
class SandboxWiring:
    """What the local default takes from the sandbox: the in-process server of the vendors without
    a base URL, and the grading resources (by resource key) that replace the "no truth" defaults."""

    server: InProcessSandbox
    resources: dict[str, dg.ConfigurableResource] = field(default_factory=dict)


def sandbox_server(settings: Settings) -> InProcessSandbox:
    """The sandbox the settings describe (``CDP_SANDBOX_*``)."""
    sandbox = settings.sandbox
    return InProcessSandbox(
        persons=sandbox.persons,
        seed=sandbox.seed,
        faults=sandbox.faults,
        today=sandbox.today.isoformat() if sandbox.today else None,
        span_days=sandbox.span_days,
        time_scale=sandbox.time_scale,
    )


def sandbox_wiring(settings: Settings) -> SandboxWiring:
    """The server and the graders for ``settings``."""
    server = sandbox_server(settings)
    served = [name for name, vendor in settings.vendors.items() if vendor.uses_sandbox]
    resources: dict[str, dg.ConfigurableResource] = {}
    if len(served) == len(settings.vendors):
        # Every candidate comes from the sandbox in process: its true persons grade the map.
        resources[IDENTITY_TRUTH_KEY] = SandboxIdentityTruth(server=server)
    streams = served_text_streams(served)
    if streams:
        resources[SENTIMENT_TRUTH_KEY] = SandboxSentimentLabels(server=server, streams=streams)
    return SandboxWiring(server=server, resources=resources)
