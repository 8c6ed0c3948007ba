"""Streamed replies: a responder's items, received in order, each position once.

A streaming responder sends each item it yields as a reply carrying its position
(``stream_seq``, from 0), then an ordinary reply ``{"stream_items": N}`` that ends
the stream (docs/wire.md §9). The client releases items strictly in position
order, holding any that arrive early, and drops a position it already released:
a responder run again after a redelivery (or a handler retry) starts at 0 again,
and its caller sees each position once, the rest of the stream continuing from
the new run. A failure reply ends the stream with ``RemoteError`` after the items
released before it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

import anyio
from pydantic import BaseModel

from .._exceptions import EnvelopeError
from ..transport import InboundRecord
from ..wire.envelope import ErrorCode, decode_fields
from ..wire.streams import END_FIELD, stream_position
from .call import Call
from .conversation import Conversation
from .replies import as_model

__all__ = ["ReplyStream", "StreamCollector", "open_stream"]

ItemT = TypeVar("ItemT")


class StreamCollector:
    """A stream's ``OnReply``: releases items in position order; over once all are out."""

    def __init__(self, call: Call, deliver: Callable[[dict[str, Any]], None]) -> None:
        self._call = call
        self._deliver = deliver
        self._next = 0
        self._early: dict[int, dict[str, Any]] = {}
        self._total: int | None = None
        self._end: InboundRecord | None = None

    @property
    def released(self) -> int:
        return self._next

    def __call__(self, record: InboundRecord) -> tuple[InboundRecord | None, bool]:
        if self._over():
            return self._end, True
        position = stream_position(record.headers)
        try:
            payload = decode_fields(record.value)["payload"]
        except EnvelopeError:
            return self._finish(record)  # the transport layer names the bad reply
        if position is None:
            return self._ended(record, payload)
        if position >= self._next:
            self._early.setdefault(position, payload)
            self._release()
        return (self._end, True) if self._over() else (None, False)

    def _ended(
        self, record: InboundRecord, payload: dict[str, Any]
    ) -> tuple[InboundRecord | None, bool]:
        if record.topic == self._call.trio.failed:
            if payload.get("error_code") == ErrorCode.DEADLINE_EXCEEDED:
                # The responder's notice that the deadline passed may beat the caller's
                # own timer; the caller's timer decides: RequestTimeout, every time.
                return None, False
            return self._finish(record)
        total = payload.get(END_FIELD)
        if not isinstance(total, int) or isinstance(total, bool):
            # A responder that does not stream answered with one plain reply: one item.
            if self._next == 0:
                self._deliver(payload)
                self._next = 1
            return self._finish(record)
        self._total, self._end = total, record
        # Until every item is out, nothing stands for the call: a deadline passing
        # now is a timeout, not an ended stream.
        return (record, True) if self._over() else (None, False)

    def _finish(self, record: InboundRecord) -> tuple[InboundRecord, bool]:
        self._total, self._end = self._next, record
        return record, True

    def _release(self) -> None:
        early = self._early
        while self._next in early:
            self._deliver(early.pop(self._next))
            self._next += 1

    def _over(self) -> bool:
        return self._total is not None and self._next >= self._total


def open_stream(
    send: Callable[[Call], Any], call: Call, library: str, item_model: type[ItemT] | None
) -> ReplyStream[Any]:
    """The ``ReplyStream`` of ``call`` (not sent until first iterated)."""
    conversation: Conversation[dict[str, Any]] = Conversation(send, call, library)
    call.on_reply = StreamCollector(call, conversation.put)
    return ReplyStream(conversation, item_model)


class ReplyStream(Generic[ItemT]):
    """The items of one streamed reply, in order: ``async for item in client.stream(...)``.

    Each item is a dict, or an ``item_model`` instance. Iteration ends after the
    last item; it raises ``RemoteError`` when the responder failed (after the items
    sent before the failure), ``RequestTimeout`` when the deadline passed first.
    Leaving an ``async with`` block (or ``aclose()``) stops listening early; the
    responder's generator is cancelled at the call's deadline (docs/patterns.md).
    """

    @overload
    def __init__(
        self: ReplyStream[dict[str, Any]],
        conversation: Conversation[dict[str, Any]],
        item_model: None,
    ) -> None: ...

    @overload
    def __init__(
        self, conversation: Conversation[dict[str, Any]], item_model: type[ItemT]
    ) -> None: ...

    def __init__(
        self, conversation: Conversation[dict[str, Any]], item_model: type[ItemT] | None
    ) -> None:
        self._conversation = conversation
        self._model = item_model
        self.received = 0
        """Items handed to the caller so far."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ItemT:
        conversation = self._conversation
        conversation.start()
        try:
            payload = await conversation.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if conversation.ended is not None:
                raise conversation.ended from None
            raise StopAsyncIteration from None
        self.received += 1
        model = self._model
        if model is None:
            return payload  # type: ignore[return-value]  # ItemT is dict[str, Any] here
        assert issubclass(model, BaseModel)
        return as_model(payload, model, conversation.call)

    async def aclose(self) -> None:
        await self._conversation.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
