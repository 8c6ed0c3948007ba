"""The floor for many operations: the raw confluent-kafka loop over N topic trios.

The client sends request ``i`` to operation ``i % N`` and reads every operation's
completed topic with one hand-assigned consumer; the responder is one consumer
in a group subscribed to every request topic. It is what the broker allows
for N operations with no library code, next to ``kafkarpc_multi``.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from benchmarks.envelope import build_reply, encode_request
from benchmarks.kafka import producer_config, reply_consumer_config, responder_consumer_config
from benchmarks.protocol import ClientLink, ClientSpec, ResponderLink, ResponderSpec
from benchmarks.systems.kafkarpc_multi import OperationTopics
from benchmarks.tracker import LoadTracker, Samples
from benchmarks.workload import PayloadSource

__all__ = ["run_client", "serve"]

_POLL_S = 0.02
_DRAIN_BATCH = 1000
_EXPIRY_SCAN_S = 0.1
_METADATA_TIMEOUT_S = 10.0
_FLUSH_S = 5.0
_TIMEOUT_ERROR = "TimeoutError: no reply within the request timeout"
# librdkafka's RD_KAFKA_PARTITION_UA: let the partitioner choose from the key.
_ANY_PARTITION = -1


def _topics(spec: ClientSpec | ResponderSpec) -> OperationTopics:
    if not isinstance(spec.topics, OperationTopics):
        raise TypeError(f"raw_multi needs OperationTopics, got {type(spec.topics).__name__}")
    return spec.topics


class _Loop:
    def __init__(self, spec: ClientSpec, link: ClientLink) -> None:
        topics = _topics(spec)
        self.spec = spec
        self.operations = [topics.operation(i) for i in range(topics.operations)]
        self.producer = Producer(producer_config(spec.bootstrap))
        self.consumer = Consumer(reply_consumer_config(spec.bootstrap))
        self.tracker = LoadTracker(spec.workload, link.progress)
        self.payloads = PayloadSource(spec.workload)
        self.pending: dict[bytes, tuple[int, float]] = {}

    def assign_at_end(self) -> None:
        # Explicit end offsets: the position is known before the first request leaves.
        assignment = []
        for operation in self.operations:
            for partition in range(operation.partitions):
                _low, high = self.consumer.get_watermark_offsets(
                    TopicPartition(operation.completed, partition), timeout=_METADATA_TIMEOUT_S
                )
                assignment.append(TopicPartition(operation.completed, partition, high))
        self.consumer.assign(assignment)

    def issue(self) -> None:
        index = self.tracker.next_index(time.perf_counter())
        if index is None:
            return
        operation = self.operations[index % len(self.operations)]
        correlation_id = str(uuid.uuid4())
        value, headers = encode_request(
            correlation_id, self.spec.service, self.payloads.payload(index), operation.completed
        )
        key = correlation_id.encode()
        self.pending[key] = (index, time.perf_counter())
        self.producer.produce(operation.requested, value, key, headers=headers)

    def receive(self) -> None:
        first = self.consumer.poll(_POLL_S)
        if first is None:
            return
        done_at = time.perf_counter()
        for message in [first, *self.consumer.consume(_DRAIN_BATCH, 0)]:
            key = message.key()
            entry = self.pending.pop(key, None) if message.error() is None and key else None
            if entry is not None:
                self.tracker.complete(entry[0], entry[1], done_at, None)
                self.issue()

    def expire(self) -> None:
        now = time.perf_counter()
        timeout = self.spec.workload.timeout_s
        for key in [k for k, (_, sent) in self.pending.items() if now - sent > timeout]:
            index, sent = self.pending.pop(key)
            self.tracker.complete(index, sent, now, _TIMEOUT_ERROR)
            self.issue()

    def run(self) -> None:
        for _ in range(self.spec.workload.load):
            self.issue()
        next_scan = time.perf_counter() + _EXPIRY_SCAN_S
        while not self.tracker.finished:
            self.receive()
            self.producer.poll(0)
            if time.perf_counter() >= next_scan:
                self.expire()
                next_scan = time.perf_counter() + _EXPIRY_SCAN_S
        drain_until = time.perf_counter() + self.spec.workload.timeout_s
        while self.pending and time.perf_counter() < drain_until:
            self.receive()


def run_client(spec: ClientSpec, link: ClientLink) -> Samples:
    loop = _Loop(spec, link)
    try:
        loop.assign_at_end()
        link.ready()
        loop.run()
        return loop.tracker.samples()
    finally:
        loop.producer.flush(_FLUSH_S)
        loop.consumer.close()


def serve(spec: ResponderSpec, link: ResponderLink) -> int:
    topics = _topics(spec)
    requested = [topics.operation(i).requested for i in range(topics.operations)]
    expected = len(requested) * topics.partitions
    consumer = Consumer(responder_consumer_config(spec.bootstrap, spec.group_id))
    producer = Producer(producer_config(spec.bootstrap))
    assigned: set[tuple[str, int]] = set()

    def on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for partition in partitions:
            partition.offset = OFFSET_BEGINNING  # fresh topics: nothing sent early is lost
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
    reply = build_reply(value, message.headers(), spec.service, "unrouted")
    producer.produce(
        reply.topic,
        reply.value,
        reply.key,
        partition=_ANY_PARTITION if reply.partition is None else reply.partition,
        headers=reply.headers,
    )
    return 1
