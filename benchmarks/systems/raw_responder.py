"""The echo responder for the raw and handrolled systems: a synchronous
confluent-kafka consumer in a group plus a producer, nothing else.

It speaks only the wire contract (benchmarks.envelope), so any client that
follows docs/wire.md §2-4 can be measured against it. Given several operations
(``OperationTopics``), the one consumer reads every request topic.
"""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from benchmarks.envelope import build_reply
from benchmarks.kafka import producer_config, responder_consumer_config
from benchmarks.protocol import ResponderLink, ResponderSpec

__all__ = ["serve"]

_POLL_S = 0.05
_DRAIN_BATCH = 500
_FLUSH_S = 5.0
# librdkafka's RD_KAFKA_PARTITION_UA: let the partitioner choose from the key.
_ANY_PARTITION = -1


def serve(spec: ResponderSpec, link: ResponderLink) -> int:
    consumer = Consumer(responder_consumer_config(spec.bootstrap, spec.group_id))
    producer = Producer(producer_config(spec.bootstrap))
    requested = [route.requested for route in spec.topics.routes()]
    expected = sum(route.partitions for route in spec.topics.routes())
    assigned: set[tuple[str, int]] = set()

    def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The topics are fresh, so starting at the beginning loses nothing a
        # client sent before the join finished, and the position is explicit.
        for partition in partitions:
            partition.offset = OFFSET_BEGINNING
        consumer.assign(partitions)
        assigned.update((p.topic, p.partition) for p in partitions)

    consumer.subscribe(requested, on_assign=on_assign)
    handled = 0
    announced = False
    try:
        while not link.stop_requested():
            first = consumer.poll(_POLL_S)
            if not announced and len(assigned) == expected:
                link.ready()
                announced = True
            if first is None:
                continue
            # consume() would sit out its whole timeout even with records ready,
            # so it is only used with 0 to drain what the poll already fetched.
            for message in [first, *consumer.consume(_DRAIN_BATCH, 0)]:
                handled += _answer(message, producer, spec)
            producer.poll(0)
    finally:
        producer.flush(_FLUSH_S)
        consumer.close()
    return handled


def _answer(message: Message, producer: Producer, spec: ResponderSpec) -> int:
    value = message.value()
    if message.error() is not None or value is None:
        return 0
    reply = build_reply(value, message.headers(), spec.service, spec.topics.completed)
    producer.produce(
        reply.topic,
        reply.value,
        reply.key,
        partition=_ANY_PARTITION if reply.partition is None else reply.partition,
        headers=reply.headers,
    )
    return 1
