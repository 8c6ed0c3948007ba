"""A one-shot wake-up that a waiter gives up on at a deadline: what every call waits on.

Each call waits once for its reply or its deadline. With anyio's ``Event`` plus
``move_on_after`` that wait builds an event, a cancel scope and a timer, and the
scope looks up the current task on the way in and out: together more CPU than
encoding the request. On asyncio a bare future and one timer handle do the same
job (cancellation of the waiting task still propagates, since it is the task's
own ``await``), and calls made with the same timeout share one timer; other
libraries (trio) keep anyio's primitives.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable

import anyio

from .._loop import running_asyncio_loop, running_clock

__all__ = ["Signals"]


class _Signal:
    """Set once (from the loop thread); ``wait_until`` returns when set or at the deadline."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait_until(self, deadline: float) -> None:
        with anyio.move_on_after(max(deadline - anyio.current_time(), 0)):
            await self._event.wait()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Deadlines:
    """Settles waiting futures at their deadlines with one timer for all of them.

    Calls made with the same timeout reach their deadlines in the order they
    were made, so a queue in deadline order needs no heap: one timer, armed for
    the oldest deadline, instead of a timer (and heap push, and cancel) per call.
    Entries of futures already settled are dropped from the front as new ones
    arrive, and the whole queue is compacted whenever it has doubled since the
    last compaction, so it stays proportional to the calls actually waiting.
    """

    __slots__ = ("_compact_at", "_loop", "_queue", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._compact_at = _COMPACT_MIN

    def add(self, deadline: float, future: asyncio.Future[None]) -> bool:
        """Queue ``future``; False when ``deadline`` is earlier than one already queued."""
        queue = self._queue
        while queue and queue[0][1].done():
            queue.popleft()
        if queue and deadline < queue[-1][0]:
            return False
        queue.append((deadline, future))
        if len(queue) >= self._compact_at:
            self._queue = queue = deque(entry for entry in queue if not entry[1].done())
            self._compact_at = max(2 * len(queue), _COMPACT_MIN)
        # Earlier than the armed timer when everything before it was settled and
        # dropped (e.g. a short call after a long one finished): arm for it instead.
        if self._timer is None or queue[0][0] < self._timer.when():
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(queue[0][0], self._expire)
        return True

    def _expire(self) -> None:
        self._timer = None
        queue = self._queue
        now = self._loop.time()
        while queue:
            deadline, future = queue[0]
            if not future.done():
                if deadline > now:
                    break
                future.set_result(None)
            queue.popleft()
        if queue:
            self._timer = self._loop.call_at(queue[0][0], self._expire)


_COMPACT_MIN = 1024


class _AsyncioSignal:
    __slots__ = ("_deadlines", "_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, deadlines: _Deadlines) -> None:
        self._loop = loop
        self._deadlines = deadlines
        self._future: asyncio.Future[None] = loop.create_future()

    def set(self) -> None:
        _settle(self._future)

    async def wait_until(self, deadline: float) -> None:
        future = self._future
        if future.done():
            return
        if self._deadlines.add(deadline, future):
            await future
            return
        timer = self._loop.call_at(deadline, _settle, future)
        try:
            await future
        finally:
            timer.cancel()


Signal = _Signal | _AsyncioSignal


class Signals:
    """Makes signals, and reads the clock their deadlines are on, for the running loop.

    Create from async code: it captures the library running it.
    """

    __slots__ = ("clock", "new")

    def __init__(self) -> None:
        self.clock: Callable[[], float] = running_clock()
        loop = running_asyncio_loop()
        # A loop of our own to schedule on: bare futures and shared timers; else anyio's.
        self.new: Callable[[], Signal] = (
            _Signal if loop is None else functools.partial(_AsyncioSignal, loop, _Deadlines(loop))
        )
