"""An in-process broker for unit tests and for users' own tests.

It keeps Kafka's semantics and its limits: topics must exist before use,
records land in partitions by key, consumer groups split partitions and commit
offsets, unacknowledged records are redelivered when their owner leaves, and
records above ``max_message_bytes`` are refused. It never does more than the
Kafka transport does; the real-broker suite stays the reference.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Unpack

from .._exceptions import LifecycleError, TopicNotFound
from .base import GroupConsumer, GroupOptions, ReplyConsumer, Transport
from .bridge import LoopBridge
from .limits import check_record_size, partitions_to_read
from .offsets import OffsetTracker
from .records import (
    ANY_PARTITION,
    DeliveryCallback,
    InboundRecord,
    OutboundRecord,
    RecordBatchHandler,
)

__all__ = ["MemoryBroker", "MemoryTransport"]

TopicPartitionKey = tuple[str, int]


class MemoryBroker:
    """Shared state of an in-memory cluster; give one to every ``MemoryTransport``."""

    def __init__(self, *, max_message_bytes: int = 1_000_000) -> None:
        self.max_message_bytes = max_message_bytes
        self._logs: dict[str, list[list[InboundRecord]]] = {}
        self._groups: dict[str, _Group] = {}
        self._readers: list[_MemoryReplyConsumer] = []
        self._clock = itertools.count(1)

    def create_topic(self, topic: str, partitions: int = 3) -> None:
        if topic in self._logs:
            return
        self._logs[topic] = [[] for _ in range(partitions)]
        # Kafka's consumers notice a new topic a pattern matches on their next
        # metadata refresh, and the group rebalances; here that happens at once.
        for group in self._groups.values():
            if any(member.wants(topic) for member in group.members):
                group.rebalance()

    def topics(self) -> list[str]:
        return sorted(self._logs)

    def records(self, topic: str) -> list[InboundRecord]:
        """Everything stored in ``topic``, partition by partition (for assertions)."""
        return [r for partition in self._partitions(topic) for r in partition]

    def _partitions(self, topic: str) -> list[list[InboundRecord]]:
        try:
            return self._logs[topic]
        except KeyError:
            raise TopicNotFound(topic) from None

    def append(self, record: OutboundRecord) -> InboundRecord:
        partitions = self._partitions(record.topic)
        if record.partition == ANY_PARTITION:
            index = next(self._clock) % len(partitions)
        elif record.partition is not None:
            if not 0 <= record.partition < len(partitions):
                raise TopicNotFound(f"{record.topic}[{record.partition}]")
            index = record.partition
        elif record.key is not None:
            index = zlib.crc32(record.key) % len(partitions)
        else:
            index = next(self._clock) % len(partitions)
        log = partitions[index]
        stored = InboundRecord(
            topic=record.topic,
            partition=index,
            offset=len(log),
            key=record.key,
            value=record.value,
            headers=list(record.headers),
            timestamp_ms=next(self._clock),
        )
        log.append(stored)
        for reader in list(self._readers):
            reader.offer(stored)
        for group in self._groups.values():
            group.pump()
        return stored

    def _group(self, group_id: str) -> _Group:
        return self._groups.setdefault(group_id, _Group(self, group_id))


@dataclass(eq=False)
class _Member:
    topics: tuple[str, ...]
    bridge: LoopBridge
    on_batch: RecordBatchHandler
    max_in_flight: int
    tracker: OffsetTracker = field(default_factory=OffsetTracker)
    positions: dict[TopicPartitionKey, int] = field(default_factory=dict)
    fetching: bool = True

    def wants(self, topic: str) -> bool:
        """Whether this member subscribes to ``topic``: by name, or by a ``^`` pattern."""
        return any(
            topic == name or (name.startswith("^") and re.search(name, topic) is not None)
            for name in self.topics
        )


class _Group:
    def __init__(self, broker: MemoryBroker, group_id: str) -> None:
        self._broker = broker
        self.group_id = group_id
        self.members: list[_Member] = []
        self.committed: dict[TopicPartitionKey, int] = {}

    def join(self, member: _Member) -> None:
        self.members.append(member)
        self.rebalance()

    def leave(self, member: _Member) -> None:
        self.commit(member)
        self.members.remove(member)
        self.rebalance()

    def rebalance(self) -> None:
        # Eager protocol, like librdkafka's default: everyone restarts from the
        # committed offsets, so unacknowledged records go to the new owner.
        for member in self.members:
            self.commit(member)
            member.tracker.forget(set(member.positions))
            member.positions.clear()
        topics = [t for t in self._broker.topics() if any(m.wants(t) for m in self.members)]
        keys = [(t, p) for t in topics for p in range(len(self._broker._partitions(t)))]
        for index, key in enumerate(keys):
            owners = [m for m in self.members if m.wants(key[0])]
            if owners:
                owner = owners[index % len(owners)]
                owner.positions[key] = self.committed.get(key, 0)
        self.pump()

    def commit(self, member: _Member) -> None:
        for topic, partition, offset in member.tracker.take_commits():
            self.committed[(topic, partition)] = offset

    def pump(self) -> None:
        for member in self.members:
            if not member.fetching:
                continue
            batch: list[InboundRecord] = []
            room = member.max_in_flight - member.tracker.in_flight
            for key, position in member.positions.items():
                log = self._broker._partitions(key[0])[key[1]]
                while room > 0 and position < len(log):
                    record = log[position]
                    member.tracker.add(key, record.offset)
                    batch.append(self._read_by_group(record))
                    position += 1
                    room -= 1
                member.positions[key] = position
            if batch:
                member.bridge.call_soon(member.on_batch, batch)

    def _read_by_group(self, stored: InboundRecord) -> InboundRecord:
        # A copy naming this group, as Kafka's group consumers deliver them; the
        # stored record is shared by every reader.
        return InboundRecord(
            stored.topic,
            stored.partition,
            stored.offset,
            stored.key,
            stored.value,
            stored.headers,
            stored.timestamp_ms,
            stored.timestamp_type,
            self.group_id,
        )


class _MemoryReplyConsumer(ReplyConsumer):
    def __init__(
        self, broker: MemoryBroker, bridge: LoopBridge, on_batch: RecordBatchHandler
    ) -> None:
        self._broker = broker
        self._bridge = bridge
        self._on_batch = on_batch
        self._assigned: set[TopicPartitionKey] = set()
        broker._readers.append(self)

    def offer(self, record: InboundRecord) -> None:
        if (record.topic, record.partition) in self._assigned:
            self._bridge.call_soon(self._on_batch, [record])

    async def assign(self, topics: Sequence[str], *, partition: int | None = None) -> None:
        for topic in topics:
            count = len(self._broker._partitions(topic))
            for p in partitions_to_read(topic, count, partition):
                self._assigned.add((topic, p))

    async def aclose(self) -> None:
        if self in self._broker._readers:
            self._broker._readers.remove(self)


class _MemoryGroupConsumer(GroupConsumer):
    def __init__(self, group: _Group, member: _Member) -> None:
        self._group = group
        self._member = member
        self._closed = False

    def ack(self, record: InboundRecord) -> None:
        self._member.tracker.ack((record.topic, record.partition), record.offset)
        self._group.commit(self._member)
        self._group.pump()

    async def stop_fetching(self) -> None:
        self._member.fetching = False

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._group.leave(self._member)


class MemoryTransport(Transport):
    """A transport backed by a shared ``MemoryBroker`` instead of a cluster."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.max_message_bytes = broker.max_message_bytes
        self._bridge: LoopBridge | None = None
        self._closeables: list[ReplyConsumer | GroupConsumer] = []
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise LifecycleError("transport is closed")
        self._bridge = LoopBridge()

    def _require_bridge(self) -> LoopBridge:
        if self._bridge is None or self._closed:
            raise LifecycleError(
                "transport is closed" if self._closed else "transport is not started"
            )
        return self._bridge

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        bridge = self._require_bridge()
        # Exact for every record: no librdkafka behind it refuses what the check lets by.
        check_record_size(record, self.max_message_bytes, exact=True)
        try:
            self.broker.append(record)
        except TopicNotFound as exc:
            bridge.call_soon(on_delivery, exc, record)
        else:
            bridge.call_soon(on_delivery, None, record)

    async def flush(self, timeout: float) -> None:
        self._require_bridge()

    async def ensure_topics(self, topics: Sequence[str], *, partitions: int = 3) -> None:
        for topic in topics:
            self.broker.create_topic(topic, partitions)

    async def partition_count(self, topic: str) -> int:
        return len(self.broker._partitions(topic))

    async def read_topic(self, topic: str) -> AsyncGenerator[list[InboundRecord], None]:
        self._require_bridge()
        for log in self.broker._partitions(topic):
            if log:
                yield log[:]  # a copy: the batch ends at the partition's current end

    async def reply_consumer(self, on_batch: RecordBatchHandler) -> ReplyConsumer:
        consumer = _MemoryReplyConsumer(self.broker, self._require_bridge(), on_batch)
        self._closeables.append(consumer)
        return consumer

    async def group_consumer(
        self, topics: Sequence[str], **options: Unpack[GroupOptions]
    ) -> GroupConsumer:
        for topic in topics:
            if not topic.startswith("^"):  # a pattern may match no topic yet
                self.broker._partitions(topic)
        bridge = self._require_bridge()
        member = _Member(tuple(topics), bridge, options["on_batch"], options["max_in_flight"])
        group = self.broker._group(options["group_id"])
        group.join(member)
        consumer = _MemoryGroupConsumer(group, member)
        self._closeables.append(consumer)
        return consumer

    async def aclose(self) -> None:
        if self._closed:
            return
        for closeable in reversed(self._closeables):
            await closeable.aclose()
        self._closed = True
