"""`python -m benchmarks.hotpath` runs both sides from a clone and reports CPU per request.

Tiny sizes: this checks that the harness drives every request through the real
client and responder, not how fast they are (timings belong to the benchmark).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_hotpath_measures_client_and_responder() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.hotpath", "--requests", "300", "--reps", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "300 requests x 2 rounds, 256 in flight"
    sides = {line.split(":")[0].strip(): line for line in lines[1:]}
    assert set(sides) == {"client", "responder"}
    for line in sides.values():
        best = float(line.split(":")[1].split()[0])
        assert best > 0


def test_hotpath_rejects_nonsense_sizes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.hotpath", "--requests", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--requests" in result.stderr
