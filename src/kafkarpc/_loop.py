"""The one place that knows asyncio from trio: which loop runs us, and its fast primitives.

Every anyio primitive (an event, a cancel scope, a stream receive, the clock)
asks sniffio which library is running; under asyncio sniffio answers by looking
up the current task, which costs more than some of the operations themselves.
So code that already knows the answer sets it for the duration of its own work
(``adopt_current_library``), and the responder takes the few primitives it uses
per request from ``LoopTools`` resolved once for the running loop. The value is
always the loop the calling task runs on, so nothing it affects is told anything
untrue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import anyio
import sniffio

__all__ = [
    "LoopTools",
    "adopt_current_library",
    "forget_library",
    "loop_schedulers",
    "running_asyncio_loop",
    "running_clock",
    "running_library",
    "running_loop_library",
    "spawn_detached",
]


def running_library() -> str:
    """The async library of the calling task (call from async code)."""
    return sniffio.current_async_library()


def running_clock() -> Callable[[], float]:
    """anyio's clock for the calling task's loop, minus anyio's lookup on every read.

    On asyncio anyio's clock is the running loop's ``time``; elsewhere it is
    ``anyio.current_time`` itself. Call from async code; valid while that loop runs.
    """
    if sniffio.current_async_library() == "asyncio":
        return asyncio.get_running_loop().time
    return anyio.current_time


def adopt_current_library(library: str) -> Token[str | None]:
    """Record ``library`` for the current context; undo with ``forget_library``."""
    return sniffio.current_async_library_cvar.set(library)


def forget_library(token: Token[str | None]) -> None:
    sniffio.current_async_library_cvar.reset(token)


@dataclass(frozen=True, slots=True)
class LoopTools:
    """The loop primitives a responder uses on every request, and its library's name.

    ``LoopTools.plain()`` is anyio's own functions, which look the running library
    up on each call; ``LoopTools.running()`` is the same primitives resolved once
    for the calling task's loop. tests/unit/test_server_loop.py holds the two to
    the same behaviour on asyncio and on trio.
    """

    library: str
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    cancel_scope: type[anyio.CancelScope]

    @classmethod
    def plain(cls, library: str = "asyncio") -> LoopTools:
        return cls(library, anyio.current_time, anyio.sleep, anyio.CancelScope)

    @classmethod
    def running(cls) -> LoopTools:
        """The calling task's loop's primitives (call from async code on that loop).

        HOT PATH: anyio's clock, sleep and CancelScope() each look up the running
        library on every call. Resolving them once (the backend's own CancelScope
        class, which ``anyio.CancelScope()`` constructs; the loop's ``time``;
        asyncio's own sleep) was part of the responder's 341k -> 312k instructions
        per request (benchmarks.hotpath under callgrind; docs/benchmarks.md).
        """
        library = running_library()
        sleep = asyncio.sleep if library == "asyncio" else anyio.sleep
        return cls(library, running_clock(), sleep, type(anyio.CancelScope()))


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The calling task's asyncio loop, or None under another library (trio).

    For code that can use the loop's own primitives when there is one, without
    asking which library runs it. Call from async code.
    """
    if sniffio.current_async_library() == "asyncio":
        return asyncio.get_running_loop()
    return None


def running_loop_library() -> str | None:
    """The event loop running in this thread (``"asyncio"``, ``"trio"``), or None."""
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        pass
    # sniffio only sees tasks; a plain loop callback (call_soon) runs outside one.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "asyncio"


def loop_schedulers() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The running loop's thread-safe "call soon", and its cheaper same-thread one.

    Called on the loop. The native primitives queue the callback and return at once
    (``anyio.from_thread.run_sync`` would block the calling thread until it ran); from
    the loop's own thread asyncio's plain ``call_soon`` needs no wake-up write.
    """
    library = sniffio.current_async_library()
    if library == "asyncio":
        loop = asyncio.get_running_loop()
        return loop.call_soon_threadsafe, loop.call_soon
    if library == "trio":
        import trio

        run_soon = trio.lowlevel.current_trio_token().run_sync_soon
        return run_soon, run_soon
    raise RuntimeError(f"unsupported async library {library!r}")  # pragma: no cover


# Tasks started by spawn_detached, held so that asyncio does not collect them mid-run.
_DETACHED: set[asyncio.Task[None]] = set()


def spawn_detached(run: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``run()`` as a task of its own on the calling task's loop, owned by no task group.

    For work that outlives the call that starts it but never its own deadline (a
    conversation's reply wait, which an async iterator started). ``run`` must
    catch everything it raises: under trio a failed system task ends the run.
    Call from async code.
    """
    library = sniffio.current_async_library()
    if library == "asyncio":
        task = asyncio.get_running_loop().create_task(run())
        _DETACHED.add(task)
        task.add_done_callback(_DETACHED.discard)
    elif library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(run)
    else:  # pragma: no cover
        raise RuntimeError(f"unsupported async library {library!r}")
