"""Operations served by one server: throughput and the server's memory, 1 to 200 operations.

One RpcServer answers N echo operations, each its own topic trio (one partition
per topic: Tansu lists every stored batch of a partition on each fetch, and N
trios of many partitions would measure that instead). One client process spreads
its requests round-robin over all N at a fixed number in flight. What should stay
flat: requests per second. What may grow, and is recorded: the server's memory
(once serving, and at its peak) and its time to ready. The raw confluent-kafka
loop over the same N trios runs next to it: what the broker allows for N
operations with no library code, which bounds the target on a given machine.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from benchmarks.curves.base import Curve, CurveContext, Target
from benchmarks.curves.operations_probe import probe_first_calls
from benchmarks.kafka import OperationTopics
from benchmarks.level import run_level
from benchmarks.progress import Progress
from benchmarks.stats import LevelResult
from benchmarks.systems import SYSTEMS as ALL_SYSTEMS
from benchmarks.workload import Workload

__all__ = ["CURVE", "SYSTEMS", "judge_answered", "judge_throughput"]

OPERATIONS = (1, 10, 50, 100, 200)
QUICK_OPERATIONS = (1, 5)
LOAD = 64
QUICK_LOAD = 8
PARTITIONS = 1
REQUESTS = 4000
QUICK_REQUESTS = 60
PAYLOAD_BYTES = 256
TIMEOUT_S = 10.0
FIRST_CALLS_TIMEOUT_S = 60.0
"""The probe's calls may take this long: it records when they were answered."""
LEVEL_DEADLINE_S = 120.0
TARGET_RATIO = 0.8
TARGET_OPERATIONS = 200

# The level systems themselves: given ``OperationTopics`` they serve and call all N trios.
SYSTEMS = {name: ALL_SYSTEMS[name] for name in ("raw", "kafkarpc")}
_ROLES = {
    "raw": "raw confluent-kafka loop over N topic trios, one responder consumer for all",
    "kafkarpc": "one kafkarpc RpcServer serving N operations, one RpcClient calling all N",
}


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


