"""One level of the clients curve: one responder, N client processes, one operation.

The responder is benchmarks.systems.kafkarpc_system's echo ``RpcServer``; each client
is a process of its own (clients_proc.py) so its CPU, read from /proc, is its own. All
clients warm up, then start their measured calls together; a client's CPU is read the
moment its result arrives (it then idles until every client is done).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal

from benchmarks import child
from benchmarks.cpu import cpu_seconds, precise_cpu_seconds
from benchmarks.curves.clients_proc import ClientJob, ClientOutcome, client_main
from benchmarks.kafka import BrokerInfo, TopicSet
from benchmarks.level import LevelError, reap, receive
from benchmarks.protocol import ResponderReport, ResponderSpec

__all__ = ["LevelSettings", "run_clients_level"]

ReplyPartitionSetting = int | Literal["auto"] | None

_RESPONDER_MODULE = "benchmarks.systems.kafkarpc_system"
_STOP_TIMEOUT_S = 45.0


@dataclass(frozen=True, slots=True)
class LevelSettings:
    in_flight: int
    rate: float
    calls: int
    idle_s: float
    """How long every client's idle CPU is read before the measured calls."""
    warmup: int
    payload_bytes: int
    timeout_s: float
    ready_timeout_s: float
    """Spawning 16 interpreters that import kafkarpc takes a while on two cores."""
    responder_config: dict[str, str]


def _micros_per_call(start: float | None, end: float | None, calls: int) -> float | None:
    if start is None or end is None or calls <= 0:
        return None
    return (end - start) * 1e6 / calls


