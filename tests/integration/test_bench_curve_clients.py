"""The clients curve runs end to end on the real broker (tiny sizes: shape, not speed)."""

from __future__ import annotations

import io

import pytest
from benchmarks.curves.base import CurveContext
from benchmarks.curves.clients import CURVE
from benchmarks.kafka import BrokerInfo, TopicAdmin


@pytest.mark.timeout(90)
def test_the_clients_curve_runs_every_configuration_and_every_call_succeeds(
    kafkarpc_broker: str,
) -> None:
    progress = io.StringIO()
    ctx = CurveContext(
        BrokerInfo(kafkarpc_broker, None), TopicAdmin(kafkarpc_broker), 5, True, progress
    )
    data = CURVE.measure(ctx)

    assert set(data["levels"]) == {"default", "pinned", "auto"}
    assert data["recommended"] in data["levels"]
    assert data["settings"]["reply_partitions"] >= 16
    for config, levels in data["levels"].items():
        assert [level["clients"] for level in levels] == [1, 2], config
        for level in levels:
            assert "failure" not in level, level
            calls = data["settings"]["calls_per_client"] * level["clients"]
            assert (level["calls"], level["errors"]) == (calls, 0), config
            assert level["responder_handled"] >= calls
            assert len(level["per_client"]) == level["clients"]
            # Read from /proc for every client.
            assert level["client_cpu_us_per_call"]["median"] > 0
            assert level["client_work_cpu_us_per_call"]["median"] is not None
            assert level["work_cpu_ratio_to_one_client"] is not None
            assert level["broker_cpu_us_per_call"] is None  # not the harness's broker
    # Two clients by default read each other's replies; pinned to their own partitions
    # they never see one.
    default_two, pinned_two = data["levels"]["default"][1], data["levels"]["pinned"][1]
    assert default_two["foreign_replies_per_call"]["max"] > 0
    assert pinned_two["foreign_replies_per_call"]["max"] == 0
    # What reading the other's replies cost, default against pinned at equal load.
    assert [row["clients"] for row in data["reading_cost"]] == [1, 2]
    assert data["reading_cost"][1]["foreign_replies_per_call_default"] > 0
    (target,) = CURVE.targets(data)
    assert target.met is None  # 16 clients are not part of a quick run
    assert "2 clients" in progress.getvalue()
    assert "recommended" in CURVE.format(data)
