"""Reaching the machine's real services from tests: skip on a laptop without them, fail in CI."""

from __future__ import annotations

import os
import socket

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when CI is set) unless a TCP server answers at host:port."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc.strerror or exc})"
        if in_ci():
            pytest.fail(f"{message}; CI must provide it", pytrace=False)
        pytest.skip(f"{message}; start it to run this test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
