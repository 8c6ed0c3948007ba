"""Handler deadlines: anyio cancel scopes that share one timer per server on asyncio.

Every handler runs inside a cancel scope with the request's deadline, so it is
cancelled there and ``anyio.current_effective_deadline()`` tells it when that is.
On asyncio anyio arms a timer (``loop.call_at``) for each scope with a deadline and
cancels it on the way out: a heap push and removal with Python comparisons, about
20k instructions per request, as much as entering and leaving the scope itself.

HOT PATH: ``deadline_scopes`` hands out, on asyncio, a subclass of anyio's own
cancel scope whose deadline is watched by one ``DeadlineWatch`` per server
instead of a timer each. Everything else is anyio's: the scope is entered, left,
shielded and cancelled by anyio's code, and reports its deadline to
``current_effective_deadline()``. Only the hook anyio calls to arm the deadline
(``_timeout``, called on entry and when the deadline changes) is replaced; should
a later anyio stop calling it, the scope arms anyio's own timer as before (slower,
not wrong). The plain version is ``LoopTools.cancel_scope`` itself, used on trio
and by ``plain=True``; tests/unit/test_server_deadlines.py holds the two to the
same behaviour and checks that the shared timer is the one in use.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from types import TracebackType
from typing import Any

import anyio

from .._loop import LoopTools, running_asyncio_loop

__all__ = ["DeadlineWatch", "deadline_scopes"]

_COMPACT_MIN = 1024


class DeadlineWatch:
    """Cancels cancel scopes at their deadlines with one timer for all of them.

    Requests from one client with one timeout reach their deadlines in the order
    they arrive, so a queue in deadline order needs no heap; a deadline earlier
    than the last one queued is refused (``add`` returns False) and gets anyio's
    own timer. Entries of scopes already left are dropped from the front as new
    ones arrive, and the queue is compacted whenever it has doubled since the
    last compaction, so it stays proportional to the handlers actually running.
    """

    __slots__ = ("_armed_for", "_compact_at", "_loop", "_queue", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: deque[tuple[float, Any]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = math.inf  # the deadline the timer is armed for
        self._compact_at = _COMPACT_MIN

    @property
    def queued(self) -> int:
        """Entries held, scopes already left included (pruned as new ones arrive)."""
        return len(self._queue)

    @property
    def watched(self) -> int:
        """How many scopes still inside their ``with`` block the watch will cancel."""
        return sum(1 for _, scope in self._queue if not scope.left)

    def add(self, deadline: float, scope: Any) -> bool:
        """Cancel ``scope`` at ``deadline`` unless it was left by then; False when the
        deadline is earlier than one already queued (the caller arms its own timer)."""
        queue = self._queue
        while queue and queue[0][1].left:
            queue.popleft()
        if queue and deadline < queue[-1][0]:
            return False
        queue.append((deadline, scope))
        if len(queue) >= self._compact_at:
            self._queue = queue = deque(entry for entry in queue if not entry[1].left)
            self._compact_at = max(2 * len(queue), _COMPACT_MIN)
        # Earlier than the armed timer when everything before it was left and
        # dropped (a short deadline after long ones finished): arm for it instead.
        first = queue[0][0]
        if first < self._armed_for:
            if self._timer is not None:
                self._timer.cancel()
            self._armed_for = first
            self._timer = self._loop.call_at(first, self._expire)
        return True

    def _expire(self) -> None:
        self._timer = None
        self._armed_for = math.inf
        queue = self._queue
        now = self._loop.time()
        while queue:
            deadline, scope = queue[0]
            if not scope.left:
                if deadline > now:
                    break
                if scope.deadline <= now:  # (not moved later since it was queued)
                    scope.cancel("deadline exceeded")
            queue.popleft()
        if queue:
            self._armed_for = queue[0][0]
            self._timer = self._loop.call_at(self._armed_for, self._expire)


def _watched_scope_class(
    base: type[anyio.CancelScope], shared: DeadlineWatch
) -> type[anyio.CancelScope]:
    class WatchedScope(base):  # type: ignore[valid-type,misc]
        """anyio's cancel scope (asyncio), its deadline kept by the shared ``watch``."""

        __slots__ = ("left",)
        watch = shared

        def _timeout(self) -> None:
            # anyio's hook for arming the deadline: on entry (and when it changes).
            # A deadline already due fires the shared timer in the next iteration.
            deadline = self.deadline
            if deadline == math.inf:
                return
            self.left = False
            if not shared.add(deadline, self):
                super()._timeout()  # earlier than one queued: anyio's own timer

        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc_val: BaseException | None,
            exc_tb: TracebackType | None,
        ) -> bool:
            self.left = True
            return super().__exit__(exc_type, exc_val, exc_tb)  # type: ignore[no-any-return]

    return WatchedScope


def deadline_scopes(loop: LoopTools, *, plain: bool = False) -> type[anyio.CancelScope]:
    """The cancel scope class to run handlers under (call from async code on the loop).

    Construct it as anyio's: ``scopes(deadline=...)``.
    """
    asyncio_loop = running_asyncio_loop()
    if plain or asyncio_loop is None:
        return loop.cancel_scope
    return _watched_scope_class(loop.cancel_scope, DeadlineWatch(asyncio_loop))
