"""Operator tooling for dead-letter topics: list what is parked there, and replay it.

Replay re-publishes each record's original bytes and headers (minus the DLQ
bookkeeping) to the topic it came from. Dead letters are read whether their
headers are Spring's binary encodings (what kafkarpc writes now) or the decimal
text earlier kafkarpc versions wrote. Requests keep their ``idempotency_key``
header, so a responder that already answered one answers it again from its
idempotency store instead of executing it twice: running replay twice is safe.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ._config import Security
from ._exceptions import EnvelopeError, KafkaRpcError
from .transport import InboundRecord, OutboundRecord, Transport
from .transport.kafka.transport import KafkaTransport
from .wire.dead_letter import DlqHeader, DlqReason, dead_letter_fields
from .wire.envelope import Envelope, decode_envelope
from .wire.header_table import DEAD_LETTER_HEADERS
from .wire.topics import validate_topic_name

__all__ = ["DeadLetter", "ReplayResult", "inspect_dlq", "replay_dlq"]

# The original caller stopped waiting long ago; with its deadline (or time to
# live, counted from the envelope's old timestamp) kept, the responder would
# answer DEADLINE_EXCEEDED instead of executing the replay.
_DROPPED_ON_REPLAY = frozenset({*DEAD_LETTER_HEADERS, "deadline_ms", "ttl_seconds"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a dead-letter topic, decoded as far as it decodes.

    ``headers`` are its headers as text (those that are not UTF-8 left out), the
    dead-letter numbers (original partition, offset, timestamp) as decimal text
    whichever encoding they were written in; ``raw_headers`` are the headers as
    they were, which replay sends.
    """

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]
    original_topic: str
    reason: str
    error_type: str
    error_message: str
    envelope: Envelope | None = field(default=None, repr=False)
    raw_headers: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (what ``kafkarpc dlq inspect`` prints)."""
        return {
            "partition": self.partition,
            "offset": self.offset,
            "original_topic": self.original_topic,
            "original_partition": self.headers.get(DlqHeader.ORIGINAL_PARTITION),
            "original_offset": self.headers.get(DlqHeader.ORIGINAL_OFFSET),
            "reason": self.reason,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "retry_count": self.headers.get(DlqHeader.RETRY_COUNT),
            "correlation_id": self.envelope.correlation_id if self.envelope else None,
            "event_type": self.envelope.event_type if self.envelope else None,
            "decodable": self.envelope is not None,
            "size": len(self.value),
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What ``replay_dlq`` did with a dead-letter topic's records.

    It counts re-publishing only: ``republished`` records were accepted by the
    broker on their original topic. Replay does not wait for the responder, so
    whether a replayed request then succeeded shows in its reply (to a caller
    that still waits) or in the record being parked again, not here.
    """

    #: Records read from the dead-letter topic.
    processed: int
    #: Records the broker accepted on their original topic (not: that the responder succeeded).
    republished: int
    #: Records not re-published: poison left parked (without ``include_poison``),
    #: or refused by the broker.
    not_republished: int

    @property
    def succeeded(self) -> int:
        """The former name of ``republished``: re-published, not known to have succeeded."""
        return self.republished

    @property
    def failed(self) -> int:
        """The former name of ``not_republished``."""
        return self.not_republished


def _letter(topic: str, record: InboundRecord) -> DeadLetter:
    headers = {name: str(value) for name, value in dead_letter_fields(record.headers).items()}
    try:
        envelope: Envelope | None = decode_envelope(record.value)
    except EnvelopeError:
        envelope = None
    original = headers.get(DlqHeader.ORIGINAL_TOPIC) or topic.removesuffix(".dlq")
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        headers=headers,
        original_topic=original,
        reason=headers.get(DlqHeader.REASON, "unknown"),
        error_type=headers.get(DlqHeader.EXCEPTION_FQCN, ""),
        error_message=headers.get(DlqHeader.EXCEPTION_MESSAGE, ""),
        envelope=envelope,
        raw_headers=tuple(record.headers),
    )


async def _read_letters(transport: Transport, topic: str, limit: int | None) -> list[DeadLetter]:
    # A missing topic raises TopicNotFound: reading it as empty would hide a
    # misspelt name behind "nothing is parked" (issue 16).
    letters: list[DeadLetter] = []
    async with aclosing(transport.read_topic(topic)) as batches:
        async for batch in batches:
            letters += (_letter(topic, record) for record in batch)
            if limit is not None and len(letters) >= limit:
                return letters[:limit]
    return letters


@asynccontextmanager
async def _started(
    transport: Transport | None,
    bootstrap: str,
    security: Security | None,
    config: Mapping[str, Any] | None,
) -> AsyncIterator[Transport]:
    """The caller's running transport as it is, or a Kafka transport for this call only."""
    if transport is not None:
        yield transport
        return
    own = KafkaTransport(bootstrap, security=security, config=config)
    await own.start()
    try:
        yield own
    finally:
        await own.aclose()


async def inspect_dlq(
    bootstrap: str,
    topic: str,
    *,
    limit: int | None = None,
    security: Security | None = None,
    config: Mapping[str, Any] | None = None,
    transport: Transport | None = None,
) -> list[DeadLetter]:
    """Every record currently in ``topic`` (a ``*.dlq`` topic), oldest first per partition.

    With ``transport`` (a started one, e.g. a ``MemoryTransport`` in tests) it is
    read through that; otherwise through a Kafka transport made for this call.
    Raises ``TopicNotFound`` when ``topic`` does not exist; an existing empty
    topic gives ``[]``.
    """
    validate_topic_name(topic)
    async with _started(transport, bootstrap, security, config) as reading:
        return await _read_letters(reading, topic, limit)


async def replay_dlq(
    bootstrap: str,
    topic: str,
    *,
    include_poison: bool = False,
    security: Security | None = None,
    config: Mapping[str, Any] | None = None,
    transport: Transport | None = None,
) -> ReplayResult:
    """Re-publish dead letters to their original topics.

    Each record goes back with its original bytes and headers, minus the DLQ's
    own and the original caller's ``deadline_ms`` and ``ttl_seconds``, so the
    responder runs it however late the replay comes; its ``idempotency_key``
    still keeps a request that already ran from running twice. The result
    counts what was re-published, not what the responder then did.

    Poison messages (not a decodable envelope) are counted as not re-published
    and left alone unless ``include_poison``: replaying them would only park
    them again.
    ``transport`` as for ``inspect_dlq``; raises ``TopicNotFound`` when
    ``topic`` does not exist.
    """
    validate_topic_name(topic)
    republished = not_republished = 0
    async with _started(transport, bootstrap, security, config) as sending:
        letters = await _read_letters(sending, topic, None)
        for letter in letters:
            if letter.reason == DlqReason.POISON and not include_poison:
                not_republished += 1
                continue
            record = OutboundRecord(
                topic=letter.original_topic,
                value=letter.value,
                key=letter.key,
                # As they were, binary ones included (a Spring caller's 16-byte
                # correlation id is not text).
                headers=[
                    (name, value)
                    for name, value in letter.raw_headers
                    if name not in _DROPPED_ON_REPLAY
                ],
            )
            try:
                await sending.send(record)
            except KafkaRpcError:
                not_republished += 1
            else:
                republished += 1
    return ReplayResult(
        processed=len(letters), republished=republished, not_republished=not_republished
    )
