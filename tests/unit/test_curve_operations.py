"""The operations curve's targets, judged from its dict alone, and its topic set."""

from __future__ import annotations

import pickle
from typing import Any

from benchmarks.curves.operations import CURVE, judge_answered, judge_throughput
from benchmarks.kafka import OperationTopics
from benchmarks.systems.kafkarpc_system import echo_trios


def _data(
    *levels: tuple[int, float | None], errors: int = 0, raw: dict[int, float] | None = None
) -> dict[str, Any]:
    def entry(rps: float | None, errors: int) -> dict[str, Any]:
        return {"throughput_rps": rps, "errors": errors, "failure": None}

    return {
        "load": 64,
        "levels": [
            {
                "operations": n,
                "systems": {
                    "kafkarpc": entry(rps, errors),
                    **({"raw": entry(raw[n], 0)} if raw and n in raw else {}),
                },
            }
            for n, rps in levels
        ],
    }


def test_met_when_200_operations_keep_0_8x_of_the_throughput_of_one() -> None:
    target = judge_throughput(_data((1, 1000.0), (10, 900.0), (200, 800.0)))
    assert target.met is True
    assert target.measured.startswith("0.80x")


def test_the_raw_loop_over_the_same_operations_is_shown_next_to_it() -> None:
    target = judge_throughput(_data((1, 1000.0), (200, 100.0), raw={1: 2000.0, 200: 300.0}))
    assert target.met is False
    assert target.measured == "0.10x (100 vs 1000 req/s); the raw loop 0.15x"


def test_not_met_when_throughput_falls_further() -> None:
    assert judge_throughput(_data((1, 1000.0), (200, 400.0))).met is False
    # A level that produced no throughput at all is a failure, not a gap.
    assert judge_throughput(_data((1, 1000.0), (200, None))).met is False


def test_unjudged_without_both_ends() -> None:
    assert judge_throughput(_data((1, 1000.0), (5, 900.0))).met is None
    assert judge_throughput({}).met is None
    assert judge_answered({}).met is None


def test_errors_at_any_count_fail_the_answered_target() -> None:
    assert judge_answered(_data((1, 1000.0), (200, 900.0))).met is True
    assert judge_answered(_data((1, 1000.0), errors=3)).met is False
    assert [t.met for t in CURVE.targets(_data((1, 1.0), (200, 1.0)))] == [True, True]


def test_a_failed_first_call_fails_the_answered_target() -> None:
    data = _data((1, 1000.0))
    data["first_calls"] = {"operations": 200, "errors": 4}
    target = judge_answered(data)
    assert target.met is False
    assert target.measured == "first calls to 200 at once: 4 errors"


def test_operation_topics_name_every_trio_and_survive_pickling() -> None:
    topics = OperationTopics("bench.ops", 1, 3)
    assert len(topics.names) == 9
    assert topics.names[:3] == (
        "bench.ops.op000.requested.v1",
        "bench.ops.op000.completed.v1",
        "bench.ops.op000.failed.v1",
    )
    assert [trio.requested for trio in echo_trios(topics)][-1] == "bench.ops.op002.requested.v1"
    # Sent to the spawned client and server processes.
    assert pickle.loads(pickle.dumps(topics)) == topics
