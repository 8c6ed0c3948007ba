"""The payload curve's targets, judged from its dict alone (as a committed JSON is)."""

from __future__ import annotations

from typing import Any

from benchmarks.curves.payload import (
    CURVE,
    judge_answered,
    judge_mb_per_s,
    judge_over_limit,
    requests_for,
)


def _entry(mb_per_s: float | None, errors: int = 0) -> dict[str, Any]:
    return {"mb_per_s": mb_per_s, "errors": errors, "failure": None}


def _data(*rows: tuple[int, float | None, float | None], errors: int = 0) -> dict[str, Any]:
    return {
        "systems": ["raw", "kafkarpc"],
        "sizes": [
            {
                "payload_bytes": size,
                "systems": {"raw": _entry(raw), "kafkarpc": _entry(ours, errors)},
            }
            for size, raw, ours in rows
        ],
        "over_limit": {
            "limit_bytes": 1_000_000,
            "cases": [
                {
                    "case": "twice the limit",
                    "payload_bytes": 2_000_000,
                    "raised": "PayloadTooLarge",
                    "elapsed_ms": 3.0,
                }
            ],
        },
    }


def test_met_when_kafkarpc_moves_at_least_0_8x_of_raw_at_every_size() -> None:
    target = judge_mb_per_s(_data((128, 1.0, 0.9), (65536, 100.0, 80.0)))
    assert target.met is True
    assert target.measured == "lowest 0.80x at 64 KB"


def test_not_met_when_one_size_falls_below() -> None:
    target = judge_mb_per_s(_data((128, 1.0, 1.2), (524288, 100.0, 79.0)))
    assert target.met is False
    assert "512 KB" in target.measured


def test_unjudged_when_a_system_is_missing_or_failed() -> None:
    assert judge_mb_per_s(_data((128, None, 1.0))).met is None
    assert judge_mb_per_s({}).met is None
    assert judge_answered({}).met is None
    assert judge_over_limit({}).met is None


def test_a_failed_call_at_any_size_fails_the_answered_target() -> None:
    assert judge_answered(_data((128, 1.0, 1.0))).met is True
    failed = judge_answered(_data((128, 1.0, 1.0), errors=2))
    assert failed.met is False
    assert "kafkarpc 128 B: 2 errors" in failed.measured


def test_the_over_limit_call_must_raise_payload_too_large_quickly() -> None:
    data = _data((128, 1.0, 1.0))
    assert judge_over_limit(data).met is True
    data["over_limit"]["cases"][0]["raised"] = "RequestTimeout"
    assert judge_over_limit(data).met is False
    data["over_limit"]["cases"][0].update(raised="PayloadTooLarge", elapsed_ms=15_000.0)
    assert judge_over_limit(data).met is False


def test_the_curve_has_three_targets_and_a_table() -> None:
    data = _data((128, 1.0, 0.9))
    data["sizes"][0]["systems"]["raw"].update(throughput_rps=10.0, p50_ms=1.0, p95_ms=2.0)
    data["sizes"][0]["systems"]["kafkarpc"].update(throughput_rps=9.0, p50_ms=1.0, p95_ms=2.0)
    assert [t.met for t in CURVE.targets(data)] == [True, True, True]
    assert "0.90x" in CURVE.format(data)


def test_request_counts_keep_a_byte_budget_within_bounds() -> None:
    assert requests_for(512 * 1024, quick=False) == 256
    assert requests_for(128, quick=False) == 4000
    assert requests_for(128, quick=True) == requests_for(512 * 1024, quick=True)
