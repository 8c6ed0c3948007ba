"""The floor: a single-threaded confluent-kafka client with no framework at all.

One synchronous producer sends requests; one consumer, assigned by hand to every
partition of the reply topic from its current end (no group join), reads replies
and matches them by message key, which the responder sets to the correlation id.
Replies are not even JSON-decoded: anything a library adds costs more than this.
Given several operations (``OperationTopics``), request ``i`` goes to operation
``i % N`` and the one consumer reads every operation's reply topic.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from benchmarks.envelope import encode_request
from benchmarks.kafka import TopicSet, producer_config, reply_consumer_config
from benchmarks.protocol import ClientLink, ClientSpec
from benchmarks.tracker import LoadTracker, Samples
from benchmarks.workload import PayloadSource

__all__ = ["run_client"]

_POLL_S = 0.02
_DRAIN_BATCH = 1000
_EXPIRY_SCAN_S = 0.1
_METADATA_TIMEOUT_S = 10.0
_TIMEOUT_ERROR = "TimeoutError: no reply within the request timeout"


def _assign_at_end(consumer: Consumer, routes: list[TopicSet]) -> None:
    # Explicit high-watermark offsets make the position known before the first
    # request goes out; "latest" would be resolved lazily and could skip a reply.
    assignment = []
    for route in routes:
        for partition in range(route.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(route.completed, partition), timeout=_METADATA_TIMEOUT_S
            )
            assignment.append(TopicPartition(route.completed, partition, high))
    consumer.assign(assignment)


class _RawLoop:
    def __init__(self, spec: ClientSpec, link: ClientLink) -> None:
        self.spec = spec
        self.routes = spec.topics.routes()
        self.producer = Producer(producer_config(spec.bootstrap))
        self.consumer = Consumer(reply_consumer_config(spec.bootstrap))
        self.tracker = LoadTracker(spec.workload, link.progress)
        self.payloads = PayloadSource(spec.workload)
        # key bytes -> (request index, send time)
        self.pending: dict[bytes, tuple[int, float]] = {}

    def issue(self) -> None:
        index = self.tracker.next_index(time.perf_counter())
        if index is None:
            return
        route = self.routes[index % len(self.routes)]
        correlation_id = str(uuid.uuid4())
        value, headers = encode_request(
            correlation_id, self.spec.service, self.payloads.payload(index), route.completed
        )
        key = correlation_id.encode()
        self.pending[key] = (index, time.perf_counter())
        self.producer.produce(route.requested, value, key, headers=headers)

    def receive(self, timeout_s: float) -> None:
        first = self.consumer.poll(timeout_s)
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
        expired = [key for key, (_, sent) in self.pending.items() if now - sent > timeout]
        for key in expired:
            index, sent = self.pending.pop(key)
            self.tracker.complete(index, sent, now, _TIMEOUT_ERROR)
            self.issue()

    def run(self) -> None:
        for _ in range(self.spec.workload.load):
            self.issue()
        next_scan = time.perf_counter() + _EXPIRY_SCAN_S
        while not self.tracker.finished:
            self.receive(_POLL_S)
            self.producer.poll(0)
            if time.perf_counter() >= next_scan:
                self.expire()
                next_scan = time.perf_counter() + _EXPIRY_SCAN_S
        # Let the unmeasured tail finish so the responder is idle when we leave.
        drain_until = time.perf_counter() + self.spec.workload.timeout_s
        while self.pending and time.perf_counter() < drain_until:
            self.receive(_POLL_S)


def run_client(spec: ClientSpec, link: ClientLink) -> Samples:
    loop = _RawLoop(spec, link)
    try:
        _assign_at_end(loop.consumer, loop.routes)
        link.ready()
        loop.run()
        return loop.tracker.samples()
    finally:
        loop.producer.flush(5.0)
        loop.consumer.close()
