"""Run one (system, load) level: spawn the responder and the client, hand-shake,
stream progress, and collect both processes' reports.

Both sides run in fresh spawned processes so their memory readings are their
own, and so no librdkafka thread is inherited across a fork.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from benchmarks import child
from benchmarks.cpu import cpu_seconds
from benchmarks.kafka import BrokerInfo, TopicSet
from benchmarks.progress import Progress
from benchmarks.protocol import ClientReport, ClientSpec, ResponderReport, ResponderSpec
from benchmarks.stats import CpuPerRequest, LevelResult, failed_level, summarize
from benchmarks.systems import SystemSpec
from benchmarks.workload import Workload

__all__ = ["LevelError", "reap", "receive", "run_level"]

# Process start-up plus a consumer-group join, which Tansu holds ~3 s.
_READY_TIMEOUT_S = 60.0
# kafkarpc's RpcServer lets in-flight requests finish for up to 30 s on close.
_STOP_TIMEOUT_S = 45.0
_JOIN_TIMEOUT_S = 10.0


class LevelError(Exception):
    """A process of the level crashed, exited early or hung."""


def receive(
    conn: Connection,
    expected: str,
    who: str,
    timeout_s: float,
    progress: Progress | None = None,
) -> Any:
    """Wait for an ``expected`` message, turning a crash, exit or hang into LevelError."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not conn.poll(remaining):
            raise LevelError(f"{who}: no {expected!r} within {timeout_s:.0f}s")
        try:
            kind, body = conn.recv()
        except EOFError:
            raise LevelError(f"{who}: process exited before sending {expected!r}") from None
        if kind == expected:
            return body
        if kind == "error":
            raise LevelError(f"{who} crashed:\n{body}")
        if kind == "progress" and progress is not None:
            progress.update(int(body))


def reap(process: BaseProcess) -> None:
    process.join(_JOIN_TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join()


def _cpu_mark(pids: tuple[int | None, ...]) -> tuple[float | None, ...]:
    return tuple(cpu_seconds(pid) for pid in pids)


def _cpu_per_request(
    before: tuple[float | None, ...], after: tuple[float | None, ...], requests: int
) -> CpuPerRequest:
    def micros(start: float | None, end: float | None) -> float | None:
        if start is None or end is None or requests <= 0:
            return None
        return (end - start) * 1e6 / requests

    client, responder, broker = (micros(a, b) for a, b in zip(before, after, strict=True))
    return CpuPerRequest(client, responder, broker)


def _exchange(
    system: SystemSpec,
    client_spec: ClientSpec,
    responder_spec: ResponderSpec,
    progress: Progress,
    broker_pid: int | None,
) -> tuple[ClientReport, ResponderReport, CpuPerRequest]:
    ctx = multiprocessing.get_context("spawn")
    responder_conn, responder_end = ctx.Pipe()
    client_conn, client_end = ctx.Pipe()
    responder = ctx.Process(
        target=child.responder_main,
        args=(system.responder_module, responder_spec, responder_end),
        name=f"bench-{system.name}-responder",
        daemon=True,
    )
    client = ctx.Process(
        target=child.client_main,
        args=(system.client_module, client_spec, client_end),
        name=f"bench-{system.name}-client",
        daemon=True,
    )
    # Started together so the client's set-up overlaps the responder's group join.
    responder.start()
    client.start()
    # Without closing our copies, a crashed child would never read as EOF here.
    responder_end.close()
    client_end.close()
    try:
        receive(responder_conn, "ready", "responder", _READY_TIMEOUT_S)
        receive(client_conn, "ready", "client", _READY_TIMEOUT_S)
        progress.status("running")
        # From "go" to the client's result the processes do nothing but this level
        # (warm-up, measured requests and the tail); the responder counts them all.
        pids = (client.pid, responder.pid, broker_pid)
        cpu_before = _cpu_mark(pids)
        client_conn.send("go")
        workload = client_spec.workload
        # The deadline stops new requests; the last ones may still take a timeout
        # each to fail, then the unmeasured tail drains for up to one more.
        client_report: ClientReport = receive(
            client_conn,
            "result",
            "client",
            workload.deadline_s + 2 * workload.timeout_s + _STOP_TIMEOUT_S,
            progress,
        )
        cpu_after = _cpu_mark(pids)
        responder_conn.send("stop")
        responder_report: ResponderReport = receive(
            responder_conn, "stopped", "responder", _STOP_TIMEOUT_S
        )
        cpu = _cpu_per_request(cpu_before, cpu_after, responder_report.handled)
        return client_report, responder_report, cpu
    finally:
        for conn in (client_conn, responder_conn):
            conn.close()
        reap(client)
        reap(responder)


def run_level(
    system: SystemSpec,
    broker: BrokerInfo,
    topics: TopicSet,
    workload: Workload,
    progress: Progress,
    extra_config: dict[str, str],
) -> LevelResult:
    started = time.monotonic()
    client_spec = ClientSpec(broker.bootstrap, topics, workload, extra_config)
    responder_spec = ResponderSpec(
        broker.bootstrap,
        topics,
        group_id=f"bench-{uuid.uuid4().hex[:10]}",
        extra_config=extra_config,
    )
    try:
        client_report, responder_report, cpu = _exchange(
            system, client_spec, responder_spec, progress, broker.pid
        )
    except LevelError as exc:
        return failed_level(
            system.name, workload.load, workload.measured, time.monotonic() - started, str(exc)
        )
    return summarize(
        system.name,
        workload.load,
        workload.measured,
        client_report,
        responder_report,
        cpu,
        time.monotonic() - started,
    )
