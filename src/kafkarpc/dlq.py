"""Operator tooling for dead-letter topics: list what is parked there, and replay it.

Replay re-publishes each record's original bytes and headers (minus the DLQ
bookkeeping) to the topic it came from. Requests keep their ``idempotency_key``
header, so a responder that already answered one answers it again from its
idempotency store instead of executing it twice: running replay twice is safe.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from ._config import Security
from ._exceptions import EnvelopeError, KafkaRpcError
from .transport import OutboundRecord
from .transport.kafka.config import REPLY_CONSUMER, merge_config
from .transport.kafka.errors import translate_exception
from .transport.kafka.transport import KafkaTransport
from .wire.dead_letter import DlqHeader, DlqReason
from .wire.envelope import Envelope, decode_envelope
from .wire.headers import DEAD_LETTER_HEADERS, header_dict
from .wire.topics import validate_topic_name

__all__ = ["DeadLetter", "ReplayResult", "inspect_dlq", "replay_dlq"]

_QUIET_S = 1.0

# The original caller stopped waiting long ago; with its deadline kept, the
# responder would answer DEADLINE_EXCEEDED instead of executing the replay.
_DROPPED_ON_REPLAY = frozenset({*DEAD_LETTER_HEADERS, "deadline_ms"})


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a dead-letter topic, decoded as far as it decodes."""

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
    processed: int
    succeeded: int
    failed: int


def _read_all_blocking(conf: dict[str, Any], topic: str, limit: int | None) -> list[DeadLetter]:
    """Read ``topic`` from the beginning until it stays quiet.

    High watermarks are not a safe stop condition: some Kafka-compatible brokers
    (Tansu) report them lagging behind the records they already serve.
    """
    consumer = Consumer(conf)
    letters: list[DeadLetter] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            return []
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in info.partitions])
        quiet_since = time.monotonic()
        while limit is None or len(letters) < limit:
            message = consumer.poll(0.1)
            if message is None or message.error() is not None:
                if time.monotonic() - quiet_since > _QUIET_S:
                    break
                continue
            quiet_since = time.monotonic()
            letters.append(
                _letter(
                    topic,
                    message.partition() or 0,
                    message.offset() or 0,
                    message.key(),
                    message.value(),
                    message.headers(),
                )
            )
    finally:
        consumer.close()
    return letters


def _letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    raw_headers: Any,
) -> DeadLetter:
    headers = header_dict(raw_headers if isinstance(raw_headers, list) else None)
    try:
        envelope: Envelope | None = decode_envelope(value)
    except EnvelopeError:
        envelope = None
    original = headers.get(DlqHeader.ORIGINAL_TOPIC) or topic.removesuffix(".dlq")
    return DeadLetter(
        partition=partition,
        offset=offset,
        key=key,
        value=value or b"",
        headers=headers,
        original_topic=original,
        reason=headers.get(DlqHeader.REASON, "unknown"),
        error_type=headers.get(DlqHeader.EXCEPTION_FQCN, ""),
        error_message=headers.get(DlqHeader.EXCEPTION_MESSAGE, ""),
        envelope=envelope,
    )


async def inspect_dlq(
    bootstrap: str,
    topic: str,
    *,
    limit: int | None = None,
    security: Security | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[DeadLetter]:
    """Every record currently in ``topic`` (a ``*.dlq`` topic), oldest first per partition."""
    validate_topic_name(topic)
    conf = merge_config(bootstrap, REPLY_CONSUMER, security, config)
    try:
        return await anyio.to_thread.run_sync(_read_all_blocking, conf, topic, limit)
    except KafkaException as exc:
        raise translate_exception(exc, topic=topic) from exc


async def replay_dlq(
    bootstrap: str,
    topic: str,
    *,
    include_poison: bool = False,
    security: Security | None = None,
    config: Mapping[str, Any] | None = None,
) -> ReplayResult:
    """Re-publish dead letters to their original topics.

    Poison messages (not a decodable envelope) are counted as failed and left
    alone unless ``include_poison``: replaying them would only park them again.
    """
    letters = await inspect_dlq(bootstrap, topic, security=security, config=config)
    transport = KafkaTransport(bootstrap, security=security, config=config)
    succeeded = failed = 0
    await transport.start()
    try:
        for letter in letters:
            if letter.reason == DlqReason.POISON and not include_poison:
                failed += 1
                continue
            record = OutboundRecord(
                topic=letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=[
                    (name, value.encode())
                    for name, value in letter.headers.items()
                    if name not in _DROPPED_ON_REPLAY
                ],
            )
            try:
                await transport.send(record)
            except KafkaRpcError:
                failed += 1
            else:
                succeeded += 1
    finally:
        await transport.aclose()
    return ReplayResult(processed=len(letters), succeeded=succeeded, failed=failed)
