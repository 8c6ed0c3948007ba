"""A client-side dead letter (a request the broker never took), header by header (issue 18)."""

from __future__ import annotations

import struct
import time
from datetime import datetime
from typing import Any

import pytest

from kafkarpc import (
    CallRetry,
    DlqHeader,
    DlqReason,
    MemoryBroker,
    MemoryTransport,
    PublishError,
    RpcClient,
    TransportError,
)
from kafkarpc.transport import OutboundRecord
from kafkarpc.wire.dead_letter import unsent_record
from kafkarpc.wire.header_table import DEAD_LETTER_HEADERS
from kafkarpc.wire.topics import TopicTrio

pytestmark = pytest.mark.anyio

OP = "agent.unreachable"


class RefusingTransport(MemoryTransport):
    """Refuses every request; dead letters go through."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker)
        self.refused: list[OutboundRecord] = []

    def produce(self, record: OutboundRecord, on_delivery: Any) -> None:
        if record.topic.endswith(".dlq"):
            super().produce(record, on_delivery)
        else:
            self.refused.append(record)
            on_delivery(TransportError("broker refused the record"), record)


def _epoch_ms(iso: bytes) -> int:
    return round(datetime.fromisoformat(iso.decode()).timestamp() * 1000)


async def test_every_header_of_a_client_side_dead_letter(broker: MemoryBroker) -> None:
    trio = TopicTrio.from_base(OP)
    for topic in (trio.requested, trio.completed, trio.failed, f"{trio.requested}.dlq"):
        broker.create_topic(topic)
    transport = RefusingTransport(broker)
    retry = CallRetry(max_attempts=2, initial_delay=0, jitter=0)
    before_ms = time.time_ns() // 1_000_000
    async with RpcClient(service="c", transport=transport, retry=retry) as client:
        with pytest.raises(PublishError) as info:
            await client.request(OP, {"a": 1}, idempotency_key="k-1")
    after_ms = time.time_ns() // 1_000_000

    last_attempt = transport.refused[-1]
    (dead,) = broker.records(f"{trio.requested}.dlq")
    assert dead.value == last_attempt.value
    assert dead.key == last_attempt.key
    # The request's own headers first, unchanged and in order; then the DLQ's, in table order.
    kept, added = (
        dead.headers[: len(last_attempt.headers)],
        dead.headers[len(last_attempt.headers) :],
    )
    assert kept == last_attempt.headers
    # No consumer group read it: the client parked it.
    assert tuple(name for name, _ in added) == tuple(
        name for name in DEAD_LETTER_HEADERS if name != DlqHeader.ORIGINAL_CONSUMER_GROUP
    )
    request = dict(last_attempt.headers)
    values = dict(added)
    sent_at = _epoch_ms(request["timestamp"])
    assert before_ms - 1 <= sent_at <= after_ms
    stack = values.pop(DlqHeader.EXCEPTION_STACKTRACE).decode()
    assert stack.endswith(f"kafkarpc.PublishError: {info.value}\n")
    assert "kafkarpc.TransportError: broker refused the record" in stack  # its cause
    # Spring Kafka's encodings, byte for byte: -1 as a 4-byte and an 8-byte int.
    assert values == {
        DlqHeader.ORIGINAL_TOPIC: trio.requested.encode(),
        DlqHeader.ORIGINAL_PARTITION: b"\xff\xff\xff\xff",
        DlqHeader.ORIGINAL_OFFSET: b"\xff" * 8,
        DlqHeader.ORIGINAL_TIMESTAMP: struct.pack(">q", sent_at),
        DlqHeader.ORIGINAL_TIMESTAMP_TYPE: b"CreateTime",
        DlqHeader.EXCEPTION_FQCN: b"kafkarpc.PublishError",
        DlqHeader.EXCEPTION_CAUSE_FQCN: b"kafkarpc.TransportError",
        DlqHeader.EXCEPTION_MESSAGE: str(info.value).encode(),
        DlqHeader.REASON: DlqReason.PUBLISH_FAILED.value.encode(),
        DlqHeader.RETRY_COUNT: b"0",
    }
    assert request["idempotency_key"] == b"k-1"
    assert request["correlation_id"].decode() == info.value.correlation_id


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([("timestamp", b"2026-11-22T06:30:00.123Z")], 1_795_329_000_123),
        ([], 42),
        ([("timestamp", b"yesterday")], 42),
        ([("timestamp", b"\xff")], 42),
    ],
)
def test_an_unsent_record_is_stamped_when_it_was_sent_or_now(
    headers: list[tuple[str, bytes]], expected: int
) -> None:
    record = OutboundRecord("t.requested.v1", b"{}", key=b"k", headers=headers)
    unsent = unsent_record(record, now_ms=42)
    assert (unsent.partition, unsent.offset, unsent.timestamp_ms) == (-1, -1, expected)
    assert (unsent.topic, unsent.key, unsent.value, unsent.headers) == (
        record.topic,
        b"k",
        b"{}",
        headers,
    )
