"""Hand work from librdkafka's threads to the event loop without blocking either.

``anyio.from_thread.run_sync`` would block the polling thread until the loop
runs the callback; a consumer thread then waits on the loop between batches.
The native "call soon, thread-safe" primitives of asyncio and trio queue the
callback and return at once, so one batch costs exactly one cheap hop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._loop import loop_schedulers

__all__ = ["LoopBridge"]


class LoopBridge:
    """Captured on the event loop; used from any thread to schedule callbacks on it."""

    __slots__ = ("_closed", "_defer", "_schedule")

    def __init__(self) -> None:
        self._schedule, self._defer = loop_schedulers()
        self._closed = False

    def call_soon(self, callback: Callable[..., object], *args: object) -> bool:
        """Schedule ``callback(*args)`` on the loop; False once the loop is gone."""
        return self._submit(self._schedule, callback, args)

    def defer(self, callback: Callable[..., object], *args: object) -> bool:
        """From the loop thread: run ``callback(*args)`` after what is already scheduled.

        Everything the current loop iteration does runs first, so work queued
        meanwhile can be handled in one go. False once the loop is gone.
        """
        return self._submit(self._defer, callback, args)

    def _submit(
        self,
        schedule: Callable[..., Any],
        callback: Callable[..., object],
        args: tuple[object, ...],
    ) -> bool:
        if self._closed:
            return False
        try:
            schedule(callback, *args)
        except RuntimeError:
            # asyncio: loop closed; trio: RunFinishedError (a RuntimeError subclass).
            self._closed = True
            return False
        return True
