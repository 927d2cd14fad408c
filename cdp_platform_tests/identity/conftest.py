"""Shared inputs for the identity tests: a small sandbox population turned into identity records."""

from __future__ import annotations

import pytest

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.identity_candidates import SandboxCandidates, sandbox_candidates
from cdp_platform.sandbox.records import SandboxData

SMALL = SandboxConfig(persons=300, seed=7)


@pytest.fixture(scope="session")
def small_candidates() -> SandboxCandidates:
    return sandbox_candidates(SandboxData(SMALL))
