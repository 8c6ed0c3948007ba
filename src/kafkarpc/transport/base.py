"""The transport interface and the records that cross it."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field

import anyio

__all__ = [
    "ANY_PARTITION",
    "DeliveryCallback",
    "GroupConsumer",
    "InboundRecord",
    "OutboundRecord",
    "RecordBatchHandler",
    "ReplyConsumer",
    "Transport",
]


#: ``OutboundRecord.partition`` for a record whose key need not decide its partition
#: (a reply read from every partition): the transport may put it wherever records
#: batch best. ``None`` means the partitioner hashes the key, as Kafka clients do.
ANY_PARTITION = -1

# Records are not frozen: one is made per message in each direction, and a frozen
# dataclass pays an object.__setattr__ per field (most of the cost of making one).
# Nothing in kafkarpc changes a record once made; treat them as values.


@dataclass(slots=True)
class OutboundRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int | None = None


@dataclass(slots=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int = 0


#: Called on the event loop thread once the broker acknowledged (error None) or refused a record.
DeliveryCallback = Callable[[Exception | None, OutboundRecord], None]
#: Called on the event loop thread with every batch a consumer fetched.
RecordBatchHandler = Callable[[list[InboundRecord]], None]


class ReplyConsumer(abc.ABC):
    """Reads reply topics by manual assignment, without a consumer group (docs/wire.md §4)."""

    @abc.abstractmethod
    async def assign(self, topics: Sequence[str], *, partition: int | None = None) -> None:
        """Start reading ``topics`` from their current end.

        Returns only once positioned, so a reply produced after this returns is
        seen. ``partition`` limits reading to that partition of each topic.
        """

    @abc.abstractmethod
    async def aclose(self) -> None: ...


class GroupConsumer(abc.ABC):
    """Reads request topics as a member of a consumer group, committing at-least-once.

    A record counts as in flight from delivery to ``ack``. Offsets are committed
    only up to the lowest unacknowledged record of each partition, and fetching
    pauses while ``max_in_flight`` records are unacknowledged.
    """

    @abc.abstractmethod
    def ack(self, record: InboundRecord) -> None:
        """Mark ``record`` processed (its reply or dead letter is on the broker)."""

    @abc.abstractmethod
    async def stop_fetching(self) -> None:
        """Deliver no further batches; records already delivered may still be acked."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Commit what was acknowledged, leave the group and release resources."""


class Transport(abc.ABC):
    """A connection to one Kafka cluster (or an in-memory stand-in)."""

    #: Largest record value the broker accepts; checked before producing.
    max_message_bytes: int = 1_000_000

    @abc.abstractmethod
    async def start(self) -> None:
        """Open connections and start background threads; call once, on the event loop."""

    @abc.abstractmethod
    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        """Queue ``record`` without blocking; ``on_delivery`` runs on the loop when settled.

        Raises ``PayloadTooLarge`` at once for a record over ``max_message_bytes``
        and ``LifecycleError`` on a transport that is not running; every other
        failure (unknown topic, full queue, broker refusal) reaches ``on_delivery``.
        """

    async def send(self, record: OutboundRecord) -> None:
        """Produce ``record`` and wait for the broker's acknowledgement."""
        done = anyio.Event()
        failure: list[Exception] = []

        def settled(error: Exception | None, _record: OutboundRecord) -> None:
            if error is not None:
                failure.append(error)
            done.set()

        self.produce(record, settled)
        await done.wait()
        if failure:
            raise failure[0]

    @abc.abstractmethod
    async def flush(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds) until every queued record is settled."""

    @abc.abstractmethod
    async def ensure_topics(self, topics: Sequence[str], *, partitions: int = 3) -> None:
        """Create the topics that do not exist yet (development helper)."""

    @abc.abstractmethod
    async def partition_count(self, topic: str) -> int:
        """Number of partitions of ``topic``; raises TopicNotFound."""

    def read_topic(self, topic: str) -> AsyncGenerator[list[InboundRecord], None]:
        """Every record in ``topic`` from its beginning to its current end, batch by batch.

        For operator tools (``kafkarpc.dlq``); raises TopicNotFound. Client and
        server never call it, so it is optional: a transport that cannot read
        from the beginning keeps this default, which says so.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot read a topic from its beginning")

    @abc.abstractmethod
    async def reply_consumer(self, on_batch: RecordBatchHandler) -> ReplyConsumer:
        """A started reply consumer that hands batches to ``on_batch``."""

    @abc.abstractmethod
    async def group_consumer(
        self,
        topics: Sequence[str],
        *,
        group_id: str,
        on_batch: RecordBatchHandler,
        max_in_flight: int,
    ) -> GroupConsumer:
        """A started group member subscribed to ``topics``."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Flush and stop everything this transport started."""
