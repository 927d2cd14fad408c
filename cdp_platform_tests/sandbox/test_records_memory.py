"""A million persons fit in the memory budget: the index is compact and records are made on demand."""

from __future__ import annotations

import json
import subprocess
import sys

# Build in a fresh interpreter so the peak RSS measured is the sandbox's alone, not the test session's.
# The peak is VmHWM, the high-water mark of this process's own memory: ru_maxrss would not do, since
# Linux carries it across exec from the forking parent (the test session, hundreds of MB by then).
_PROBE = """
import json
from cdp_platform.sandbox.config import STREAMS, SandboxConfig
from cdp_platform.sandbox.records import SandboxData
data = SandboxData(SandboxConfig(persons=1_000_000))
last = {s: data.record(s, data.count(s) - 1) for s in STREAMS}
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"peak_mb": int(status["VmHWM"].split()[0]) / 1024,
                  "records": sum(data.count(s) for s in STREAMS), "streams": len(last)}))
"""


def test_a_million_persons_stay_well_under_500_mb() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=240
    )
    result = json.loads(completed.stdout)
    assert result["streams"] == 14
    assert result["records"] > 3_000_000
    assert result["peak_mb"] < 450