def _entry(result: LevelResult) -> dict[str, Any]:
    return {
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
    names = list(SYSTEMS)
    progress = Progress(len(counts) * len(names), ctx.stream)
    rng = random.Random(ctx.seed)
    rows: list[dict[str, Any]] = []
    for operations in counts:
        workload = _workload(ctx, operations)
        # Seeded shuffle: neither system always meets the broker the other left busy.
        order = rng.sample(names, k=len(names))
        row: dict[str, Any] = {
            "operations": operations,
            "topics": 3 * operations,
            "order": order,
            "systems": {},
        }
        for name in order:
            topics = OperationTopics(
                f"bench.ops.{name}.n{operations}.{uuid.uuid4().hex[:10]}", PARTITIONS, operations
            )
            progress.start_level(f"{name} operations={operations}", workload.measured)
            ctx.admin.create(topics)
            try:
                result = run_level(SYSTEMS[name], ctx.broker, topics, workload, progress, {})
            finally:
                ctx.admin.delete(topics)
            row["systems"][name] = entry = _entry(result)
            progress.finish_level(_summary(entry))
        rows.append(row)
    largest = max(counts)
    ctx.say(f"operations: one client's first calls to {largest} operations at once")
    first_calls = probe_first_calls(
        ctx.broker.bootstrap, ctx.admin, largest, timeout_s=FIRST_CALLS_TIMEOUT_S
    )
    return {
        "systems": {name: _ROLES[name] for name in SYSTEMS},
        "load": QUICK_LOAD if ctx.quick else LOAD,
        "partitions_per_topic": PARTITIONS,
        "payload_bytes": PAYLOAD_BYTES,
        "requests_per_level": QUICK_REQUESTS if ctx.quick else REQUESTS,
        "timeout_s": TIMEOUT_S,
        "spread": "round-robin over every operation by request index",
        "levels": rows,
        "first_calls": first_calls,
    }


def _summary(entry: dict[str, Any]) -> str:
    if entry["failure"]:
        return f"FAILED: {entry['failure'].splitlines()[0]}"
    return (
        f"{_num(entry['throughput_rps'], '.0f')} req/s  p95 {_num(entry['p95_ms'], '.1f')} ms  "
        f"server {_num(entry['server_peak_rss_mb'], '.0f')} MB  {entry['errors']} errors"
    )


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(data: dict[str, Any]) -> str:
    lines = [
        f"operations per server ({data.get('load')} in flight, round-robin, "
        f"{data.get('partitions_per_topic')} partition per topic)",
        f"{'ops':>5} {'system':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'ready s':>8} "
        f"{'RSS ready':>10} {'RSS peak':>9} {'errors':>7}",
    ]
    for row in data.get("levels", []):
        for name, entry in sorted(row.get("systems", {}).items()):
            lines.append(
                f"{row['operations']:>5} {name:>9} {_num(entry['throughput_rps'], '.0f'):>8} "
                f"{_num(entry['p50_ms'], '.1f'):>8} {_num(entry['p95_ms'], '.1f'):>8} "
                f"{_num(entry['server_ready_s'], '.1f'):>8} "
                f"{_num(entry['server_ready_rss_mb'], '.0f'):>7} MB "
                f"{_num(entry['server_peak_rss_mb'], '.0f'):>6} MB {entry['errors']:>7}"
            )
    if first := data.get("first_calls"):
        lines.append(
            f"first calls to {first['operations']} operations at once: last answered after "
            f"{_num(first['last_answered_s'], '.2f')} s (median "
            f"{_num(first['median_answered_s'], '.2f')} s), {first['errors']} errors"
        )
    return "\n".join(lines)


def _throughput(data: dict[str, Any], operations: int, system: str) -> float | None:
    for row in data.get("levels", []):
        if row.get("operations") == operations:
            value = row.get("systems", {}).get(system, {}).get("throughput_rps")
            return None if value is None else float(value)
    return None


def judge_throughput(data: dict[str, Any]) -> Target:
    name = f"operations: kafkarpc throughput at {TARGET_OPERATIONS} operations vs 1"
    goal = f">= {TARGET_RATIO}x"
    counts = [row["operations"] for row in data.get("levels", []) if "operations" in row]
    if 1 not in counts or TARGET_OPERATIONS not in counts:
        return Target(name, goal, f"not measured (operations: {counts})", None)
    base = _throughput(data, 1, "kafkarpc")
    grown = _throughput(data, TARGET_OPERATIONS, "kafkarpc")
    if not base or grown is None:
        return Target(name, goal, "no kafkarpc throughput (a level failed)", False)
    ratio = grown / base
    measured = f"{ratio:.2f}x ({grown:.0f} vs {base:.0f} req/s)"
    raw_base = _throughput(data, 1, "raw")
    raw_grown = _throughput(data, TARGET_OPERATIONS, "raw")
    if raw_base and raw_grown is not None:
        measured += f"; the raw loop {raw_grown / raw_base:.2f}x"
    return Target(name, goal, measured, ratio >= TARGET_RATIO)


def judge_answered(data: dict[str, Any]) -> Target:
    name = "operations: every call answered at every count"
    goal = "0 errors"
    rows = data.get("levels", [])
    if not rows:
        return Target(name, goal, "not measured", None)
    bad = [
        f"{system} at {row['operations']}: {entry.get('errors')} errors"
        for row in rows
        for system, entry in sorted(row.get("systems", {}).items())
        if entry.get("errors") or entry.get("failure")
    ]
    first = data.get("first_calls") or {}
    if first.get("errors"):
        bad.append(f"first calls to {first['operations']} at once: {first['errors']} errors")
    if bad:
        return Target(name, goal, "; ".join(bad), False)
    return Target(name, goal, f"0 errors at {len(rows)} counts", True)


def targets(data: dict[str, Any]) -> list[Target]:
    return [judge_throughput(data), judge_answered(data)]


def plot(ax: Any, data: dict[str, Any]) -> None:
    rows = data.get("levels", [])
    memory = ax.twinx()
    for name, colour in (("raw", "tab:gray"), ("kafkarpc", "tab:blue")):
        entries = [
            (row["operations"], row["systems"][name])
            for row in rows
            if row.get("systems", {}).get(name, {}).get("throughput_rps") is not None
        ]
        counts = [count for count, _ in entries]
        ax.plot(
            counts, [e["throughput_rps"] for _, e in entries], "o-", color=colour,
            label=f"{name} req/s",
        )  # fmt: skip
        if name == "kafkarpc":
            memory.plot(
                counts, [e["server_peak_rss_mb"] for _, e in entries], "s--", color="tab:red",
                label="kafkarpc server peak RSS (MB)",
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("operations served by one server")
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
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