def _spread(values: Sequence[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(known), "min": min(known), "max": max(known)}


@dataclass(frozen=True, slots=True)
class _ClientCpu:
    """One client's CPU readings (seconds) around its measured calls."""

    start: float | None
    end: float | None
    window_s: float
    """From "go" to its result."""
    idle_per_s: float | None
    """CPU a second while warmed up and idle: librdkafka's timers and fetch loop."""

    def work(self) -> float | None:
        """CPU of the window less what the client would have spent idle for as long."""
        if self.start is None or self.end is None or self.idle_per_s is None:
            return None
        return self.end - self.start - self.idle_per_s * self.window_s


def _idle_cpu(pids: dict[int, int | None], idle_s: float) -> dict[int, float | None]:
    """Each client's CPU a second while every client is warmed up and waiting for go."""
    before = {index: precise_cpu_seconds(pid) for index, pid in pids.items()}
    started = time.monotonic()
    time.sleep(idle_s)
    after = {index: precise_cpu_seconds(pid) for index, pid in pids.items()}
    elapsed = time.monotonic() - started
    rates: dict[int, float | None] = {}
    for index in pids:
        a, b = before[index], after[index]
        rates[index] = None if a is None or b is None else (b - a) / elapsed
    return rates


def _collect(
    conns: dict[Connection, int], pids: dict[int, int | None], deadline_s: float
) -> tuple[dict[int, ClientOutcome], dict[int, tuple[float | None, float]]]:
    """Every client's outcome, and its CPU (seconds) and the time, read as it arrived."""
    outcomes: dict[int, ClientOutcome] = {}
    cpu_at_end: dict[int, tuple[float | None, float]] = {}
    waiting = dict(conns)
    deadline = time.monotonic() + deadline_s
    while waiting:
        remaining = deadline - time.monotonic()
        ready = wait(list(waiting), remaining) if remaining > 0 else []
        if not ready:
            raise LevelError(f"clients {sorted(waiting.values())}: no result in time")
        for conn in ready:
            assert isinstance(conn, Connection)
            index = waiting.pop(conn)
            outcomes[index] = receive(conn, "result", f"client {index}", _STOP_TIMEOUT_S)
            cpu_at_end[index] = (precise_cpu_seconds(pids[index]), time.monotonic())
    return outcomes, cpu_at_end


def run_clients_level(
    broker: BrokerInfo,
    topics: TopicSet,
    clients: int,
    setting_for: Callable[[int], ReplyPartitionSetting],
    settings: LevelSettings,
) -> dict[str, Any]:
    """Run ``clients`` client processes against one responder; the level's numbers."""
    ctx = multiprocessing.get_context("spawn")
    responder_conn, responder_end = ctx.Pipe()
    responder = ctx.Process(
        target=child.responder_main,
        args=(
            _RESPONDER_MODULE,
            ResponderSpec(
                broker.bootstrap,
                topics,
                group_id=f"bench-clients-{uuid.uuid4().hex[:10]}",
                extra_config=settings.responder_config,
            ),
            responder_end,
        ),
        name="bench-clients-responder",
        daemon=True,
    )
    conns: dict[Connection, int] = {}
    child_ends: list[Connection] = [responder_end]
    processes: list[BaseProcess] = []
    for index in range(clients):
        conn, end = ctx.Pipe()
        job = ClientJob(
            bootstrap=broker.bootstrap,
            base=topics.base,
            index=index,
            reply_partition=setting_for(index),
            in_flight=settings.in_flight,
            rate=settings.rate,
            calls=settings.calls,
            warmup=settings.warmup,
            payload_bytes=settings.payload_bytes,
            timeout_s=settings.timeout_s,
        )
        processes.append(
            ctx.Process(
                target=client_main, args=(job, end), name=f"bench-client-{index}", daemon=True
            )
        )
        conns[conn] = index
        child_ends.append(end)
    # Started together: the clients' start-up overlaps the responder's group join.
    responder.start()
    for process in processes:
        process.start()
    # Without closing our copies, a crashed child would never read as EOF here.
    for end in child_ends:
        end.close()
    try:
        receive(responder_conn, "ready", "responder", settings.ready_timeout_s)
        for conn, index in conns.items():
            receive(conn, "ready", f"client {index}", settings.ready_timeout_s)
        pids = {index: processes[index].pid for index in range(clients)}
        shared_pids = (responder.pid, broker.pid)
        idle = _idle_cpu(pids, settings.idle_s)
        cpu_before = {index: precise_cpu_seconds(pid) for index, pid in pids.items()}
        shared_before = [cpu_seconds(pid) for pid in shared_pids]
        started = time.monotonic()
        for conn in conns:
            conn.send("go")
        result_deadline = settings.calls / settings.rate + settings.timeout_s + 120.0
        outcomes, ends = _collect(conns, pids, result_deadline)
        wall = time.monotonic() - started
        shared_after = [cpu_seconds(pid) for pid in shared_pids]
        for conn in conns:
            conn.send("stop")
        responder_conn.send("stop")
        report: ResponderReport = receive(responder_conn, "stopped", "responder", _STOP_TIMEOUT_S)
    finally:
        for conn in (*conns, responder_conn):
            conn.close()
        for process in (*processes, responder):
            reap(process)
    readings = {
        index: _ClientCpu(cpu_before[index], ends[index][0], ends[index][1] - started, idle[index])
        for index in outcomes
    }
    return _level_numbers(outcomes, readings, (shared_before, shared_after), wall, report)


def _level_numbers(
    outcomes: dict[int, ClientOutcome],
    readings: dict[int, _ClientCpu],
    shared: tuple[list[float | None], list[float | None]],
    wall: float,
    report: ResponderReport,
) -> dict[str, Any]:
    per_client = [
        {
            "client": index,
            "cpu_us_per_call": _micros_per_call(
                readings[index].start, readings[index].end, o.calls
            ),
            "work_cpu_us_per_call": _micros_per_call(0.0, readings[index].work(), o.calls),
            "idle_cpu_us_per_s": _micros_per_call(0.0, readings[index].idle_per_s, 1),
            "foreign_replies_per_call": o.foreign_replies / o.calls if o.calls else None,
            "errors": o.errors,
            "wall_s": o.wall_s,
            "calls_per_s": o.calls / o.wall_s if o.wall_s > 0 else None,
        }
        for index, o in sorted(outcomes.items())
    ]
    total_calls = sum(o.calls for o in outcomes.values())
    errors = [o.first_error for o in outcomes.values() if o.first_error]
    responder_us, broker_us = (
        _micros_per_call(a, b, total_calls) for a, b in zip(*shared, strict=True)
    )
    return {
        "clients": len(outcomes),
        "calls": total_calls,
        "errors": sum(o.errors for o in outcomes.values()),
        "first_error": errors[0] if errors else None,
        "client_cpu_us_per_call": _spread([c["cpu_us_per_call"] for c in per_client]),
        "client_work_cpu_us_per_call": _spread([c["work_cpu_us_per_call"] for c in per_client]),
        "client_idle_cpu_us_per_s": _spread([c["idle_cpu_us_per_s"] for c in per_client]),
        "foreign_replies_per_call": _spread([c["foreign_replies_per_call"] for c in per_client]),
        "responder_cpu_us_per_call": responder_us,
        "broker_cpu_us_per_call": broker_us,
        "responder_handled": report.handled,
        "calls_per_s": total_calls / wall if wall > 0 else None,
        "wall_s": wall,
        "per_client": per_client,
    }
