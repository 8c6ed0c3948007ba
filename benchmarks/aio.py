"""The closed loop for asyncio clients: ``load`` tasks, each awaiting one request at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.tracker import LoadTracker
from benchmarks.workload import PayloadSource

__all__ = ["run_closed_loop"]

Call = Callable[[dict[str, Any]], Awaitable[object]]


async def run_closed_loop(call: Call, tracker: LoadTracker) -> None:
    payloads = PayloadSource(tracker.workload)

    async def worker() -> None:
        while (index := tracker.next_index(time.perf_counter())) is not None:
            payload = payloads.payload(index)
            sent = time.perf_counter()
            try:
                await call(payload)
            except Exception as exc:  # every failure is a data point, never a crash
                tracker.complete(index, sent, time.perf_counter(), f"{type(exc).__name__}: {exc}")
            else:
                tracker.complete(index, sent, time.perf_counter(), None)

    async with asyncio.TaskGroup() as group:
        for _ in range(tracker.workload.load):
            group.create_task(worker())
