"""The sandbox on a real loopback port, in a subprocess, for the ingestion benchmarks.

The ingestion benchmarks measure the client side, so the server runs in its own process: it does
not compete with the measured client for the GIL (on a two-core machine both still share the CPU).
``cdp-sandbox serve`` has no flags for quota sizes, so this module is also a tiny server entry point
that builds the app with a :class:`RateLimitSettings` given as JSON:

    .venv/bin/python benchmarks/ingestion_sandbox.py --port 8600 --persons 2000 --time-scale 100 \
        --limits '{"twitter_mentions_per_15_minutes": 180}' [--no-rate-limits] [--faults storm]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Served:
    """A running sandbox: its root URL and server process id (for its RSS)."""

    root: str
    pid: int

    def stats(self) -> dict:
        return httpx.get(f"{self.root}/_sandbox/stats", timeout=10).json()


@contextlib.contextmanager
def serve(
    *,
    persons: int,
    seed: int = 7,
    time_scale: float = 1.0,
    limits: dict[str, int] | None = None,
    rate_limits: bool = True,
    faults: str = "none",
    ready_timeout: float = 600.0,
) -> Iterator[Served]:
    """Serve a sandbox on a free port until the block ends; wait until it answers first."""
    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--port",
        str(port),
        "--persons",
        str(persons),
        "--seed",
        str(seed),
        "--time-scale",
        str(time_scale),
        "--limits",
        json.dumps(limits or {}),
        "--faults",
        faults,
    ]
    if not rate_limits:
        command.append("--no-rate-limits")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"sandbox server exited with code {server.returncode} before serving")
            try:
                httpx.get(f"{root}/_sandbox/stats", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"sandbox did not answer within {ready_timeout} s") from None
                time.sleep(0.1)
        yield Served(root, server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    import logging

    import uvicorn

    from cdp_platform.sandbox.app import create_app
    from cdp_platform.sandbox.cli import _HideInjectedCuts
    from cdp_platform.sandbox.config import SandboxConfig
    from cdp_platform.sandbox.ratelimit import RateLimitSettings

    options = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_argument("--port", type=int, required=True)
    options.add_argument("--persons", type=int, default=2000)
    options.add_argument("--seed", type=int, default=7)
    options.add_argument("--time-scale", type=float, default=1.0)
    options.add_argument("--limits", default="{}", help="RateLimitSettings fields as JSON")
    options.add_argument("--no-rate-limits", action="store_true")
    options.add_argument("--faults", default="none")
    args = options.parse_args()
    settings = RateLimitSettings(**json.loads(args.limits))
    app = create_app(
        SandboxConfig(persons=args.persons, seed=args.seed),
        faults=args.faults,
        rate_limits=False if args.no_rate_limits else settings,
        time_scale=args.time_scale,
    )
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedCuts())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
