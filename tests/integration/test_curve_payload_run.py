"""The payload curve runs end to end on the real broker (quick sizes; no timing asserted)."""

from __future__ import annotations

import io

import pytest
from benchmarks.curves.base import CurveContext
from benchmarks.curves.payload import CURVE, QUICK_SIZES
from benchmarks.kafka import BrokerInfo, TopicAdmin


@pytest.mark.timeout(120)
def test_payload_curve_measures_both_systems_at_every_size(kafkarpc_broker: str) -> None:
    progress = io.StringIO()
    ctx = CurveContext(
        broker=BrokerInfo(kafkarpc_broker, None),
        admin=TopicAdmin(kafkarpc_broker),
        seed=5,
        quick=True,
        stream=progress,
    )
    data = CURVE.measure(ctx)
    assert [row["payload_bytes"] for row in data["sizes"]] == list(QUICK_SIZES)
    for row in data["sizes"]:
        assert set(row["systems"]) == {"raw", "kafkarpc"}
        for entry in row["systems"].values():
            assert entry["failure"] is None
            assert entry["errors"] == 0 and entry["ok"] == entry["requests"] > 0
            assert entry["mb_per_s"] > 0 and entry["p95_ms"] >= entry["p50_ms"] > 0
    # Every over-limit call failed with the typed error (how fast is the benchmark's call).
    cases = data["over_limit"]["cases"]
    assert {case["raised"] for case in cases} == {"PayloadTooLarge"}
    assert all(case["payload_bytes"] > 0 for case in cases)
    assert data["over_limit"]["limit_bytes"] == 1_000_000
    # Whether the broker itself would store a record four times the producer's limit.
    broker = data["over_limit"]["broker_takes_larger"]
    assert broker["record_bytes"] == 4_000_000 and isinstance(broker["accepted"], bool)
    judged = CURVE.targets(data)
    assert [target.met is not None for target in judged] == [True, True, True]
    assert "kafkarpc" in CURVE.format(data)
    assert "kafkarpc 64 KB" in progress.getvalue()
