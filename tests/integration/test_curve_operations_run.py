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
        assert set(level["systems"]) == {"raw", "kafkarpc"}
        for entry in level["systems"].values():
            assert entry["failure"] is None
            assert entry["errors"] == 0 and entry["ok"] == entry["requests"] > 0
            assert entry["throughput_rps"] > 0 and entry["p95_ms"] >= entry["p50_ms"] > 0
            # The server's memory once serving and at its peak, and its time to ready.
            assert 0 < entry["server_ready_rss_mb"] <= entry["server_peak_rss_mb"]
            assert entry["server_ready_s"] > 0
    assert data["partitions_per_topic"] == 1
    # One fresh client's first calls to every operation at once, each answered.
    first = data["first_calls"]
    assert first["operations"] == max(QUICK_OPERATIONS)
    assert first["answered"] == first["operations"] and first["errors"] == 0
    assert 0 < first["first_answered_s"] <= first["last_answered_s"]
    throughput, answered = CURVE.targets(data)
    assert throughput.met is None  # 200 operations are not part of the quick run
    assert answered.met is True
    assert "kafkarpc operations=5" in progress.getvalue()
