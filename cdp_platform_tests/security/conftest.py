"""Fixtures of the security tests: a throw-away CA and fresh process-wide client state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdp_platform_tests.security.support import TlsFiles, make_tls_files, process_state_reset


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(autouse=True)
def _fresh_process_wide_state() -> Iterator[None]:
    process_state_reset()
    yield
    process_state_reset()
