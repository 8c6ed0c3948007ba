"""``EventMessage``: one consumed record in the reference ``ProtocolEventMessage`` shape."""

from __future__ import annotations

from collections.abc import Callable

from ..transport import InboundRecord
from .headers import EventHeaders
from .protocols import ProtocolEventBusHeaders

__all__ = ["EventMessage"]


class EventMessage:
    """``topic``, ``key``, ``value``, ``headers``, ``offset`` (text), ``partition`` and
    ``ack()``, which marks the record processed so its offset may be committed."""

    __slots__ = ("_ack", "headers", "key", "offset", "partition", "record", "topic", "value")

    def __init__(self, record: InboundRecord, ack: Callable[[], None] | None = None) -> None:
        self.record = record
        self.topic = record.topic
        self.key = record.key
        self.value = record.value or b""
        self.headers: ProtocolEventBusHeaders = EventHeaders(record.headers)
        self.offset: str | None = None if record.offset < 0 else str(record.offset)
        self.partition: int | None = None if record.partition < 0 else record.partition
        self._ack = ack

    async def ack(self) -> None:
        """Mark the record processed (a no-op for a record not read by a consumer group)."""
        if self._ack is not None:
            self._ack()
