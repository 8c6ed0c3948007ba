"""The reference message protocols (``omnibase_spi``), as kafkarpc.spi hands messages out.

``EventMessage`` and ``EventHeaders`` satisfy these; callbacks given to
``EventBusAdapter.subscribe`` and ``DlqHandler.reprocess_dlq_messages`` receive a
``ProtocolEventMessage``, exactly as the reference declares them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, runtime_checkable
from uuid import UUID

__all__ = ["ProtocolEventBusHeaders", "ProtocolEventMessage"]


@runtime_checkable
class ProtocolEventBusHeaders(Protocol):
    """Standard headers of an event-bus message (the reference's shape)."""

    @property
    def content_type(self) -> str: ...
    @property
    def correlation_id(self) -> UUID: ...
    @property
    def message_id(self) -> UUID: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> str: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def span_id(self) -> str | None: ...
    @property
    def parent_span_id(self) -> str | None: ...
    @property
    def priority(self) -> Literal["low", "normal", "high", "critical"] | None: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def partition_key(self) -> str | None: ...
    @property
    def retry_count(self) -> int | None: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def ttl_seconds(self) -> int | None: ...


@runtime_checkable
class ProtocolEventMessage(Protocol):
    """One consumed message (the reference's shape)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: ProtocolEventBusHeaders
    offset: str | None
    partition: int | None

    async def ack(self) -> None: ...
