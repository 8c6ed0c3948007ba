"""Tell anyio which event loop runs our own code, once, instead of on every operation.

Every anyio primitive (an event, a cancel scope, a stream receive, the clock)
asks sniffio which library is running; under asyncio sniffio answers by looking
up the current task, which costs more than some of the operations themselves.
sniffio checks its context variable first, so code that already knows the answer
sets it for the duration of its own work. The value is always the loop the
calling task runs on, so nothing it affects can be told anything untrue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import Token

import anyio
import sniffio

__all__ = ["adopt_current_library", "forget_library", "running_clock", "running_library"]


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


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The calling task's asyncio loop, or None under another library (trio).

    For code that can use the loop's own primitives when there is one, without
    asking which library runs it. Call from async code.
    """
    if sniffio.current_async_library() == "asyncio":
        return asyncio.get_running_loop()
    return None
