"""`kafkarpc bench` runs from a clone, compares all three systems and writes its outputs.

Tiny sizes: this checks the harness end to end, not performance (timings belong to
the benchmark itself, never to assertions).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_bench_compares_the_three_systems(kafkarpc_broker: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "kafkarpc", "bench",
            "--bootstrap", kafkarpc_broker,
            "--requests", "40", "--warmup", "5", "--loads", "1,8",
            "--systems", "raw,handrolled,kafkarpc",
            "--seed", "3", "--out", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=220, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "kafkarpc / raw" in result.stdout
    (report,) = tmp_path.glob("*.json")
    data = json.loads(report.read_text())
    systems = {(row["system"], row["load"]) for row in data["results"]}
    assert systems == {(s, load) for s in ("raw", "handrolled", "kafkarpc") for load in (1, 8)}
    assert all(row["errors"] == 0 for row in data["results"])
    assert list(tmp_path.glob("*.png")), "the plot was written"
