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

Cancellation: the generator runs under the request's deadline (the caller's
timeout). When the deadline passes, or the server shuts down, it is closed at
the ``yield`` it is suspended at (its ``finally`` blocks run). A caller that
stops iterating early sends nothing; the generator runs on until the deadline.
"""

from __future__ import annotations

from typing import Any

import anyio

from .._exceptions import TransportError
from ..transport import OutboundRecord, Transport
from ..wire.envelope import new_message
from ..wire.headers import RequestRouting, build_headers
from ..wire.streams import COLLECTED_FIELD, END_FIELD, accepts_stream, item_header
from .context import RequestContext
from .decide import Request

__all__ = ["StreamReplies"]

_WINDOW = 64


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

    def __init__(self, transport: Transport, service: str, *, window: int = _WINDOW) -> None:
        self._transport = transport
        self._service = service
        self._window = window

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
            if not accepts_stream(request.record.headers):
                # A caller of request() gets every item, in one reply.
                return {COLLECTED_FIELD: [handler.render(item) async for item in items]}
            window = _Window(self._transport, self._window)
            sent = 0
            async for item in items:
                await window.send(self._item(request, handler.render(item), sent), sent)
                sent += 1
            await window.drain(sent)
            return {END_FIELD: sent}
        finally:
            # Cancelled at a yield (deadline, shutdown) or failed: the generator's own
            # finally blocks run now, not whenever it is collected.
            await items.aclose()

    def _item(self, request: Request, payload: dict[str, Any], position: int) -> OutboundRecord:
        envelope, routing = request.envelope, request.routing
        trio = request.handler.trio
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
