"""``EventBusAdapter``: the reference event-bus adapter on kafkarpc's transport.

``publish`` writes exactly the bytes it is given (the envelope is the caller's),
``subscribe`` runs a consumer-group member handing each record to ``on_message``,
``build_topic_name`` is ``TopicPrefix(environment, group)``: the topic naming hook
kafkarpc's client and server use (docs/events.md, "Topic naming").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

import anyio

from .._config import Security
from .._loop import spawn_detached
from ..transport import InboundRecord, OutboundRecord, Transport
from ..wire.topics import TopicPrefix, validate_topic_name
from ._owned import OwnedTransport
from .headers import header_list
from .message import EventMessage
from .protocols import ProtocolEventMessage

__all__ = ["EventBusAdapter"]

logger = logging.getLogger("kafkarpc.spi")

OnMessage = Callable[[ProtocolEventMessage], Awaitable[None]]
#: Records handed to ``on_message`` and not yet acknowledged, per subscription,
#: before its consumer stops fetching.
MAX_UNACKED = 1000


class EventBusAdapter:
    """``publish(topic, key, value, headers)``, ``subscribe(topic, group_id, on_message)``
    returning an ``unsubscribe`` coroutine function, ``build_topic_name(topic)`` and
    ``close()``, with ``bootstrap_servers``, ``environment`` and ``group``.

    Topics given to ``publish`` and ``subscribe`` are named by ``build_topic_name``
    (``{environment}.{group}.{topic}``), as the reference adapter names them.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        environment: str = "dev",
        group: str = "default",
        *,
        transport: Transport | None = None,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self._naming = TopicPrefix(environment, group)
        self._bootstrap = bootstrap_servers or ""
        self._transport = OwnedTransport(bootstrap_servers, transport, security, config)
        self._unsubscribes: list[Callable[[], Awaitable[None]]] = []

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    @property
    def environment(self) -> str:
        return self._naming.environment

    @property
    def group(self) -> str:
        return self._naming.group

    async def build_topic_name(self, topic: str) -> str:
        """``{environment}.{group}.{topic}``."""
        return self._naming(validate_topic_name(topic))

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: object | None = None
    ) -> None:
        """Write ``value`` as it is to ``build_topic_name(topic)``; raises ``TransportError``
        (``TopicNotFound``, ...) when the broker does not take it."""
        transport = await self._transport.get()
        record = OutboundRecord(
            topic=await self.build_topic_name(topic),
            value=value,
            key=key,
            headers=header_list(headers),
        )
        await transport.send(record)

    async def subscribe(
        self, topic: str, group_id: str, on_message: OnMessage
    ) -> Callable[[], Awaitable[None]]:
        """Hand every record of ``build_topic_name(topic)`` to ``on_message``, one at a
        time, as a member of ``group_id``; returns ``unsubscribe``. A record's offset is
        committed once ``message.ack()`` was called; an ``on_message`` that raises is
        logged and its record left unacknowledged (read again after a restart)."""
        transport = await self._transport.get()
        full_topic = await self.build_topic_name(topic)
        send, receive = anyio.create_memory_object_stream[InboundRecord](MAX_UNACKED)

        def on_batch(batch: list[InboundRecord]) -> None:
            for record in batch:
                send.send_nowait(record)  # within MAX_UNACKED: the consumer pauses first

        consumer = await transport.group_consumer(
            [full_topic], group_id=group_id, on_batch=on_batch, max_in_flight=MAX_UNACKED
        )
        scope = anyio.CancelScope()
        finished = anyio.Event()

        async def consume() -> None:
            try:
                with scope:
                    async for record in receive:
                        message = EventMessage(record, partial(consumer.ack, record))
                        try:
                            await on_message(message)
                        except Exception:
                            logger.exception("on_message failed for a record of %s", full_topic)
            finally:
                finished.set()

        spawn_detached(consume)

        async def unsubscribe() -> None:
            if scope.cancel_called:
                return  # already unsubscribed (the caller, then close())
            scope.cancel()
            await finished.wait()
            await consumer.aclose()  # commits what was acknowledged, leaves the group
            send.close()
            receive.close()

        self._unsubscribes.append(unsubscribe)
        return unsubscribe

    async def close(self) -> None:
        """Stop every subscription, then flush and close the connection."""
        unsubscribes, self._unsubscribes = self._unsubscribes, []
        for unsubscribe in unsubscribes:
            await unsubscribe()
        await self._transport.aclose()
