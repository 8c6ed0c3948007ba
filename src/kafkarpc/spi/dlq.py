"""``DlqHandler``: the reference DLQ protocol on kafkarpc's dead-letter records and tools.

A parked record is kafkarpc's own dead letter (``{topic}.dlq``, Spring Kafka's header
names; docs/wire.md §5), so ``kafkarpc dlq inspect|replay``, ``inspect_dlq`` and
``replay_dlq`` see what ``send_to_dlq`` parks, and ``reprocess_dlq_messages`` reads
with ``inspect_dlq``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._config import Security
from ..dlq import DeadLetter, inspect_dlq
from ..transport import InboundRecord, Transport
from ..wire.dead_letter import DlqReason, dead_letter_record
from ._owned import OwnedTransport
from .headers import header_list
from .message import EventMessage
from .protocols import ProtocolEventMessage

__all__ = ["DlqHandler"]

logger = logging.getLogger("kafkarpc.spi")

#: What ``reprocess_dlq_messages`` hands each record to: True when it was handled.
Handler = Callable[[ProtocolEventMessage], Awaitable[bool]]


def _record_of(original_topic: str, message: Any) -> InboundRecord:
    """A consumed message (an ``EventMessage`` or any ``ProtocolEventMessage``) as the
    record it was."""
    if isinstance(message, EventMessage):
        return message.record
    offset, partition = getattr(message, "offset", None), getattr(message, "partition", None)
    headers = getattr(message, "headers", None)
    return InboundRecord(
        topic=original_topic,
        partition=-1 if partition is None else int(partition),
        offset=-1 if offset is None else int(offset),
        key=getattr(message, "key", None),
        value=getattr(message, "value", b""),
        headers=header_list(getattr(headers, "raw", headers)),
        timestamp_ms=time.time_ns() // 1_000_000,
    )


class DlqHandler:
    """``send_to_dlq(original_topic, message, error, retry_count)`` and
    ``reprocess_dlq_messages(dlq_topic, handler, max_retries)``, and ``close()``."""

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        transport: Transport | None = None,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers or ""
        self._transport = OwnedTransport(bootstrap_servers, transport, security, config)

    async def send_to_dlq(
        self, original_topic: str, message: Any, error: Exception, retry_count: int
    ) -> None:
        """Park ``message`` in ``{original_topic}.dlq`` with the error and retry count;
        raises ``TransportError`` when the broker does not take it."""
        record = _record_of(original_topic, message)
        if record.topic != original_topic:
            record = InboundRecord(
                original_topic,
                record.partition,
                record.offset,
                record.key,
                record.value,
                record.headers,
                record.timestamp_ms,
            )
        dead = dead_letter_record(
            record, error, reason=DlqReason.HANDLER_EXHAUSTED, retry_count=retry_count
        )
        transport = await self._transport.get()
        await transport.send(dead)

    async def reprocess_dlq_messages(
        self,
        dlq_topic: str,
        handler: Handler,
        max_retries: int = 3,
    ) -> dict[str, int]:
        """Hand every record now in ``dlq_topic`` to ``handler``, up to ``max_retries``
        times each until it returns True (an exception counts as False). Returns
        ``{"processed": N, "succeeded": M, "failed": K}``. Records stay in the
        topic (Kafka deletes nothing): a second run reprocesses them again."""
        if max_retries < 1:
            raise ValueError(f"max_retries must be >= 1, got {max_retries}")
        transport = await self._transport.get()
        letters = await inspect_dlq(self._bootstrap, dlq_topic, transport=transport)
        succeeded = 0
        for letter in letters:
            if await self._reprocess(letter, handler, max_retries):
                succeeded += 1
        return {
            "processed": len(letters),
            "succeeded": succeeded,
            "failed": len(letters) - succeeded,
        }

    async def _reprocess(
        self,
        letter: DeadLetter,
        handler: Callable[[ProtocolEventMessage], Awaitable[bool]],
        tries: int,
    ) -> bool:
        record = InboundRecord(
            topic=letter.original_topic,
            partition=letter.partition,
            offset=letter.offset,
            key=letter.key,
            value=letter.value,
            headers=[(name, value.encode()) for name, value in letter.headers.items()],
        )
        for attempt in range(1, tries + 1):
            try:
                if await handler(EventMessage(record)):
                    return True
            except Exception:
                logger.exception(
                    "reprocessing %s@%d failed (attempt %d/%d)",
                    letter.original_topic, letter.offset, attempt, tries,
                )  # fmt: skip
        return False

    async def close(self) -> None:
        await self._transport.aclose()
