"""The workers curve's target, judged from its JSON alone (so a committed run can be re-judged)."""

from __future__ import annotations

from typing import Any

from benchmarks.curves.workers import CURVE


def _point(workers: int, rps: float) -> dict[str, Any]:
    return {"workers": workers, "rps": rps}


def _data(one: float, two: float, rounds: list[float]) -> dict[str, Any]:
    return {
        "cores": 2,
        "points": [_point(1, one), _point(2, two)],
        "speedup": round(two / one, 3),
        "speedup_rounds": rounds,
    }


def test_two_workers_at_1_6x_or_more_meet_the_target() -> None:
    (target,) = CURVE.targets(_data(100.0, 170.0, [1.65, 1.7, 1.75]))
    assert target.met is True
    assert target.measured.startswith("1.70x (170 vs 100 req/s; rounds 1.65, 1.70, 1.75")
    assert "1.6x" in target.goal


def test_the_target_is_judged_on_the_median_speedup_not_the_best_round() -> None:
    (target,) = CURVE.targets(_data(100.0, 150.0, [1.45, 1.5, 1.9]))
    assert target.met is False
    assert target.measured.startswith("1.50x")


def test_a_run_without_both_worker_counts_is_not_measured() -> None:
    only_one = {"cores": 2, "points": [_point(1, 100.0)], "speedup": None, "speedup_rounds": []}
    for data in ({}, only_one):
        (target,) = CURVE.targets(data)
        assert target.met is None
        assert target.measured == "not measured"


def test_the_json_shape_is_what_targets_read_after_a_round_trip() -> None:
    import json

    data = json.loads(json.dumps(_data(200.0, 380.0, [1.9])))
    (target,) = CURVE.targets(data)
    assert target.met is True and target.to_json()["met"] is True


def test_the_cpu_ceiling_is_what_the_cores_allow_two_workers_next_to_client_and_broker() -> None:
    from benchmarks.curves.workers import cpu_ceiling

    def cpu(workers: float, total: float) -> dict[str, float]:
        return {"workers": workers, "total": total}

    points = [
        {"workers": 1, "cpu_us_per_request": cpu(10_000, 10_800)},
        {"workers": 2, "cpu_us_per_request": cpu(10_250, 11_000)},
    ]
    # One worker: its core alone, 100 req/s. Two: 2 cores / 11 ms beats 2 workers / 10.25 ms.
    assert cpu_ceiling(points, cores=2) == {
        "one_worker_rps": 100.0,
        "two_workers_rps": 181.8,
        "speedup": 1.818,
    }
    # With cores to spare, the two workers' own CPU binds.
    assert cpu_ceiling(points, cores=8)["speedup"] == 1.951  # type: ignore[index]
    assert cpu_ceiling(points[:1], cores=2) is None
