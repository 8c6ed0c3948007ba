"""Responder processes: ``kafkarpc serve --workers N`` for N = 1 and 2 with a CPU-bound handler.

Python runs one handler at a time per process, so a CPU-bound handler scales by
processes. The issue's target: two workers answer at least 1.6 times the requests per
second of one. On a two-core machine the client and the broker share those cores,
so the handler's CPU is made to dominate each request's cost (about 10 ms of
pure-Python arithmetic against well under 1 ms of client, broker and kafkarpc work).
The load keeps ``in_flight`` calls going with random keys over two request
partitions; each worker owns one partition once the group has formed, and the run
is measured only after both workers have answered.

Rounds interleave the worker counts (1, 2 then 2, 1, ...) and the curve keeps each
count's median. Per run it records req/s, latency, errors, who answered, and CPU
per request of the workers, the supervisor, the client and the broker; plus how
busy the whole machine was, since other processes on the cores bend the ratio.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.curves._workers_app import SESSION_TIMEOUT_MS
from benchmarks.curves._workers_run import RunSettings, calibrate, run_workers
from benchmarks.curves.base import Curve, CurveContext, Target

__all__ = ["CURVE", "WorkersSizes", "cpu_ceiling", "measure_workers"]

TARGET_SPEEDUP = 1.6


@dataclass(frozen=True, slots=True)
class WorkersSizes:
    worker_counts: tuple[int, ...] = (1, 2)
    rounds: int = 3
    handler_cpu_ms: float = 10.0
    """Pure-Python CPU the handler spends per request (calibrated here to iterations)."""
    in_flight: int = 32
    """Calls kept going; with random keys over two partitions, the chance that one
    worker's partition holds none of them (so that worker idles) is about 1/(in_flight+1)."""
    partitions: int = 2
    warmup_s: float = 2.0
    measure_s: float = 8.0
    timeout_s: float = 30.0
    ready_timeout_s: float = 60.0


QUICK = WorkersSizes(
    rounds=1, handler_cpu_ms=2.0, in_flight=8, warmup_s=0.2, measure_s=1.0, ready_timeout_s=30.0
)


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 2) if known else None


