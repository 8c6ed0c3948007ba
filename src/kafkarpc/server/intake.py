"""Intake: fetched records to a fixed pool of workers, and the mark where fetching pauses.

A fixed pool bounds concurrency and costs no task creation per request. Records
are taken in fetch order; workers finish everything already fetched before they
stop, because skipping a queued request would hold its partition's commit below
requests that did finish, and a restart would run those again. Backpressure is
the group consumer's: it pauses fetching while ``fetch_high_mark`` requests are
fetched but not yet acknowledged; the intake itself takes every batch it is given
while open and refuses (leaves unacknowledged) every batch after ``close``.

Two intakes do the same: ``StreamIntake`` over an anyio memory object stream (the
plain version) and ``DequeIntake`` (the one the server uses; see HOT PATH below).
tests/unit/test_server_intake.py runs both and holds them to the same results.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskGroup

from .._loop import LoopTools, adopt_current_library
from ..transport import InboundRecord

__all__ = [
    "RECORDS_PER_CHECKPOINT",
    "DequeIntake",
    "Intake",
    "StreamIntake",
    "fetch_high_mark",
]

Handle = Callable[[InboundRecord], Awaitable[None]]

RECORDS_PER_CHECKPOINT = 8
"""How many records a ``DequeIntake`` worker may handle without yielding to the loop.

Handlers that suspend (any I/O) let other tasks in anyway; this bounds what a run
of handlers that never suspend holds the loop for, and how many of them start
after the server was cancelled. A checkpoint is a trip through the loop: about 8k
instructions, 3% of a request."""


def fetch_high_mark(workers: int) -> int:
    """How many fetched, unacknowledged requests pause the consumer.

    Fetched-but-waiting records are cheap; pausing the consumer at every free
    slot would cost a refetch each time. Pause only at a high mark.
    """
    return max(4 * workers, 256)


class _Pool(ABC):
    """What both intakes share: starting the workers and knowing when all have stopped."""

    def __init__(self, workers: int, loop: LoopTools) -> None:
        self._workers = workers
        self._loop = loop
        self._running = 0
        self._done = anyio.Event()
        self.open = False

    def start(self, task_group: TaskGroup, handle: Handle) -> None:
        self.open = True
        self._running = self._workers
        for _ in range(self._workers):
            task_group.start_soon(self._work, handle)

    async def drained(self) -> None:
        """Wait until every worker has stopped (call after ``close``)."""
        if self._running:
            await self._done.wait()

    async def _work(self, handle: Handle) -> None:
        adopt_current_library(self._loop.library)  # this task's own context, for its lifetime
        try:
            await self._serve(handle)
        finally:
            self._running -= 1
            if not self._running:
                self._done.set()

    @abstractmethod
    async def _serve(self, handle: Handle) -> None:
        """One worker's loop: handle records until the intake closes and drains."""


class StreamIntake(_Pool):
    """The plain intake: an unbounded memory object stream shared by the workers."""

    def __init__(self, workers: int, loop: LoopTools) -> None:
        super().__init__(workers, loop)
        self._send, self._receive = anyio.create_memory_object_stream[InboundRecord](math.inf)

    def accept(self, batch: list[InboundRecord]) -> None:
        """Queue ``batch`` for the workers; once the intake is closed, leave it unacknowledged."""
        if not self.open:
            return
        for record in batch:
            self._send.send_nowait(record)

    def close(self) -> None:
        """Workers finish what is queued, then stop."""
        self.open = False
        self._send.close()

    async def _serve(self, handle: Handle) -> None:
        async for record in self._receive:
            await handle(record)


class DequeIntake(_Pool):
    """The intake the server uses: a deque of records and a deque of idle workers.

    HOT PATH: the same as ``StreamIntake`` (fetch order, drain on close) at a
    fraction of the cost: with the synchronous built-in idempotency store it took
    the responder from 312k to 295k instructions per request (benchmarks.hotpath
    under callgrind; a memory object stream does the same at several times the
    cost per record). Where a stream's ``receive()`` checkpoints on every record,
    a worker here checkpoints on every ``RECORDS_PER_CHECKPOINT``-th (253.5k ->
    246.3k instructions per request).
    """

    def __init__(self, workers: int, loop: LoopTools) -> None:
        super().__init__(workers, loop)
        self._queue: deque[InboundRecord] = deque()
        self._idle: deque[anyio.Event] = deque()

    def accept(self, batch: list[InboundRecord]) -> None:
        """Queue ``batch`` for the workers; once the intake is closed, leave it unacknowledged."""
        if not self.open:
            return
        self._queue.extend(batch)
        idle = self._idle
        for _ in range(min(len(batch), len(idle))):
            idle.popleft().set()

    def close(self) -> None:
        """Workers finish what is queued, then stop."""
        self.open = False
        while self._idle:
            self._idle.popleft().set()

    async def _serve(self, handle: Handle) -> None:
        queue = self._queue
        sleep = self._loop.sleep
        taken = 0
        while True:
            # A worker whose handlers never suspend must still let other tasks (and
            # cancellation) in; every few records is enough, and each checkpoint is a
            # trip through the loop (see RECORDS_PER_CHECKPOINT).
            taken += 1
            if taken % RECORDS_PER_CHECKPOINT == 0:
                await sleep(0)
            while not queue:
                if not self.open:
                    return
                await self._wait_for_records()
            await handle(queue.popleft())

    async def _wait_for_records(self) -> None:
        arrived = anyio.Event()
        self._idle.append(arrived)
        try:
            await arrived.wait()
        finally:
            if not arrived.is_set():  # cancelled: a wake-up must not go to a gone worker
                self._idle.remove(arrived)


Intake = DequeIntake | StreamIntake
