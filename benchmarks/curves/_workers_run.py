"""One run of the workers curve: ``kafkarpc serve --workers N`` under a closed-loop load.

The run starts the real CLI on fresh topics, keeps ``in_flight`` calls going from this
process, and waits until every worker has answered (the handler replies with its pid:
a worker answers only once the group gave it partitions, so this is the readiness
signal, with no sleep standing in for it). After a warm-up it measures a fixed
window: completed calls, latencies, which pid answered, and the CPU each process
spent (workers, supervisor, this client process, the broker) read from /proc.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

import kafkarpc
from benchmarks.cpu import cpu_seconds
from benchmarks.curves import _workers_app as app
from benchmarks.kafka import BrokerInfo, TopicAdmin, TopicSet
from benchmarks.stats import percentile
from kafkarpc import KafkaRpcError, RpcClient, TopicTrio, ensure_topics

__all__ = ["RunSettings", "WorkersRunError", "calibrate", "run_workers"]

_APP = "benchmarks.curves._workers_app:make_server"
_ROOT = Path(__file__).resolve().parents[2]
_STOP_TIMEOUT_S = 45.0
_STARTED = re.compile(r"worker \d+ started \(pid (\d+)\)")


class WorkersRunError(Exception):
    """The served app exited early, or its workers never all answered."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    iterations: int
    """Of ``_workers_app.burn`` per request: the handler's fixed CPU work."""
    in_flight: int
    partitions: int
    warmup_s: float
    measure_s: float
    timeout_s: float
    ready_timeout_s: float


def calibrate(target_ms: float) -> tuple[int, float]:
    """Iterations of ``burn`` costing about ``target_ms`` of CPU here, and that cost.

    Thread CPU time, best of five: other processes on the cores do not count, and
    the fastest sample is the one least disturbed by them.
    """
    probe = 200_000
    best = min(_thread_cpu(probe) for _ in range(5))
    iterations = max(1, round(probe * target_ms / 1000 / best))
    return iterations, 1000 * min(_thread_cpu(iterations) for _ in range(3))


def _thread_cpu(iterations: int) -> float:
    started = time.thread_time()
    app.burn(iterations)
    return time.thread_time() - started


@dataclass(slots=True)
class _Calls:
    """What the callers saw; appended to by every caller task."""

    done: list[tuple[float, float, int, float]] = field(default_factory=list)
    """(finished at, latency s, answering pid, handler CPU s) per successful call."""
    errors: int = 0
    first_error: str | None = None
    pids: set[int] = field(default_factory=set)
    all_answered: anyio.Event = field(default_factory=anyio.Event)


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores from /proc/stat: how loaded the machine is."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _environment(op: str, group: str, iterations: int) -> dict[str, str]:
    # The served module is this repository's benchmarks package, running this kafkarpc.
    paths = [str(_ROOT), str(Path(kafkarpc.__file__).resolve().parents[1])]
    inherited = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*paths, *([inherited] if inherited else [])]),
        app.OP_ENV: op,
        app.GROUP_ENV: group,
        app.ITERATIONS_ENV: str(iterations),
    }


async def _call_forever(
    client: RpcClient, op: str, calls: _Calls, expected: int, timeout_s: float, stop: anyio.Event
) -> None:
    while not stop.is_set():
        sent = time.perf_counter()
        try:
            reply = await client.request(op, {}, timeout=timeout_s)
        except KafkaRpcError as exc:
            calls.errors += 1
            calls.first_error = calls.first_error or f"{type(exc).__name__}: {exc}"
            continue
        finished = time.perf_counter()
        calls.done.append((finished, finished - sent, int(reply["pid"]), float(reply["cpu_s"])))
        calls.pids.add(int(reply["pid"]))
        if len(calls.pids) >= expected:
            calls.all_answered.set()


async def _all_answered(process: Process, calls: _Calls, timeout_s: float) -> str | None:
    """None once every worker answered; otherwise why they did not."""
    exit_codes: list[int] = []
    with anyio.move_on_after(timeout_s):
        async with anyio.create_task_group() as watch:

            async def exited() -> None:
                exit_codes.append(await process.wait())
                watch.cancel_scope.cancel()

            watch.start_soon(exited)
            await calls.all_answered.wait()
            watch.cancel_scope.cancel()
    if calls.all_answered.is_set():
        return None
    if exit_codes:
        return f"kafkarpc serve exited with {exit_codes[0]} before its workers answered"
    return f"{len(calls.pids)} worker(s) answered within {timeout_s:.0f}s"


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if len(known) == len(values) else None


def _per_request_us(seconds: float | None, requests: int) -> float | None:
    return None if seconds is None or requests <= 0 else round(seconds * 1e6 / requests, 1)


@dataclass(frozen=True, slots=True)
class _Window:
    """CPU and clock readings at one edge of the measured window."""

    at: float
    cpu: dict[str, float | None]
    workers: dict[int, float | None]
    machine: tuple[float, float] | None

    @classmethod
    def read(cls, pids: dict[str, int | None], worker_pids: list[int]) -> _Window:
        return cls(
            time.perf_counter(),
            {name: cpu_seconds(pid) for name, pid in pids.items()},
            {pid: cpu_seconds(pid) for pid in worker_pids},
            _machine_cpu(),
        )


