"""A one-shot wake-up that a waiter gives up on at a deadline: what every call waits on.

Each call waits once for its reply or its deadline. With anyio's ``Event`` plus
``move_on_after`` that wait builds an event, a cancel scope and a timer, and the
scope looks up the current task on the way in and out: together more CPU than
encoding the request. On asyncio a bare future and one timer handle do the same
job (cancellation of the waiting task still propagates, since it is the task's
own ``await``); other libraries (trio) keep anyio's primitives.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import anyio
import sniffio

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


class _AsyncioSignal:
    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()

    def set(self) -> None:
        _settle(self._future)

    async def wait_until(self, deadline: float) -> None:
        future = self._future
        if future.done():
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
        self.new: Callable[[], Signal]
        self.clock: Callable[[], float]
        if sniffio.current_async_library() == "asyncio":
            loop = asyncio.get_running_loop()
            self.new = functools.partial(_AsyncioSignal, loop)
            self.clock = loop.time  # anyio's clock on asyncio is this loop's time
        else:
            self.new = _Signal
            self.clock = anyio.current_time
