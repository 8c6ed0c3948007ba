"""The operations curve runs end to end on the real broker (quick sizes; no timing asserted)."""

from __future__ import annotations

import io

import pytest
from benchmarks.curves.base import CurveContext
from benchmarks.curves.operations import CURVE, QUICK_OPERATIONS
from benchmarks.kafka import BrokerInfo, TopicAdmin


@pytest.mark.timeout(120)
def test_operations_curve_serves_every_operation_from_one_server(kafkarpc_broker: str) -> None:
    progress = io.StringIO()
    ctx = CurveContext(
        broker=BrokerInfo(kafkarpc_broker, None),
        admin=TopicAdmin(kafkarpc_broker),
        seed=5,
        quick=True,
        stream=progress,
    )
    data = CURVE.measure(ctx)
    levels = data["levels"]
    assert [level["operations"] for level in levels] == list(QUICK_OPERATIONS)
    for level in levels:
        assert level["failure"] is None
        assert level["errors"] == 0 and level["ok"] == level["requests"] > 0
        assert level["throughput_rps"] > 0 and level["p95_ms"] >= level["p50_ms"] > 0
        # The server's memory once serving and at its peak, and its time to ready.
        assert 0 < level["server_ready_rss_mb"] <= level["server_peak_rss_mb"]
        assert level["server_ready_s"] > 0
    assert data["partitions_per_topic"] == 1
    throughput, answered = CURVE.targets(data)
    assert throughput.met is None  # 200 operations are not part of the quick run
    assert answered.met is True
    assert "operations=5" in progress.getvalue()
