"""Operations served by one server: throughput and the server's memory, 1 to 200 operations.

One RpcServer answers N echo operations, each its own topic trio (one partition
per topic: Tansu lists every stored batch of a partition on each fetch, and N
trios of many partitions would measure that instead). One client process spreads
its requests round-robin over all N at a fixed number in flight. What should stay
flat: requests per second. What may grow, and is recorded: the server's memory
(once serving, and at its peak) and its time to ready.
"""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks.curves.base import Curve, CurveContext, Target
from benchmarks.level import run_level
from benchmarks.progress import Progress
from benchmarks.stats import LevelResult
from benchmarks.systems import SystemSpec
from benchmarks.systems.kafkarpc_multi import OperationTopics
from benchmarks.workload import Workload

__all__ = ["CURVE", "judge_throughput", "judge_answered"]

OPERATIONS = (1, 10, 50, 100, 200)
QUICK_OPERATIONS = (1, 5)
LOAD = 64
QUICK_LOAD = 8
PARTITIONS = 1
REQUESTS = 4000
QUICK_REQUESTS = 60
PAYLOAD_BYTES = 256
TIMEOUT_S = 10.0
LEVEL_DEADLINE_S = 120.0
TARGET_RATIO = 0.8
TARGET_OPERATIONS = 200

SYSTEM = SystemSpec(
    "kafkarpc-multi",
    "benchmarks.systems.kafkarpc_multi",
    "benchmarks.systems.kafkarpc_multi",
    ("kafkarpc.client.facade", "kafkarpc.server.facade"),
    "one kafkarpc RpcServer serving N operations, one RpcClient calling all N",
)


def _workload(ctx: CurveContext, operations: int) -> Workload:
    load = QUICK_LOAD if ctx.quick else LOAD
    return Workload(
        load=load,
        # Two windows of in-flight requests, and at least two rounds of every operation.
        warmup=max(2 * load, 2 * operations),
        measured=QUICK_REQUESTS if ctx.quick else REQUESTS,
        seed=ctx.seed * 1_000_003 + operations,
        payload_bytes=PAYLOAD_BYTES,
        timeout_s=TIMEOUT_S,
        deadline_s=LEVEL_DEADLINE_S,
    )


