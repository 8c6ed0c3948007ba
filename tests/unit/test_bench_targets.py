"""The benchmark's targets table: judged from the results alone, medians over rounds."""

from __future__ import annotations

import io
from typing import Any

from benchmarks.curves.base import Curve, CurveContext, Target
from benchmarks.curves.runner import curve_targets, format_curves, run_curves
from benchmarks.kafka import BrokerInfo, TopicAdmin
from benchmarks.stats import CpuPerRequest, LevelResult
from benchmarks.targets import format_targets, judge_levels


def _level(
    system: str,
    load: int,
    *,
    rps: float,
    p95: float = 10.0,
    cpu: tuple[float, float, float] = (50.0, 60.0, 90.0),
    round_no: int = 1,
) -> LevelResult:
    return LevelResult(
        system=system, load=load, requests=100, ok=100, errors=0, p50_ms=5.0, p95_ms=p95,
        p99_ms=p95, mean_ms=5.0, max_ms=p95, throughput_rps=rps, client_rss_mb=30.0,
        client_base_rss_mb=27.0, responder_rss_mb=30.0, responder_handled=100, wall_s=1.0,
        cpu=CpuPerRequest(*cpu), round=round_no,
    )  # fmt: skip


def _by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name.split(" (")[0]: t for t in targets}


def test_throughput_is_judged_by_the_median_of_the_rounds() -> None:
    # kafkarpc's rounds: 900, 1,100, 5,000 -> median 1,100; raw's: 1,000 each.
    results = [
        _level("kafkarpc", 256, rps=rps, round_no=n) for n, rps in enumerate((900, 1100, 5000), 1)
    ] + [_level("raw", 256, rps=1000, round_no=n) for n in (1, 2, 3)]
    targets = _by_name(judge_levels(results))
    versus_raw = targets["throughput at 256 in flight vs raw"]
    assert versus_raw.met is True
    assert "1.10x" in versus_raw.measured
    # A baseline that was not run is "not measured", never "met".
    assert targets["throughput at 256 in flight vs hand-rolled"].met is None


def test_latency_cpu_broker_and_collapse_targets() -> None:
    results = [
        _level("raw", 1, rps=100, p95=10.0),
        _level("kafkarpc", 1, rps=100, p95=12.0),  # 1.2x: over 1.15x
        _level("raw", 256, rps=1000, cpu=(50.0, 60.0, 140.0)),
        _level("handrolled", 256, rps=600, cpu=(120.0, 60.0, 95.0)),
        _level("kafkarpc", 256, rps=950, cpu=(55.0, 80.0, 90.0)),
        _level("kafkarpc", 1024, rps=960),
    ]
    targets = _by_name(judge_levels(results))
    assert targets["latency: p95 at 1 in flight"].met is False
    assert targets["client CPU per request at 256"].met is True  # 1.1x
    assert targets["responder CPU per request at 256"].met is False  # 1.33x
    assert targets["broker CPU per request at 256"].met is True  # 90 <= 95
    assert targets["no collapse: req/s at 1024 vs 256 in flight"].met is True
    assert targets["throughput at 256 in flight vs hand-rolled"].met is True  # 1.58x
    table = format_targets(list(targets.values()))
    assert "NOT MET" in table and "4 of 7 targets met" in table.splitlines()[-1]


def test_a_failed_level_counts_as_not_measured() -> None:
    failed = LevelResult(
        system="kafkarpc", load=1, requests=10, ok=0, errors=10, p50_ms=None, p95_ms=None,
        p99_ms=None, mean_ms=None, max_ms=None, throughput_rps=None, client_rss_mb=None,
        client_base_rss_mb=None, responder_rss_mb=None, responder_handled=None, wall_s=1.0,
        failure="crashed",
    )  # fmt: skip
    targets = _by_name(judge_levels([failed, _level("raw", 1, rps=100)]))
    assert targets["latency: p95 at 1 in flight"].met is None


def _fake_curve(monkeypatch: Any, measure: Any) -> None:
    curve = Curve(
        name="payload",
        title="payload size",
        measure=measure,
        format=lambda data: f"points: {data['points']}",
        targets=lambda data: [Target("payload flat", ">= 0.8x", str(data["points"]), True)],
        plot=lambda ax, data: None,
    )
    monkeypatch.setattr("benchmarks.curves.runner.load_curve", lambda name: curve)


def _context() -> CurveContext:
    info = BrokerInfo("127.0.0.1:1", None)
    return CurveContext(info, TopicAdmin(info.bootstrap), 1, True, io.StringIO())


def test_a_curve_that_crashes_is_reported_and_fails_its_target(monkeypatch: Any) -> None:
    def crash(ctx: CurveContext) -> dict[str, Any]:
        raise RuntimeError("broker went away")

    _fake_curve(monkeypatch, crash)
    ctx = _context()
    measured = run_curves(["payload"], ctx)
    assert "broker went away" in measured["payload"]["failure"]
    (target,) = curve_targets(measured)
    assert target.met is False and "broker went away" in target.measured
    assert "failed: RuntimeError: broker went away" in format_curves(measured)
    assert "FAILED" in ctx.stream.getvalue()  # type: ignore[attr-defined]


def test_a_measured_curve_is_printed_and_judged_by_its_own_targets(monkeypatch: Any) -> None:
    _fake_curve(monkeypatch, lambda ctx: {"points": 3})
    measured = run_curves(["payload"], _context())
    assert measured == {"payload": {"points": 3}}
    assert curve_targets(measured) == [Target("payload flat", ">= 0.8x", "3", True)]
    assert format_curves(measured) == "payload size\npoints: 3"


def test_cpu_targets_show_the_floor_the_librarys_own_python_sets() -> None:
    results = [
        _level("raw", 256, rps=1000, cpu=(50.0, 60.0, 140.0)),
        _level("kafkarpc", 256, rps=950, cpu=(70.0, 90.0, 90.0)),
    ]
    own = {"client_us": 25.0, "responder_us": 42.0}
    targets = _by_name(judge_levels(results, library_cpu=own))
    client = targets["client CPU per request at 256"]
    assert client.met is False
    assert client.measured.endswith("kafkarpc's own Python alone 25.0 us (floor ~1.50x)")
    assert "(floor ~1.70x)" in targets["responder CPU per request at 256"].measured


def test_throughput_against_raw_shows_the_ceiling_shared_cpu_allows() -> None:
    # raw spends 50 + 60 + 140 = 250 us per request over its three processes; kafkarpc
    # needs that plus its own 25 + 42 = 67 us, so at most 250 / 317 = 0.79x raw.
    results = [
        _level("raw", 256, rps=1000, cpu=(50.0, 60.0, 140.0)),
        _level("kafkarpc", 256, rps=700, cpu=(70.0, 90.0, 90.0)),
    ]
    own = {"client_us": 25.0, "responder_us": 42.0}
    versus_raw = _by_name(judge_levels(results, library_cpu=own))[
        "throughput at 256 in flight vs raw"
    ]
    assert versus_raw.met is False
    assert versus_raw.measured.endswith("at most ~0.79x")