async def _load(
    process: Process, broker: BrokerInfo, workers: int, op: str, settings: RunSettings, log: Path
) -> tuple[_Calls, float, _Window, _Window]:
    """Keep ``in_flight`` calls going; returns the calls and the window's two edges."""
    calls = _Calls()
    stop = anyio.Event()
    started = time.perf_counter()
    failure: str | None = None
    async with (
        RpcClient(broker.bootstrap, service="bench-workers-client") as client,
        anyio.create_task_group() as callers,
    ):
        for _ in range(settings.in_flight):
            callers.start_soon(_call_forever, client, op, calls, workers, settings.timeout_s, stop)
        failure = await _all_answered(process, calls, settings.ready_timeout_s)
        if failure is not None:
            callers.cancel_scope.cancel()
        else:
            ready_s = time.perf_counter() - started
            await anyio.sleep(settings.warmup_s)  # the warm-up's length, not a synchronisation
            # A supervisor logs each worker it starts; with one worker the served process is it.
            worker_pids = sorted(_started_pids(log) or calls.pids) if workers > 1 else [process.pid]
            pids: dict[str, int | None] = {"client": os.getpid(), "broker": broker.pid}
            if workers > 1:
                pids["supervisor"] = process.pid
            first = _Window.read(pids, worker_pids)
            await anyio.sleep(settings.measure_s)
            last = _Window.read(pids, worker_pids)
            stop.set()  # each caller finishes its call in flight, then returns
    if failure is not None:
        raise WorkersRunError(f"{failure}:\n{_tail(log)}")
    return calls, ready_s, first, last


def _summary(
    workers: int, calls: _Calls, ready_s: float, first: _Window, last: _Window
) -> dict[str, Any]:
    window = last.at - first.at
    measured = [c for c in calls.done if first.at <= c[0] <= last.at]
    latencies = sorted(c[1] for c in measured)
    count = len(measured)
    cpu = {name: _delta(first.cpu[name], last.cpu[name]) for name in first.cpu}
    worker_cpu = {pid: _delta(first.workers[pid], last.workers[pid]) for pid in first.workers}
    workers_total = _sum(list(worker_cpu.values()))
    total = _sum([workers_total, *cpu.values()])
    ours = None if total is None else round(total / window, 2)
    machine = None
    if first.machine and last.machine:
        busy = (last.machine[0] - first.machine[0]) / (last.machine[1] - first.machine[1])
        machine = round(busy * (os.cpu_count() or 1), 2)
    return {
        "workers": workers,
        "requests": count,
        "errors": calls.errors,
        "first_error": calls.first_error,
        "rps": round(count / window, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 2) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 95), 2) if latencies else None,
        "window_s": round(window, 3),
        "ready_s": round(ready_s, 2),
        "handler_cpu_ms_p50": (
            round(1000 * statistics.median(c[3] for c in measured), 3) if measured else None
        ),
        "answered_by": {str(pid): n for pid, n in sorted(Counter(c[2] for c in measured).items())},
        "worker_pids": sorted(worker_cpu),
        "cpu_us_per_request": {
            "workers": _per_request_us(workers_total, count),
            **{name: _per_request_us(value, count) for name, value in cpu.items()},
            "total": _per_request_us(total, count),
        },
        # Each worker's CPU over the window: near 1.0 when it never waited for work.
        "worker_busy": {
            str(pid): None if s is None else round(s / window, 3) for pid, s in worker_cpu.items()
        },
        "ours_cores": ours,
        "machine_busy_cores": machine,
        # Cores taken by processes outside this run (other work on the machine): the
        # noise that bends the ratio, since two workers need both cores and one needs one.
        "others_cores": None if ours is None or machine is None else round(machine - ours, 2),
    }


def _started_pids(log: Path) -> set[int]:
    """The worker pids the supervisor logged (a restarted worker would add one)."""
    return {int(m.group(1)) for m in _STARTED.finditer(log.read_text(errors="replace"))}


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def _serve_and_measure(
    broker: BrokerInfo, workers: int, op: str, settings: RunSettings, log: Path
) -> dict[str, Any]:
    await ensure_topics(broker.bootstrap, [TopicTrio.from_base(op)], partitions=settings.partitions)
    command = [
        sys.executable, "-m", "kafkarpc", "serve", _APP,
        "--workers", str(workers), "--bootstrap", broker.bootstrap, "--log-level", "info",
    ]  # fmt: skip
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            command,
            cwd=_ROOT,
            env=_environment(op, f"{op}.group", settings.iterations),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        calls, ready_s, first, last = await _load(process, broker, workers, op, settings, log)
    finally:
        await _stop(process)
    return _summary(workers, calls, ready_s, first, last) | {"exit_code": process.returncode}


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)  # a supervisor forwards it; workers drain
    with anyio.move_on_after(_STOP_TIMEOUT_S) as scope:
        await process.wait()
    if scope.cancelled_caught:
        process.kill()
        await process.wait()
    await process.aclose()


def run_workers(
    broker: BrokerInfo, admin: TopicAdmin, workers: int, settings: RunSettings, log_dir: Path
) -> dict[str, Any]:
    """One run with ``workers`` processes on fresh topics, deleted afterwards."""
    # The event type comes from the op's last two segments: they must start with letters.
    op = f"bench.workers.w{uuid.uuid4().hex[:10]}.cpu.burn"
    log = log_dir / f"serve-{workers}-{op}.log"
    try:
        result: dict[str, Any] = anyio.run(_serve_and_measure, broker, workers, op, settings, log)
    finally:
        admin.delete(TopicSet(op, settings.partitions))
    return result
