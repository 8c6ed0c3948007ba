"""A request the broker refuses for its size reaches the caller as PayloadTooLarge."""

from __future__ import annotations

import pytest

from kafkarpc import (
    CallRetry,
    MemoryBroker,
    MemoryTransport,
    PayloadTooLarge,
    RpcClient,
    TopicTrio,
)
from kafkarpc.transport import DeliveryCallback, OutboundRecord

pytestmark = pytest.mark.anyio

_BROKER_LIMIT = 1_000


class _SmallerBrokerLimit(MemoryTransport):
    """A broker whose own limit is below the producer's: the record passes the size
    check, leaves, and the broker refuses it (as Kafka's MESSAGE_TOO_LARGE does)."""

    produced: int = 0

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        if record.topic.endswith(".requested.v1"):
            self.produced += 1
            if len(record.value) > _BROKER_LIMIT:
                refused = PayloadTooLarge(
                    "larger than the broker accepts", size=len(record.value), limit=_BROKER_LIMIT
                )
                on_delivery(refused, record)
                return
        super().produce(record, on_delivery)


async def test_a_size_refusal_is_payload_too_large_not_retried_nor_dead_lettered() -> None:
    broker = MemoryBroker()
    trio = TopicTrio.from_base("billing.charge")
    dead_letters = f"{trio.requested}.dlq"
    for topic in (trio.requested, trio.completed, trio.failed, dead_letters):
        broker.create_topic(topic)
    transport = _SmallerBrokerLimit(broker)
    retry = CallRetry(max_attempts=3, initial_delay=0.01)
    async with RpcClient(service="c", transport=transport, retry=retry) as client:
        with pytest.raises(PayloadTooLarge) as info:
            await client.request(trio, {"blob": "x" * 5_000}, timeout=5)
        assert client.pending_count == 0
    assert info.value.limit == _BROKER_LIMIT
    # Sending it again, or parking it, cannot deliver a record the broker refuses.
    assert transport.produced == 1
    assert broker.records(dead_letters) == []
    # It names the call it ended, like every error about one call.
    assert info.value.topic == trio.requested
    assert info.value.correlation_id and info.value.elapsed is not None


async def test_a_request_over_the_producers_limit_names_its_call() -> None:
    broker = MemoryBroker(max_message_bytes=2_000)
    trio = TopicTrio.from_base("billing.refund")
    for topic in (trio.requested, trio.completed, trio.failed):
        broker.create_topic(topic)
    transport = MemoryTransport(broker)
    async with RpcClient(service="c", transport=transport) as client:
        with pytest.raises(PayloadTooLarge) as info:
            await client.request(trio, {"blob": "x" * 5_000}, timeout=5)
    error = info.value
    assert error.size > error.limit == 2_000
    assert error.topic == trio.requested
    assert error.correlation_id and error.elapsed is not None and error.elapsed >= 0
    assert broker.records(trio.requested) == []
