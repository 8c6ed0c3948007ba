"""The workers curve runs ``kafkarpc serve --workers 1`` and ``--workers 2`` end to end.

Tiny sizes: this checks that the curve measures what it says (both counts, every call
answered, both workers answering), not how fast; timings belong to the benchmark.
"""

from __future__ import annotations

import io
import json

import pytest
from benchmarks.curves.base import CurveContext
from benchmarks.curves.workers import CURVE
from benchmarks.kafka import BrokerInfo, TopicAdmin


@pytest.mark.timeout(90)
def test_the_workers_curve_measures_one_and_two_serving_processes(kafkarpc_broker: str) -> None:
    progress = io.StringIO()
    ctx = CurveContext(
        broker=BrokerInfo(kafkarpc_broker, None),
        admin=TopicAdmin(kafkarpc_broker),
        seed=1,
        quick=True,
        stream=progress,
    )
    data = json.loads(json.dumps(CURVE.measure(ctx)))  # what the JSON keeps

    assert [p["workers"] for p in data["points"]] == [1, 2]
    assert {r["workers"] for r in data["runs"]} == {1, 2}
    for run in data["runs"]:
        assert run["errors"] == 0, run["first_error"]
        assert run["requests"] > 0 and run["rps"] > 0
        assert run["exit_code"] == 0  # SIGTERM drained and stopped every process
        assert sum(run["answered_by"].values()) == run["requests"]
        # The answering pids are the served processes whose CPU was read.
        assert set(run["answered_by"]) <= {str(pid) for pid in run["worker_pids"]}
        assert run["cpu_us_per_request"]["workers"] is not None
        assert run["cpu_us_per_request"]["client"] is not None
        assert run["cpu_us_per_request"]["broker"] is None  # not this test's process to read
        assert run["handler_cpu_ms_p50"] > 0
    two = next(p for p in data["points"] if p["workers"] == 2)
    assert two["answering_workers"] == 2  # the group gave each worker partitions
    assert two["worker_overhead_us"] is not None
    assert data["speedup"] is not None and data["speedup_rounds"]
    (target,) = CURVE.targets(data)
    assert target.met is not None
    assert "--workers 2" in progress.getvalue()
    assert "speedup" in CURVE.format(data)
