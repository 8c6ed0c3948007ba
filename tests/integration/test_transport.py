"""KafkaTransport's produce contract on the real broker.

Records produced during one event-loop iteration reach librdkafka together (so they
leave in batches); these tests pin what callers rely on despite that: nothing is
lost or reordered, every record settles through its delivery callback, and only an
oversized record is refused at the call site.
"""

from __future__ import annotations

import uuid

import anyio
import pytest
from confluent_kafka import Consumer, TopicPartition

from kafkarpc import KafkaTransport, PayloadTooLarge, TopicNotFound
from kafkarpc.transport import ANY_PARTITION, OutboundRecord
from kafkarpc.transport.kafka.producer import _STICKY_S as STICKY_S

pytestmark = pytest.mark.anyio


def _read_partition(bootstrap: str, topic: str, partition: int, count: int) -> list[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex[:8]}"}
        | {"enable.auto.commit": False, "fetch.wait.max.ms": 10}
    )
    consumer.assign([TopicPartition(topic, partition, 0)])
    values: list[bytes] = []
    try:
        for _ in range(200):
            if len(values) >= count:
                break
            for message in consumer.consume(count, 0.1):
                if message.error() is None:
                    value = message.value()
                    assert value is not None, "the test writes no tombstones"
                    values.append(value)
    finally:
        consumer.close()
    return values


async def test_records_of_one_iteration_all_settle_and_keep_their_order(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.batch"
    settled: list[tuple[Exception | None, bytes]] = []
    all_settled = anyio.Event()
    total = 300

    def on_delivery(error: Exception | None, record: OutboundRecord) -> None:
        settled.append((error, record.value))
        if len(settled) == total:
            all_settled.set()

    transport = KafkaTransport(kafkarpc_broker)
    await transport.start()
    try:
        await transport.ensure_topics([topic], partitions=2)
        # No await between these: they are queued in one iteration of the loop.
        for n in range(total):
            record = OutboundRecord(topic, b"%d" % n, partition=n % 2)
            transport.produce(record, on_delivery)
        with anyio.fail_after(30):
            await all_settled.wait()
    finally:
        await transport.aclose()

    assert all(error is None for error, _ in settled)
    assert sorted(int(value) for _, value in settled) == list(range(total))
    for partition in (0, 1):
        stored = await anyio.to_thread.run_sync(
            _read_partition, kafkarpc_broker, topic, partition, total // 2
        )
        assert [int(v) for v in stored] == list(range(partition, total, 2))


async def test_a_record_librdkafka_cannot_queue_settles_through_its_callback(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.narrow"
    outcome: list[Exception | None] = []
    done = anyio.Event()

    def on_delivery(error: Exception | None, _record: OutboundRecord) -> None:
        outcome.append(error)
        done.set()

    transport = KafkaTransport(kafkarpc_broker)
    await transport.start()
    try:
        await transport.ensure_topics([topic], partitions=1)
        await transport.send(OutboundRecord(topic, b"warm"))  # metadata is known now
        # Partition 7 of a one-partition topic: refused by librdkafka, not by the broker.
        transport.produce(OutboundRecord(topic, b"lost?", partition=7), on_delivery)
        with anyio.fail_after(30):
            await done.wait()
    finally:
        await transport.aclose()
    assert len(outcome) == 1
    assert isinstance(outcome[0], TopicNotFound)


async def test_an_oversized_record_is_refused_at_the_call_site(kafkarpc_broker: str) -> None:
    transport = KafkaTransport(kafkarpc_broker, config={"message.max.bytes": 10_000})
    await transport.start()
    try:
        settled: list[object] = []
        with pytest.raises(PayloadTooLarge):
            transport.produce(
                OutboundRecord("never.created", b"x" * 20_000),
                lambda error, record: settled.append(error),
            )
        await transport.flush(5.0)
    finally:
        await transport.aclose()
    assert settled == []


async def test_records_for_any_partition_leave_together_and_rotate(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.any"
    rounds, per_round, partitions = 4, 10, 4
    transport = KafkaTransport(kafkarpc_broker)
    await transport.start()
    try:
        await transport.ensure_topics([topic], partitions=partitions)
        assert await transport.partition_count(topic) == partitions
        for turn in range(rounds):
            settled = anyio.Event()
            left = per_round

            def on_delivery(
                error: Exception | None, _record: OutboundRecord, settled: anyio.Event = settled
            ) -> None:
                nonlocal left
                assert error is None
                left -= 1
                if not left:
                    settled.set()

            # One iteration: keys differ, so a key-hashing partitioner would scatter them.
            for n in range(per_round):
                value = f"{turn}-{n}".encode()
                transport.produce(
                    OutboundRecord(topic, value, key=uuid.uuid4().bytes, partition=ANY_PARTITION),
                    on_delivery,
                )
            with anyio.fail_after(30):
                await settled.wait()
            # A topic's ANY_PARTITION records stay on one partition for a short
            # window (several hand-overs per produce round trip leave as one batch);
            # the next round starts after it.
            await anyio.sleep(2 * STICKY_S)
    finally:
        await transport.aclose()

    turn_of_partition: dict[int, set[str]] = {}
    for partition in range(partitions):
        stored = await anyio.to_thread.run_sync(
            _read_partition, kafkarpc_broker, topic, partition, per_round
        )
        turn_of_partition[partition] = {value.decode().split("-")[0] for value in stored}
    # Each round went whole to one partition, and the next one to another.
    assert sorted(turn for turns in turn_of_partition.values() for turn in turns) == [
        "0", "1", "2", "3",
    ]  # fmt: skip
    assert all(len(turns) == 1 for turns in turn_of_partition.values())


async def test_read_topic_gives_every_record_from_the_beginning(
    kafkarpc_broker: str, unique_topic_base: str
) -> None:
    topic = f"{unique_topic_base}.whole"
    transport = KafkaTransport(kafkarpc_broker)
    await transport.start()
    try:
        await transport.ensure_topics([topic], partitions=2)
        for n in range(7):
            await transport.send(OutboundRecord(topic, b"%d" % n, headers=[("n", b"%d" % n)]))
        with anyio.fail_after(60):
            records = [r async for batch in transport.read_topic(topic) for r in batch]
        with pytest.raises(TopicNotFound):
            async for _ in transport.read_topic(f"{unique_topic_base}.never-created"):
                pass
    finally:
        await transport.aclose()
    assert sorted(int(r.value or b"") for r in records) == list(range(7))
    assert all(r.headers == [("n", r.value)] for r in records)
    by_partition = sorted({r.partition for r in records})
    for partition in by_partition:
        offsets = [r.offset for r in records if r.partition == partition]
        assert offsets == sorted(offsets)
