"""Payload size: MB/s moved by kafkarpc next to the raw loop, 128 B to 512 KB.

At each size the raw confluent-kafka loop and kafkarpc run the same closed loop
(same payloads, same number in flight, fresh topics), each side its own spawned
process. MB/s moved is the request and reply payload bytes per second: the echo
responder returns the payload, so ``2 x payload_bytes x req/s / 10^6``. What
should stay flat: kafkarpc's share of the raw loop's MB/s. Then a probe: a
request over the message limit must fail at once with ``PayloadTooLarge``.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from benchmarks.curves.base import Curve, CurveContext, Target
from benchmarks.curves.payload_probe import probe_over_limit
from benchmarks.kafka import TopicSet
from benchmarks.level import run_level
from benchmarks.progress import Progress
from benchmarks.stats import LevelResult
from benchmarks.systems import SYSTEMS, unavailable_reason
from benchmarks.workload import Workload

__all__ = ["CURVE", "judge_answered", "judge_mb_per_s", "judge_over_limit", "requests_for"]

KB = 1024
SIZES = (128, KB, 8 * KB, 64 * KB, 256 * KB, 512 * KB)
QUICK_SIZES = (128, 64 * KB)
SYSTEM_NAMES = ("raw", "kafkarpc")
LOAD = 16
QUICK_LOAD = 4
PARTITIONS = 4
BYTES_PER_LEVEL = 128 * KB * KB
"""Request payload bytes a level sends: 256 requests at 512 KB, a few seconds each way."""
MIN_REQUESTS = 200
MAX_REQUESTS = 4000
QUICK_REQUESTS = 30
TIMEOUT_S = 15.0
LEVEL_DEADLINE_S = 120.0
TARGET_RATIO = 0.8
PROBE_MAX_MS = 1000.0
"""An over-limit call must fail within this: it never needs the broker to refuse it."""
MB_DEFINITION = "request + reply payload bytes per second (2 x payload_bytes x req/s), 10^6 bytes"


def requests_for(size: int, quick: bool) -> int:
    """Measured requests at ``size``: a fixed byte budget, within bounds."""
    if quick:
        return QUICK_REQUESTS
    return max(MIN_REQUESTS, min(MAX_REQUESTS, BYTES_PER_LEVEL // size))


def _workload(ctx: CurveContext, size: int) -> Workload:
    load = QUICK_LOAD if ctx.quick else LOAD
    return Workload(
        load=load,
        # A tenth of the level, at least two windows: the first level meets a cold broker.
        warmup=max(2 * load, requests_for(size, ctx.quick) // 10),
        measured=requests_for(size, ctx.quick),
        seed=ctx.seed * 1_000_003 + size,
        payload_bytes=size,
        timeout_s=TIMEOUT_S,
        deadline_s=LEVEL_DEADLINE_S,
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _row(size: int, result: LevelResult) -> dict[str, Any]:
    rps = result.throughput_rps
    return {
        "requests": result.requests,
        "ok": result.ok,
        "errors": result.errors,
        "throughput_rps": _round(rps, 1),
        "mb_per_s": None if rps is None else round(2 * size * rps / 1e6, 2),
        "p50_ms": _round(result.p50_ms, 2),
        "p95_ms": _round(result.p95_ms, 2),
        "client_peak_rss_mb": _round(result.client_rss_mb, 1),
        "responder_peak_rss_mb": _round(result.responder_rss_mb, 1),
        "wall_s": _round(result.wall_s, 1),
        "first_error": result.first_error,
        "failure": result.failure,
    }


def _systems(ctx: CurveContext) -> list[str]:
    runnable = []
    for name in SYSTEM_NAMES:
        reason = unavailable_reason(SYSTEMS[name])
        if reason is None:
            runnable.append(name)
        else:
            ctx.say(f"payload: {name} skipped ({reason})")
    return runnable


def measure(ctx: CurveContext) -> dict[str, Any]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    systems = _systems(ctx)
    progress = Progress(len(sizes) * len(systems), ctx.stream)
    rng = random.Random(ctx.seed)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        # A seeded shuffle per size, as the session's levels: no system always runs
        # first, on the broker the previous size left busy.
        order = rng.sample(systems, k=len(systems))
        row: dict[str, Any] = {"payload_bytes": size, "order": order, "systems": {}}
        workload = _workload(ctx, size)
        for name in order:
            topics = TopicSet(f"bench.payload.{name}.b{size}.{uuid.uuid4().hex[:10]}", PARTITIONS)
            progress.start_level(f"{name} {_size_label(size)}", workload.measured)
            ctx.admin.create(topics)
            try:
                result = run_level(SYSTEMS[name], ctx.broker, topics, workload, progress, {})
            finally:
                ctx.admin.delete(topics)
            row["systems"][name] = entry = _row(size, result)
            progress.finish_level(_summary(entry))
        rows.append(row)
    ctx.say("payload: calling with payloads over the message limit")
    probe = probe_over_limit(ctx.broker.bootstrap, ctx.admin, timeout_s=TIMEOUT_S)
    return {
        "systems": systems,
        "load": QUICK_LOAD if ctx.quick else LOAD,
        "partitions": PARTITIONS,
        "timeout_s": TIMEOUT_S,
        "requests": {"bytes_per_level": BYTES_PER_LEVEL, "min": MIN_REQUESTS, "max": MAX_REQUESTS},
        "mb_per_s_definition": MB_DEFINITION,
        "sizes": rows,
        "over_limit": probe,
    }


def _size_label(size: int) -> str:
    return f"{size // KB} KB" if size >= KB else f"{size} B"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _summary(entry: dict[str, Any]) -> str:
    if entry["failure"]:
        return f"FAILED: {entry['failure'].splitlines()[0]}"
    return (
        f"{_num(entry['mb_per_s'], '.1f')} MB/s  {_num(entry['throughput_rps'], '.0f')} req/s  "
        f"p95 {_num(entry['p95_ms'], '.1f')} ms  {entry['errors']} errors"
    )


def _ratio(row: dict[str, Any]) -> float | None:
    raw = row.get("systems", {}).get("raw", {}).get("mb_per_s")
    ours = row.get("systems", {}).get("kafkarpc", {}).get("mb_per_s")
    if not raw or ours is None:
        return None
    return float(ours) / float(raw)


def format_table(data: dict[str, Any]) -> str:
    lines = [
        f"payload size ({data.get('load')} in flight; MB/s = {data.get('mb_per_s_definition')})",
        f"{'size':>7} {'system':>9} {'MB/s':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'errors':>7} {'vs raw':>7}",
    ]
    for row in data.get("sizes", []):
        ratio = _ratio(row)
        measured = row.get("systems", {})
        for name in [n for n in data.get("systems", []) if n in measured]:
            entry = measured[name]
            versus = f"{ratio:.2f}x" if name == "kafkarpc" and ratio is not None else ""
            lines.append(
                f"{_size_label(row['payload_bytes']):>7} {name:>9} "
                f"{_num(entry['mb_per_s'], '.1f'):>8} {_num(entry['throughput_rps'], '.0f'):>8} "
                f"{_num(entry['p50_ms'], '.1f'):>8} {_num(entry['p95_ms'], '.1f'):>8} "
                f"{entry['errors']:>7} {versus:>7}"
            )
    probe = data.get("over_limit", {})
    broker = probe.get("broker_takes_larger")
    if broker:
        took = "yes" if broker["accepted"] else f"no ({broker['error']})"
        lines.append(f"broker takes a {broker['record_bytes']} B record when allowed: {took}")
    for case in probe.get("cases", []):
        lines.append(
            f"over the limit ({case['case']}, {case['payload_bytes']} B payload, limit "
            f"{probe.get('limit_bytes')} B): {case['raised']} after {case['elapsed_ms']:.1f} ms"
        )
    return "\n".join(lines)


def judge_mb_per_s(data: dict[str, Any]) -> Target:
    name = "payload: kafkarpc MB/s vs raw, every size"
    goal = f">= {TARGET_RATIO}x"
    rows = data.get("sizes", [])
    if not rows:
        return Target(name, goal, "not measured", None)
    ratios = {row["payload_bytes"]: _ratio(row) for row in rows}
    missing = [size for size, ratio in ratios.items() if ratio is None]
    if missing:
        listed = ", ".join(_size_label(size) for size in missing)
        return Target(name, goal, f"no ratio at {listed} (a system missing or failed)", None)
    worst = min(ratios, key=lambda size: ratios[size] or 0.0)
    worst_ratio = ratios[worst] or 0.0
    measured = f"lowest {worst_ratio:.2f}x at {_size_label(worst)}"
    return Target(name, goal, measured, worst_ratio >= TARGET_RATIO)


def judge_answered(data: dict[str, Any]) -> Target:
    name = "payload: no size where a call fails"
    goal = "0 errors, every size and system"
    rows = data.get("sizes", [])
    if not rows:
        return Target(name, goal, "not measured", None)
    failed = [
        f"{system} {_size_label(row['payload_bytes'])}: {entry.get('errors')} errors"
        for row in rows
        for system, entry in row.get("systems", {}).items()
        if entry.get("errors") or entry.get("failure")
    ]
    if failed:
        return Target(name, goal, "; ".join(failed), False)
    return Target(name, goal, f"0 errors at {len(rows)} sizes", True)


def judge_over_limit(data: dict[str, Any]) -> Target:
    name = "payload: over the message limit"
    goal = f"PayloadTooLarge within {PROBE_MAX_MS:.0f} ms"
    cases = data.get("over_limit", {}).get("cases", [])
    if not cases:
        return Target(name, goal, "not measured", None)
    measured = "; ".join(f"{c['case']}: {c['raised']} in {c['elapsed_ms']:.0f} ms" for c in cases)
    met = all(c["raised"] == "PayloadTooLarge" and c["elapsed_ms"] <= PROBE_MAX_MS for c in cases)
    return Target(name, goal, measured, met)


def targets(data: dict[str, Any]) -> list[Target]:
    return [judge_mb_per_s(data), judge_answered(data), judge_over_limit(data)]


def plot(ax: Any, data: dict[str, Any]) -> None:
    # Evenly spaced sizes and a log MB/s axis: 128 B and 512 KB differ 4,000-fold.
    sizes = [row["payload_bytes"] for row in data.get("sizes", [])]
    for name in data.get("systems", []):
        points = [
            (index, row["systems"][name]["mb_per_s"])
            for index, row in enumerate(data.get("sizes", []))
            if row["systems"].get(name, {}).get("mb_per_s")
        ]
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=name)
    ax.set_xticks(range(len(sizes)), [_size_label(size) for size in sizes])
    ax.set_yscale("log")
    ax.set_xlabel("payload size")
    ax.set_ylabel("MB/s moved (request + reply payload)")
    ax.set_title(f"Payload size ({data.get('load')} in flight)")
    ax.legend(loc="upper left", fontsize="small")


CURVE = Curve(
    name="payload",
    title="Payload size",
    measure=measure,
    format=format_table,
    targets=targets,
    plot=plot,
)