def _row(operations: int, result: LevelResult) -> dict[str, Any]:
    return {
        "operations": operations,
        "topics": 3 * operations,
        "requests": result.requests,
        "ok": result.ok,
        "errors": result.errors,
        "throughput_rps": _round(result.throughput_rps, 1),
        "p50_ms": _round(result.p50_ms, 2),
        "p95_ms": _round(result.p95_ms, 2),
        "server_ready_s": _round(result.responder_ready_s, 2),
        "server_ready_rss_mb": _round(result.responder_ready_rss_mb, 1),
        "server_peak_rss_mb": _round(result.responder_rss_mb, 1),
        "client_peak_rss_mb": _round(result.client_rss_mb, 1),
        "cpu_us_per_request": {
            "client": _round(result.cpu.client_us, 1),
            "server": _round(result.cpu.responder_us, 1),
            "broker": _round(result.cpu.broker_us, 1),
        },
        "wall_s": _round(result.wall_s, 1),
        "first_error": result.first_error,
        "failure": result.failure,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def measure(ctx: CurveContext) -> dict[str, Any]:
    counts = QUICK_OPERATIONS if ctx.quick else OPERATIONS
    progress = Progress(len(counts), ctx.stream)
    rows: list[dict[str, Any]] = []
    for operations in counts:
        workload = _workload(ctx, operations)
        topics = OperationTopics(
            f"bench.ops.n{operations}.{uuid.uuid4().hex[:10]}", PARTITIONS, operations
        )
        ctx.say(f"operations={operations}: creating {len(topics.names)} topics")
        progress.start_level(f"operations={operations}", workload.measured)
        ctx.admin.create(topics)
        try:
            result = run_level(SYSTEM, ctx.broker, topics, workload, progress, {})
        finally:
            ctx.admin.delete(topics)
        row = _row(operations, result)
        rows.append(row)
        progress.finish_level(_summary(row))
    first = rows[0]
    return {
        "system": SYSTEM.summary,
        "load": QUICK_LOAD if ctx.quick else LOAD,
        "partitions_per_topic": PARTITIONS,
        "payload_bytes": PAYLOAD_BYTES,
        "requests_per_level": first["requests"],
        "timeout_s": TIMEOUT_S,
        "spread": "round-robin over every operation by request index",
        "levels": rows,
    }


def _summary(row: dict[str, Any]) -> str:
    if row["failure"]:
        return f"FAILED: {row['failure'].splitlines()[0]}"
    return (
        f"{_num(row['throughput_rps'], '.0f')} req/s  p95 {_num(row['p95_ms'], '.1f')} ms  "
        f"server {_num(row['server_peak_rss_mb'], '.0f')} MB  {row['errors']} errors"
    )


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(data: dict[str, Any]) -> str:
    lines = [
        f"operations per server ({data.get('load')} in flight, round-robin, "
        f"{data.get('partitions_per_topic')} partition per topic)",
        f"{'ops':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'ready s':>8} "
        f"{'RSS ready':>10} {'RSS peak':>9} {'errors':>7}",
    ]
    for row in data.get("levels", []):
        lines.append(
            f"{row['operations']:>5} {_num(row['throughput_rps'], '.0f'):>8} "
            f"{_num(row['p50_ms'], '.1f'):>8} {_num(row['p95_ms'], '.1f'):>8} "
            f"{_num(row['server_ready_s'], '.1f'):>8} "
            f"{_num(row['server_ready_rss_mb'], '.0f'):>7} MB "
            f"{_num(row['server_peak_rss_mb'], '.0f'):>6} MB {row['errors']:>7}"
        )
    return "\n".join(lines)


def _levels(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["operations"]: row for row in data.get("levels", []) if "operations" in row}


def judge_throughput(data: dict[str, Any]) -> Target:
    name = f"operations: throughput at {TARGET_OPERATIONS} operations vs 1"
    goal = f">= {TARGET_RATIO}x"
    levels = _levels(data)
    one, many = levels.get(1), levels.get(TARGET_OPERATIONS)
    if one is None or many is None:
        return Target(name, goal, f"not measured (operations: {sorted(levels)})", None)
    base, grown = one.get("throughput_rps"), many.get("throughput_rps")
    if not base or grown is None:
        return Target(name, goal, "no throughput (the level failed)", False)
    ratio = grown / base
    measured = f"{ratio:.2f}x ({grown:.0f} vs {base:.0f} req/s)"
    return Target(name, goal, measured, ratio >= TARGET_RATIO)


def judge_answered(data: dict[str, Any]) -> Target:
    name = "operations: every call answered at every count"
    goal = "0 errors"
    rows = data.get("levels", [])
    if not rows:
        return Target(name, goal, "not measured", None)
    bad = [row for row in rows if row.get("errors") or row.get("failure")]
    if not bad:
        return Target(name, goal, f"0 errors in {len(rows)} levels", True)
    described = ", ".join(f"{row['operations']} ops: {row.get('errors')} errors" for row in bad)
    return Target(name, goal, described, False)


def targets(data: dict[str, Any]) -> list[Target]:
    return [judge_throughput(data), judge_answered(data)]


def plot(ax: Any, data: dict[str, Any]) -> None:
    rows = [row for row in data.get("levels", []) if row.get("throughput_rps") is not None]
    counts = [row["operations"] for row in rows]
    ax.plot(counts, [row["throughput_rps"] for row in rows], "o-", label="req/s")
    ax.set_xscale("log")
    ax.set_xlabel("operations served by one server")
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    memory = ax.twinx()
    memory.plot(
        counts, [row["server_peak_rss_mb"] for row in rows], "s--", color="tab:red",
        label="server peak RSS (MB)",
    )  # fmt: skip
    memory.set_ylabel("server peak RSS, MB")
    memory.set_ylim(bottom=0)
    ax.set_title(f"Operations per server ({data.get('load')} in flight)")
    handles, labels = ax.get_legend_handles_labels()
    more_handles, more_labels = memory.get_legend_handles_labels()
    ax.legend(handles + more_handles, labels + more_labels, loc="lower left", fontsize="small")


CURVE = Curve(
    name="operations",
    title="Operations served by one server",
    measure=measure,
    format=format_table,
    targets=targets,
    plot=plot,
)
