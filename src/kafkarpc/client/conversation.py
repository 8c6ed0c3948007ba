"""A call answered by many replies, run through the send pipeline in a task of its own.

A gather or a stream is one ``Call``: it goes down the same pipeline as a
request (span and metrics, circuit, route, in-flight slot, deadline, transport),
and its pending entry (``PendingReplies``) takes every reply until the call is
over. The pipeline only returns at that end, so it runs in a task of its own
while the caller iterates: each reply the entry takes is handed to the caller
through an unbounded queue here, in the order the call's own rules release them.
"""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._exceptions import ClientClosed
from .._loop import adopt_current_library, spawn_detached
from .call import Call, Send

__all__ = ["Conversation"]

ItemT = TypeVar("ItemT")


class Conversation(Generic[ItemT]):
    """Sends ``call`` once, in the background, and queues what its replies release.

    ``put`` is called by the call's reply handler (on the loop, as replies
    arrive); ``receive`` gives the caller the next item, or raises
    ``anyio.EndOfStream`` once the call is over and everything was received.
    ``ended`` is then how the pipeline finished: None when it returned, else the
    error it raised. ``aclose`` stops the call early.
    """

    def __init__(self, send: Send, call: Call, library: str) -> None:
        self.call = call
        self._send = send
        self._library = library
        self._put: MemoryObjectSendStream[ItemT]
        self._get: MemoryObjectReceiveStream[ItemT]
        self._put, self._get = anyio.create_memory_object_stream[ItemT](math.inf)
        self._scope: anyio.CancelScope | None = None  # set by the task running the call
        self._stopped = False
        self._over = anyio.Event()
        self.started = False
        self.ended: BaseException | None = None
        self.result: dict[str, Any] | None = None

    def start(self) -> None:
        """Send the call; returns at once (call from async code on the client's loop)."""
        if not self.started:
            self.started = True
            spawn_detached(self._run)

    @property
    def running(self) -> bool:
        """Sent and not over: its replies are still being waited for."""
        return self.started and not self._over.is_set()

    def put(self, item: ItemT) -> None:
        if not self._over.is_set():
            self._put.send_nowait(item)

    async def receive(self) -> ItemT:
        return await self._get.receive()

    async def aclose(self) -> None:
        """Stop waiting for replies (the pending entry goes) and wait until the call is over."""
        if not self.started:
            self._over.set()
            self._put.close()
            return
        self._stopped = True
        if self._scope is not None:
            self._scope.cancel()
        await self._over.wait()
        self._get.close()

    async def _run(self) -> None:
        adopt_current_library(self._library)  # this task's own context, for its lifetime
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self._stopped:
                    scope.cancel()
                try:
                    self.result = await self._send(self.call)
                except Exception as exc:
                    self.ended = exc
            if scope.cancelled_caught:
                self.ended = ClientClosed(
                    "the conversation was closed before it ended",
                    correlation_id=self.call.correlation_id,
                    topic=self.call.trio.requested,
                    elapsed=self.call.elapsed(),
                )
        finally:
            self._over.set()
            self._put.close()
