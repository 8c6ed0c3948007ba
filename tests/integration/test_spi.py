"""The reference (omnibase_spi) usage, unchanged but for the broker address, on kafkarpc.spi."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from kafkarpc import decode_envelope, ensure_topics, inspect_dlq
from kafkarpc.spi import (
    DlqHandler,
    EventBusAdapter,
    ProtocolEventMessage,
    create_event_publisher,
)
from kafkarpc.transport import InboundRecord

pytestmark = pytest.mark.anyio

Records = Callable[[str], Awaitable[list[InboundRecord]]]
FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


async def test_the_reference_publisher_example_runs_unchanged(
    kafkarpc_broker: str, topic_records: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    # seeds/000, "Simple Event Publishing", with the broker's address for "redpanda:9092".
    publisher = create_event_publisher(
        bootstrap_servers=kafkarpc_broker,
        service_name="my-service",
        instance_id="instance-123",
    )

    success = await publisher.publish(
        event_type="omninode.my_domain.event.something_happened.v1",
        payload={"key": "value"},
        correlation_id="correlation-123",
    )

    metrics = await publisher.get_metrics()
    print(f"Published: {metrics['events_published']}")

    await publisher.close()

    assert success is True
    assert capsys.readouterr().out == "Published: 1\n"
    records = await topic_records("omninode.my_domain.event.something_happened.v1")
    envelope = decode_envelope(records[-1].value)
    assert envelope.event_type == "omninode.my_domain.event.something_happened.v1"
    assert (envelope.correlation_id, envelope.payload) == ("correlation-123", {"key": "value"})
    assert envelope.service == "my-service/instance-123"
    assert records[-1].key == b"correlation-123"


async def test_subscribe_unsubscribe_and_dlq_reprocess_on_the_broker(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    group = unique_topic_base.rsplit(".", 1)[1]
    adapter = EventBusAdapter(
        bootstrap_servers=kafkarpc_broker, environment="dev", group=group, config=FAST_GROUP
    )
    dlq = DlqHandler(bootstrap_servers=kafkarpc_broker)
    full_topic = await adapter.build_topic_name("orders.placed.v1")
    assert full_topic == f"dev.{group}.orders.placed.v1"
    await ensure_topics(kafkarpc_broker, [full_topic, f"{full_topic}.dlq"], partitions=1)
    received: list[ProtocolEventMessage] = []
    all_in = anyio.Event()

    async def on_message(message: ProtocolEventMessage) -> None:
        received.append(message)
        if message.value == b'{"n": 2}':
            # The handler gives up on this one: park it for later.
            await dlq.send_to_dlq(message.topic, message, ValueError("no stock"), retry_count=3)
        await message.ack()
        if len(received) == 3:
            all_in.set()

    try:
        unsubscribe = await adapter.subscribe("orders.placed.v1", f"g-{group}", on_message)
        for n in range(3):
            await adapter.publish(
                "orders.placed.v1", b"k", b'{"n": %d}' % n, {"event_type": "ORDER_PLACED"}
            )
        with anyio.fail_after(30):
            await all_in.wait()
        await unsubscribe()

        reprocessed: list[bytes] = []

        async def handler(message: ProtocolEventMessage) -> bool:
            reprocessed.append(message.value)
            return True

        stats = await dlq.reprocess_dlq_messages(f"{full_topic}.dlq", handler, max_retries=3)
    finally:
        await adapter.close()
        await dlq.close()
    assert [m.value for m in received] == [b'{"n": %d}' % n for n in range(3)]
    assert received[0].headers.event_type == "ORDER_PLACED"
    assert stats == {"processed": 1, "succeeded": 1, "failed": 0}
    assert reprocessed == [b'{"n": 2}']
    (letter,) = await inspect_dlq(kafkarpc_broker, f"{full_topic}.dlq")
    assert letter.original_topic == full_topic
    assert letter.error_message == "no stock"
