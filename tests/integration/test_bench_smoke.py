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
            # Two interleaved rounds at 8 in flight; the curves have tests of their own.
            "--rounds", "2", "--rounds-load", "8", "--curves", "", "--quick",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=220, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "kafkarpc / raw" in result.stdout
    (report,) = tmp_path.glob("*.json")
    data = json.loads(report.read_text())
    runs = sorted((row["system"], row["load"], row["round"]) for row in data["results"])
    assert runs == sorted(
        [(s, 1, 1) for s in ("raw", "handrolled", "kafkarpc")]
        + [(s, 8, n) for s in ("raw", "handrolled", "kafkarpc") for n in (1, 2)]
    )
    assert all(row["errors"] == 0 for row in data["results"])
    # CPU per request of each process: read for the client and the responder (at these
    # sizes a process may spend less than one 10 ms clock tick, so zero is a reading);
    # the broker given by --bootstrap is not the harness's own process: unknown.
    for row in data["results"]:
        assert row["cpu"]["client_us"] is not None and row["cpu"]["client_us"] >= 0
        assert row["cpu"]["responder_us"] is not None and row["cpu"]["responder_us"] >= 0
        assert row["cpu"]["broker_us"] is None
    assert "cpu µs/request" in result.stdout
    # A streaming and a scatter-gather figure next to the single call.
    conversations = data["conversations"]
    assert conversations["single_call"]["calls_per_s"] > 0
    assert conversations["gather"]["groups"] == 3 and conversations["gather"]["p50_ms"] > 0
    assert conversations["stream"]["items_per_s"] > 0
    assert "gather, 3 groups" in result.stdout
    assert list(tmp_path.glob("*.png")), "the plot was written"
    # It ends with the targets table, the same verdicts as the JSON's.
    names = [target["name"] for target in data["targets"]]
    assert "latency: p95 at 1 in flight" in names
    assert "throughput at 8 in flight vs raw (median of 2 rounds)" in names
    assert all(target["met"] in (True, False, None) for target in data["targets"])
    met = sum(target["met"] is True for target in data["targets"])
    assert f"{met} of {len(names)} targets met" in result.stdout.splitlines()
    assert data["meta"]["rounds"] == 2 and data["meta"]["commit"]
    # The library's own CPU per request (no broker) sits beside the CPU targets.
    assert data["library_cpu"]["client_us"] > 0 and data["library_cpu"]["responder_us"] > 0
    assert "kafkarpc's own CPU per request, no broker" in result.stdout


@pytest.mark.timeout(120)
def test_soak_samples_client_memory_as_requests_go_by(kafkarpc_broker: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.soak",
            "--bootstrap", kafkarpc_broker,
            "--requests", "300", "--warmup", "20", "--every", "100", "--load", "8",
            "--partitions", "2", "--out", str(tmp_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (report,) = tmp_path.glob("soak-*.json")
    data = json.loads(report.read_text())
    assert [s["requests"] for s in data["samples"]] == [0, 100, 200, 300]
    assert all(s["rss_mb"] > 0 for s in data["samples"])
    assert "growth" in result.stdout
