"""Streamed replies: a responder's items, received in order, each position once.

A streaming responder sends each item it yields as a reply carrying its position
(``stream_seq``, from 0), then an ordinary reply ``{"stream_items": N}`` that ends
the stream (docs/wire.md §9). The client releases items strictly in position
order, holding any that arrive early, and drops a position it already released:
a responder run again after a redelivery (or a handler retry) starts at 0 again,
and its caller sees each position once, the rest of the stream continuing from
the new run. A failure reply ends the stream with ``RemoteError`` after the items
released before it. A caller that stops early (``aclose``) tells the responders
on ``{requested}.cancel`` (best effort: the deadline stops the stream anyway).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast, overload

import anyio

from .._exceptions import EnvelopeError, KafkaRpcError
from .._logging import about
from ..transport import InboundRecord, Transport
from ..wire.envelope import EncodedPayload, ErrorCode, decode_fields
from ..wire.streams import END_FIELD, cancel_event_type, cancel_topic, stream_position
from .call import Call
from .conversation import Conversation
from .pending import OnReply
from .records import RecordWriter, send_event
from .replies import as_model

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

__all__ = ["ReplyStream", "StreamCollector", "open_stream", "send_cancel"]

logger = logging.getLogger("kafkarpc.client")

_CANCEL_BUDGET_S = 2.0
_EMPTY = EncodedPayload(b"{}")

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


async def send_cancel(transport: Transport, writer: RecordWriter, call: Call) -> None:
    """Tell the responders of ``call`` that its caller stopped listening (best effort)."""
    try:
        topic = cancel_topic(call.trio.requested)
        _, record = writer.event(
            topic,
            _EMPTY,
            event_type=cancel_event_type(call.trio),
            key=None,
            correlation_id=call.correlation_id,
            headers=None,
        )
        await send_event(transport, record, call.correlation_id, _CANCEL_BUDGET_S)
    except KafkaRpcError as exc:
        # Without the cancel, the responder stops the stream at its deadline.
        logger.info(
            "could not cancel stream %s: %s",
            call.correlation_id,
            exc,
            extra=about(call.correlation_id, call.trio.requested),
        )


#: Makes a stream's ``OnReply`` from its call and what hands an item to the caller.
Collect = Callable[[Call, Callable[[dict[str, Any]], None]], OnReply]


def open_stream(
    send: Callable[[Call], Any],
    call: Call,
    library: str,
    item_model: type[ItemT] | None,
    cancel: Callable[[], Awaitable[None]] | None,
    collect: Collect = StreamCollector,
) -> ReplyStream[Any]:
    """The ``ReplyStream`` of ``call`` (not sent until first iterated); ``cancel`` tells
    its responder when the caller stops early; ``collect`` reads its replies (a
    foreign wire reads them as its profile says, ``foreign.ProfileStreamCollector``)."""
    conversation: Conversation[dict[str, Any]] = Conversation(send, call, library)
    call.on_reply = collect(call, conversation.put)
    return ReplyStream(conversation, item_model, cancel)


class ReplyStream(Generic[ItemT]):
    """The items of one streamed reply, in order: ``async for item in client.stream(...)``.

    Each item is a dict, or an ``item_model`` instance. Iteration ends after the
    last item; it raises ``RemoteError`` when the responder failed (after the items
    sent before the failure), ``RequestTimeout`` when the deadline passed first.
    Leaving an ``async with`` block (or ``aclose()``) stops listening early and
    cancels the responder's generator (docs/patterns.md); so does a plain ``break``
    out of ``async for``, once the event loop finalizes the dropped iteration.
    """

    @overload
    def __init__(
        self: ReplyStream[dict[str, Any]],
        conversation: Conversation[dict[str, Any]],
        item_model: None,
        cancel: Callable[[], Awaitable[None]] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        conversation: Conversation[dict[str, Any]],
        item_model: type[ItemT],
        cancel: Callable[[], Awaitable[None]] | None = None,
    ) -> None: ...

    def __init__(
        self,
        conversation: Conversation[dict[str, Any]],
        item_model: type[ItemT] | None,
        cancel: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._conversation = conversation
        self._model = item_model
        self._cancel = cancel
        self.received = 0
        """Items handed to the caller so far."""

    def __aiter__(self) -> AsyncIterator[ItemT]:
        # An async generator rather than ``self``: a caller that breaks out of
        # ``async for`` without ``async with`` drops it, the event loop's
        # async-generator finalizer (asyncio and trio both install one) closes it,
        # and its ``finally`` cancels the responder's generator as ``aclose`` does.
        return self._items()

    async def _items(self) -> AsyncGenerator[ItemT, None]:
        try:
            while True:
                try:
                    item = await self.__anext__()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            await self.aclose()

    def start(self) -> None:
        """Send the request now rather than at the first ``async for`` step."""
        self._conversation.start()

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
        # item_model is a pydantic model class (RpcClient.stream's signature says so).
        return cast(ItemT, as_model(payload, cast("type[BaseModel]", model), conversation.call))

    async def aclose(self) -> None:
        """Stop listening; a stream still running is cancelled on its responder."""
        abandoned = self._conversation.running
        await self._conversation.aclose()
        if abandoned and self._cancel is not None:
            await self._cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