def _point(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One worker count's median over its rounds."""
    cpu_names = runs[0]["cpu_us_per_request"].keys()
    cpu = {name: _median([r["cpu_us_per_request"][name] for r in runs]) for name in cpu_names}
    handler_ms = _median([r["handler_cpu_ms_p50"] for r in runs])
    return {
        "workers": runs[0]["workers"],
        "rps": _median([r["rps"] for r in runs]),
        "rps_rounds": [r["rps"] for r in runs],
        "p50_ms": _median([r["p50_ms"] for r in runs]),
        "p95_ms": _median([r["p95_ms"] for r in runs]),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "handler_cpu_ms_p50": handler_ms,
        "cpu_us_per_request": cpu,
        # The workers' CPU beyond the handler's own: kafkarpc's (and Python's) share.
        "worker_overhead_us": (
            None
            if cpu["workers"] is None or handler_ms is None
            else round(cpu["workers"] - 1000 * handler_ms, 1)
        ),
        # The fewest distinct pids that answered in any round's window.
        "answering_workers": min(len(r["answered_by"]) for r in runs),
        "machine_busy_cores": _median([r["machine_busy_cores"] for r in runs]),
        "others_cores": _median([r["others_cores"] for r in runs]),
    }


def _speedups(runs: list[dict[str, Any]], rounds: int) -> list[float]:
    """2-worker req/s over 1-worker req/s, round by round."""
    ratios: list[float] = []
    for index in range(rounds):
        by_count = {r["workers"]: r["rps"] for r in runs if r["round"] == index}
        if by_count.get(1) and 2 in by_count:
            ratios.append(round(by_count[2] / by_count[1], 3))
    return ratios


def cpu_ceiling(points: list[dict[str, Any]], cores: int) -> dict[str, float] | None:
    """The req/s the measured CPU per request allows with the cores to this run alone.

    One worker is bound by its own core; two by their two cores, or by all the cores
    shared with the client and the broker, whichever binds first. The measured
    speedup falls short of ``speedup`` here when other processes took CPU.
    """
    cpu = {p["workers"]: p["cpu_us_per_request"] for p in points}
    if 1 not in cpu or 2 not in cpu:
        return None
    one, two = cpu[1], cpu[2]
    if not one["workers"] or not two["workers"] or not two["total"]:
        return None
    one_rps = 1e6 / one["workers"]
    two_rps = min(2e6 / two["workers"], cores * 1e6 / two["total"])
    return {
        "one_worker_rps": round(one_rps, 1),
        "two_workers_rps": round(two_rps, 1),
        "speedup": round(two_rps / one_rps, 3),
    }


def measure_workers(ctx: CurveContext, sizes: WorkersSizes) -> dict[str, Any]:
    iterations, calibrated_ms = calibrate(sizes.handler_cpu_ms)
    ctx.say(f"handler: {iterations} iterations, {calibrated_ms:.2f} ms of CPU here")
    settings = RunSettings(
        iterations=iterations,
        in_flight=sizes.in_flight,
        partitions=sizes.partitions,
        warmup_s=sizes.warmup_s,
        measure_s=sizes.measure_s,
        timeout_s=sizes.timeout_s,
        ready_timeout_s=sizes.ready_timeout_s,
    )
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as logs:
        for index in range(sizes.rounds):
            # Alternate the order so neither count always runs first on a fresh broker.
            order = sizes.worker_counts if index % 2 == 0 else sizes.worker_counts[::-1]
            for workers in order:
                run = run_workers(ctx.broker, ctx.admin, workers, settings, Path(logs))
                runs.append({"round": index, **run})
                ctx.say(
                    f"round {index + 1}/{sizes.rounds}, --workers {workers}: "
                    f"{run['rps']:.0f} req/s, p50 {run['p50_ms']} ms, {run['errors']} errors, "
                    f"answered by {run['answered_by']}, "
                    f"machine busy {run['machine_busy_cores']} cores"
                )
    points = [
        _point([r for r in runs if r["workers"] == workers]) for workers in sizes.worker_counts
    ]
    rps = {p["workers"]: p["rps"] for p in points}
    ratios = _speedups(runs, sizes.rounds)
    return {
        "settings": asdict(sizes),
        "cores": os.cpu_count(),
        "handler": {
            "kind": "async def, never awaits: pure-Python integer arithmetic "
            "(acc = (acc * 31 + i) % 1000003), holding its worker's event loop",
            "iterations": iterations,
            "calibrated_cpu_ms": round(calibrated_ms, 3),
        },
        "command": "kafkarpc serve benchmarks.curves._workers_app:make_server --workers N",
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "points": points,
        "runs": runs,
        "speedup": round(rps[2] / rps[1], 3) if rps.get(1) and rps.get(2) else None,
        "speedup_rounds": ratios,
        # A round's two runs go back to back: their ratio cancels slow drifts of the
        # machine's load, which the ratio of the medians keeps.
        "speedup_median_of_rounds": round(statistics.median(ratios), 3) if ratios else None,
        "cpu_ceiling": cpu_ceiling(points, os.cpu_count() or 1),
    }


def _measure(ctx: CurveContext) -> dict[str, Any]:
    return measure_workers(ctx, QUICK if ctx.quick else WorkersSizes())


def _targets(data: dict[str, Any]) -> list[Target]:
    goal = f"--workers 2 >= {TARGET_SPEEDUP}x the req/s of --workers 1 (CPU-bound handler)"
    name = "workers: 2 processes vs 1"
    points = {p.get("workers"): p for p in data.get("points", [])}
    one, two = points.get(1), points.get(2)
    speedup = data.get("speedup")
    if one is None or two is None or speedup is None:
        return [Target(name, goal, "not measured", None)]
    rounds = ", ".join(f"{r:.2f}" for r in data.get("speedup_rounds", []))
    measured = (
        f"{speedup:.2f}x ({two['rps']:.0f} vs {one['rps']:.0f} req/s"
        f"{f'; rounds {rounds}' if rounds else ''}; {data.get('cores')} cores)"
    )
    return [Target(name, goal, measured, speedup >= TARGET_SPEEDUP)]


def _format(data: dict[str, Any]) -> str:
    handler = data["handler"]
    lines = [
        f"handler {handler['calibrated_cpu_ms']:.1f} ms CPU ({handler['iterations']} iterations), "
        f"{data['settings']['in_flight']} in flight, {data['settings']['partitions']} partitions, "
        f"{data['cores']} cores",
        f"{'workers':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6} "
        f"{'cpu µs/request: workers':>24} {'(beyond handler)':>16} {'client':>7} {'broker':>7} "
        f"{'total':>7}  answering",
    ]
    for p in data["points"]:
        cpu = p["cpu_us_per_request"]
        lines.append(
            f"{p['workers']:>7} {_num(p['rps'], 8, 0)} {_num(p['p50_ms'], 8, 1)} "
            f"{_num(p['p95_ms'], 8, 1)} {p['errors']:>6} {_num(cpu['workers'], 24, 0)} "
            f"{_num(p['worker_overhead_us'], 16, 0)} "
            f"{_num(cpu['client'], 7, 0)} {_num(cpu['broker'], 7, 0)} {_num(cpu['total'], 7, 0)}"
            f"  {p['answering_workers']}"
        )
    if data.get("speedup") is not None:
        rounds = ", ".join(f"{r:.2f}" for r in data["speedup_rounds"])
        lines.append(
            f"speedup {data['speedup']:.2f}x (rounds: {rounds}; "
            f"median of rounds {data['speedup_median_of_rounds']:.2f}x)"
        )
    if ceiling := data.get("cpu_ceiling"):
        lines.append(
            f"CPU ceiling with the cores to this run alone: {ceiling['speedup']:.2f}x "
            f"({ceiling['two_workers_rps']:.0f} vs {ceiling['one_worker_rps']:.0f} req/s)"
        )
    return "\n".join(lines)


def _num(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _plot(ax: Any, data: dict[str, Any]) -> None:
    points = data["points"]
    counts = [p["workers"] for p in points]
    ax.plot(counts, [p["rps"] for p in points], marker="o", label="median req/s")
    for p in points:
        ax.scatter([p["workers"]] * len(p["rps_rounds"]), p["rps_rounds"], color="grey", s=12)
    one = next((p["rps"] for p in points if p["workers"] == 1), None)
    if one:
        ax.plot(counts, [one * n for n in counts], linestyle=":", color="grey", label="linear")
        ax.axhline(one * TARGET_SPEEDUP, linestyle="--", color="red", label="target (1.6x)")
    if ceiling := data.get("cpu_ceiling"):
        ax.scatter(
            [2], [ceiling["two_workers_rps"]], marker="x", color="black",
            label="CPU ceiling (cores to this run alone)",
        )  # fmt: skip
    ax.set_xticks(counts)
    ax.set_xlabel("kafkarpc serve --workers")
    ax.set_ylabel("requests/s")
    ax.set_title(f"CPU-bound handler ({data['handler']['calibrated_cpu_ms']:.0f} ms)")
    ax.legend(fontsize="small")


CURVE = Curve(
    name="workers",
    title="Responder processes (kafkarpc serve --workers)",
    measure=_measure,
    format=_format,
    targets=_targets,
    plot=_plot,
)
