"""``cdp-sandbox``: argument parsing, ``truth`` writing files, ``serve`` answering on a real port."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from cdp_platform.sandbox.cli import main, parser
from cdp_platform_tests.sandbox.conftest import HUBSPOT
from cdp_platform_tests.support.services import free_port


def test_serve_flags():
    args = parser().parse_args(
        [
            "serve",
            "--port",
            "8600",
            "--persons",
            "100000",
            "--seed",
            "3",
            "--faults",
            "storm",
            "--time-scale",
            "50",
            "--no-rate-limits",
        ]
    )
    assert (args.port, args.persons, args.seed, args.faults, args.time_scale, args.no_rate_limits) == (
        8600,
        100000,
        3,
        "storm",
        50.0,
        True,
    )
    assert args.host == "127.0.0.1"
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--faults", "hurricane"])


def test_serve_and_truth_build_the_same_world_from_span_days():
    """``--span-days`` reaches the SandboxConfig of both commands, so the truth matches what is served."""
    from cdp_platform.sandbox.cli import _config

    configs = [
        _config(
            parser().parse_args([*command, "--persons", "50", "--span-days", "14", "--today", "2026-11-26"])
        )
        for command in (["serve", "--faults", "tempest"], ["truth", "--out", "x"])
    ]
    assert configs[0] == configs[1] and configs[0].span_days == 14


def test_truth_writes_the_ground_truth(tmp_path, capsys):
    assert main(["truth", "--out", str(tmp_path / "truth"), "--persons", "50", "--seed", "3"]) == 0
    written = {p.name for p in (tmp_path / "truth").iterdir()}
    assert {"records.parquet", "persons.parquet"} <= written
    assert json.loads(capsys.readouterr().out)


def test_invalid_config_is_a_clean_error(tmp_path, capsys):
    assert main(["truth", "--out", str(tmp_path), "--persons", "0"]) == 2
    assert "persons must be at least 1" in capsys.readouterr().err


def test_serve_answers_on_a_port():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdp_platform.sandbox.cli",
            "serve",
            "--port",
            str(port),
            "--persons",
            "300",
            "--seed",
            "5",
            "--faults",
            "storm",
            "--slow-seconds",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = json.loads(process.stdout.readline())
        assert banner["serving"] == f"http://127.0.0.1:{port}" and set(banner["faults"].values()) == {"storm"}
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                try:
                    client.get("/_sandbox/stats")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "server did not come up"
                    time.sleep(0.05)
            statuses = []
            for i in range(60):
                try:
                    statuses.append(
                        client.get(
                            "/hubspot/crm/v3/objects/contacts", params={"n": str(i)}, headers=HUBSPOT
                        ).status_code
                    )
                except httpx.TransportError:
                    statuses.append("cut")
            stats = client.get("/_sandbox/stats").json()
        assert 200 in statuses and set(statuses) - {200}, "a storm has both answers and faults"
        assert stats["requests"]["hubspot"]["data"] == 60
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "Traceback" not in process.stderr.read(), "injected cuts are not logged as errors"


def test_faults_for_one_vendor():
    from cdp_platform.sandbox.cli import fault_spec

    args = parser().parse_args(
        ["serve", "--faults", "storm", "--faults-for", "salesforce=none", "--slow-seconds", "2"]
    )
    profiles = fault_spec(args)
    assert profiles["salesforce"].name == "none" and profiles["hubspot"].name == "storm"
    assert {p.slow_seconds for p in profiles.values()} == {2.0}
    with pytest.raises(ValueError):
        fault_spec(parser().parse_args(["serve", "--faults-for", "myspace=storm"]))
