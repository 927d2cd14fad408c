"""Shared helpers for the http client tests: a real uvicorn port, a fake clock, a sleep recorder."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from cdp_platform.http.breaker import DEFAULT_BREAKERS
from cdp_platform.http.pacing import reset_pacers
from cdp_platform_tests.support.servers import serve_asgi


@pytest.fixture(autouse=True)
def _fresh_process_wide_state() -> Iterator[None]:
    """Breakers and pacers are process-wide by design; tests must not inherit each other's."""
    DEFAULT_BREAKERS.reset()
    reset_pacers()
    yield
    DEFAULT_BREAKERS.reset()
    reset_pacers()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app):
    """Run an ASGI app with uvicorn on a free local port in a thread; yield its base URL."""
    return serve_asgi(app)


class FakeClock:
    """A settable unix-seconds clock."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SleepRecorder:
    """An async sleep that records the requested durations and returns at once (optionally
    advancing a fake clock), so backoff tests check waits without spending them."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.calls: list[float] = []
        self.clock = clock

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
