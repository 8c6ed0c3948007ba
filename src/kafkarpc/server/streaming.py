"""Streaming responders: each item an async generator yields goes to its caller as it comes.

``StreamReplies.run`` takes the place of ``Responder.invoke`` for a responder that
is an async generator function, inside the same deadline, retries and
idempotency handling (``execution.py``). Each item is rendered like a reply and
produced at once with its position (docs/wire.md §9); at most ``window`` items
wait for the broker's acknowledgement, so a generator cannot run far ahead of a
slow broker. ``run`` returns the payload of the reply that ends the stream only
once every item is on the broker, so the request is acknowledged (and its
offset committed) only after all of its items and its end: a responder that
dies mid-stream leaves the request to be redelivered, and the new run starts at
position 0 again.

Under a foreign wire that streams (``StreamingWireProfile``: NestJS), every
caller gets the stream: each item but the last is sent as the profile writes an
item, and the last one is the reply that ends the call (the profile marks it),
as NestJS sends an Observable. Such a wire carries no positions, so its callers
may see items again after a redelivery. Under a foreign wire that does not
stream, every caller gets the one collected reply.

Cancellation: the generator runs under the request's deadline (the caller's
timeout). When the deadline passes, the server shuts down, or its caller says
on ``{requested}.cancel`` that it stopped listening (``start`` reads those topics,
without a consumer group, from their end), the generator is closed where it
waits (its ``finally`` blocks run).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from .._exceptions import EnvelopeError, TopicNotFound, TransportError
from .._logging import about
from ..transport import InboundRecord, OutboundRecord, ReplyConsumer, Transport
from ..wire.envelope import decode_fields, new_message
from ..wire.headers import RequestRouting, build_headers, header_dict
from ..wire.streams import (
    COLLECTED_FIELD,
    END_FIELD,
    accepts_stream,
    cancel_topic,
    item_header,
)
from ..wire.topics import TopicTrio
from .context import RequestContext
from .decide import Request
from .handler import Responder

if TYPE_CHECKING:
    from ..wire.profiles import StreamingWireProfile, WireProfile

__all__ = ["StreamReplies"]

logger = logging.getLogger("kafkarpc.server")

_WINDOW = 64
# Cancels that found no running stream here: the request may still be queued.
_REMEMBERED_CANCELS = 10_000
_CORRELATION_ID = frozenset({"correlation_id"})


class _Window:
    """Items handed to the producer and not yet acknowledged, at most ``size`` of them."""

    def __init__(self, transport: Transport, size: int) -> None:
        self._transport = transport
        self._size = size
        self._outstanding = 0
        self._failure: Exception | None = None
        self._room: anyio.Event | None = None

    async def send(self, record: OutboundRecord, position: int) -> None:
        while self._outstanding >= self._size:
            await self._wait()
        self._check(position)
        self._outstanding += 1
        try:
            self._transport.produce(record, self._settled)
        except BaseException:
            self._outstanding -= 1
            raise

    async def drain(self, sent: int) -> None:
        while self._outstanding:
            await self._wait()
        self._check(sent)

    def _check(self, position: int) -> None:
        if self._failure is not None:
            raise TransportError(
                f"an item before position {position} of the stream was not delivered: "
                f"{self._failure}"
            ) from self._failure

    async def _wait(self) -> None:
        room = self._room = anyio.Event()
        await room.wait()

    def _settled(self, error: Exception | None, _record: OutboundRecord) -> None:
        self._outstanding -= 1
        if error is not None and self._failure is None:
            self._failure = error
        if self._room is not None:
            self._room.set()


class StreamReplies:
    """Runs streaming responders and sends their items, as ``service``, over ``transport``."""

    def __init__(
        self,
        transport: Transport,
        service: str,
        *,
        window: int = _WINDOW,
        wire: WireProfile | None = None,
    ) -> None:
        self._transport = transport
        self._service = service
        self._window = window
        self._wire = wire
        self._running: dict[str, anyio.CancelScope] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._reader: ReplyConsumer | None = None

    async def start(
        self, responders: Sequence[Responder], *, create: bool, partitions: int
    ) -> None:
        """Read the cancel topics of the streaming ``responders`` (call before serving)."""
        topics = [cancel_topic(r.trio.requested) for r in responders if r.streams]
        if not topics or self._wire is not None:  # a foreign wire has no cancel messages
            return
        if create:
            await self._transport.ensure_topics(topics, partitions=partitions)
        present = []
        for topic in topics:
            try:
                await self._transport.partition_count(topic)
                present.append(topic)
            except TopicNotFound:
                logger.warning(
                    "no topic %s: streams of this operation stop at their deadline only",
                    topic, extra=about(None, topic),
                )  # fmt: skip
        if present:
            # Closed with the transport, as every reader it made.
            self._reader = await self._transport.reply_consumer(self._on_cancels)
            await self._reader.assign(present)

    def _on_cancels(self, records: list[InboundRecord]) -> None:
        for record in records:
            correlation_id = header_dict(record.headers, only=_CORRELATION_ID).get("correlation_id")
            if correlation_id is None:
                try:
                    correlation_id = decode_fields(record.value)["correlation_id"]
                except EnvelopeError:
                    continue
            scope = self._running.get(correlation_id)
            if scope is not None:
                scope.cancel()
                continue
            self._cancelled[correlation_id] = None
            if len(self._cancelled) > _REMEMBERED_CANCELS:
                self._cancelled.popitem(last=False)

    async def run(
        self,
        request: Request,
        argument: Any,
        context: RequestContext | None,
        _limiter: anyio.CapacityLimiter,
    ) -> dict[str, Any]:
        """Run ``request``'s generator to its end; the payload of the reply that ends it."""
        handler = request.handler
        kwargs: dict[str, Any] = {}
        if handler.payload_param is not None:
            kwargs[handler.payload_param] = argument
        if handler.context_param is not None:
            kwargs[handler.context_param] = context
        items = handler.func(**kwargs)
        try:
            if self._wire is not None:
                # Imported here: a server on kafkarpc's own wire never loads the profiles.
                from ..wire.profiles import StreamingWireProfile

                if isinstance(self._wire, StreamingWireProfile):
                    return await self._stream_foreign(request, items, self._wire)
            if self._wire is not None or not accepts_stream(request.record.headers):
                # A caller of request() gets every item, in one reply.
                return {COLLECTED_FIELD: [handler.render(item) async for item in items]}
            return await self._stream(request, items)
        finally:
            # Cancelled at a yield (deadline, shutdown, the caller) or failed: the
            # generator's own finally blocks run now, not whenever it is collected.
            await items.aclose()

    async def _stream(self, request: Request, items: Any) -> dict[str, Any]:
        handler = request.handler
        # Only a responder streams: Handler refuses a subscriber that is a generator.
        assert isinstance(handler, Responder)
        correlation_id = request.envelope.correlation_id
        sent = 0
        if correlation_id in self._cancelled:
            del self._cancelled[correlation_id]  # its caller left before it started
            return {END_FIELD: sent}
        with anyio.CancelScope() as scope:
            self._running[correlation_id] = scope
            try:
                window = _Window(self._transport, self._window)
                async for item in items:
                    rendered = handler.render(item)
                    await window.send(self._item(request, handler.trio, rendered, sent), sent)
                    sent += 1
                await window.drain(sent)
            finally:
                if self._running.get(correlation_id) is scope:
                    del self._running[correlation_id]
        # Cancelled by its caller, the stream ends where it was: nobody reads the end.
        return {END_FIELD: sent}

    async def _stream_foreign(
        self, request: Request, items: Any, wire: StreamingWireProfile
    ) -> dict[str, Any]:
        handler = request.handler
        incoming = wire.decode_request(request.record)  # it was read once already: it reads
        window = _Window(self._transport, self._window)
        sent = 0
        held: dict[str, Any] | None = None
        # One item behind the generator: only at its end is it known which item is the
        # last, and the last one goes out as the reply that ends the call.
        async for item in items:
            if held is not None:
                await window.send(wire.encode_reply_item(incoming, held), sent)
                sent += 1
            held = handler.render(item)
        await window.drain(sent)
        return {} if held is None else held

    def _item(
        self, request: Request, trio: TopicTrio, payload: dict[str, Any], position: int
    ) -> OutboundRecord:
        envelope, routing = request.envelope, request.routing
        message = new_message(
            event_type=trio.event_type("completed"),
            correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
            service=self._service,
            payload=payload,
            version=envelope.version,
        )
        trace = RequestRouting(traceparent=routing.traceparent, tracestate=routing.tracestate)
        headers = build_headers(message, routing=trace)
        headers.append(item_header(position))
        # Keyed by the correlation id (or on the caller's reply partition): one
        # stream's items share a partition and arrive in order.
        return OutboundRecord(
            topic=routing.reply_to or trio.completed,
            value=message.value,
            key=envelope.correlation_id.encode(),
            headers=headers,
            partition=routing.reply_partition,
        )
