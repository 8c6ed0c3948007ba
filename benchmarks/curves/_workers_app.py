"""The app ``kafkarpc serve --workers N`` runs for the workers curve.

Its settings come from the environment (the supervisor's workers inherit it), so one
module serves every run: ``kafkarpc serve benchmarks.curves._workers_app:make_server``.
The handler burns a fixed amount of pure-Python CPU (a fixed iteration count, not a
wall-clock duration: a busy-wait for N ms would do less work when the process is
descheduled, flattering the scaling), and answers with the worker's pid and the CPU
the handler's thread spent on it.
"""

from __future__ import annotations

import os
import time
from typing import Any

from kafkarpc import RpcServer

__all__ = ["GROUP_ENV", "ITERATIONS_ENV", "OP_ENV", "SESSION_TIMEOUT_MS", "burn", "make_server"]

OP_ENV = "BENCH_WORKERS_OP"
GROUP_ENV = "BENCH_WORKERS_GROUP"
ITERATIONS_ENV = "BENCH_WORKERS_ITERATIONS"

# Tansu holds a JoinGroup for about half the session timeout: 2 s keeps each join
# (and the rebalance when the second worker arrives) near one second.
SESSION_TIMEOUT_MS = 2000
_FAST_GROUP = {"session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": 500}


def burn(iterations: int) -> int:
    """Pure-Python integer arithmetic: CPU-bound, holds the GIL, allocates nothing."""
    acc = 0
    for i in range(iterations):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def make_server() -> RpcServer:
    iterations = int(os.environ[ITERATIONS_ENV])
    server = RpcServer(
        os.environ["KAFKARPC_BOOTSTRAP"],
        service="bench-workers",
        group_id=os.environ[GROUP_ENV],
        config=_FAST_GROUP,
    )

    # An async handler that never awaits: it holds its worker's event loop for the
    # whole computation, as CPU-bound code in an async handler does.
    async def compute(payload: dict[str, Any]) -> dict[str, Any]:
        started = time.thread_time()
        burn(iterations)
        return {"pid": os.getpid(), "cpu_s": time.thread_time() - started}

    server.add_responder(os.environ[OP_ENV], compute)
    return server
