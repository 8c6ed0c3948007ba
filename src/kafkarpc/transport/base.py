"""The transport interface: what client, server and tools may ask of a broker connection."""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, TypedDict, Unpack

import anyio

from .._exceptions import ConfigurationError
from .records import DeliveryCallback, InboundRecord, OutboundRecord, RecordBatchHandler

if TYPE_CHECKING:
    from .._config import ExactlyOnce

__all__ = [
    "GroupConsumer",
    "GroupOptions",
    "ReplyConsumer",
    "TransactionalGroupConsumer",
    "Transport",
]


class GroupOptions(TypedDict):
    """The keyword arguments of ``Transport.group_consumer``, all required."""

    #: The consumer group: responders of one operation share one.
    group_id: str
    #: Receives every fetched batch on the event loop thread.
    on_batch: RecordBatchHandler
    #: Fetching pauses while this many delivered records are unacknowledged.
    max_in_flight: int


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

    def reject(self, record: InboundRecord) -> None:  # noqa: B027 - optional, not abstract
        """``record`` could not be answered: leave it to be delivered again.

        At-least-once consumers simply never commit past it (the default does
        nothing); a transactional consumer aborts the batch holding it.
        """

    @abc.abstractmethod
    async def stop_fetching(self) -> None:
        """Deliver no further batches; records already delivered may still be acked."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Commit what was acknowledged, leave the group and release resources."""


class TransactionalGroupConsumer(GroupConsumer):
    """A group member whose offsets commit in Kafka transactions, with what was sent for them.

    Records are delivered in batches; each batch is one transaction per request
    partition, holding the records produced through ``produce`` for the batch's
    requests and their offsets. Once every record of a batch is acknowledged
    the transactions commit; a rejected record, a refused record or a refused
    commit aborts them, and the batch's requests are fetched again.
    """

    @abc.abstractmethod
    def produce(
        self, source: InboundRecord, record: OutboundRecord, on_delivery: DeliveryCallback
    ) -> None:
        """Queue ``record`` in the open transaction of ``source``'s partition, without blocking.

        Failures reach ``on_delivery``, as with ``Transport.produce``.
        """


class Transport(abc.ABC):
    """A connection to one Kafka cluster (or an in-memory stand-in)."""

    #: Largest record the producer sends, counted as librdkafka counts it (key, value,
    #: headers and record overhead: ``limits.record_wire_size``); checked before producing.
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
        self, topics: Sequence[str], **options: Unpack[GroupOptions]
    ) -> GroupConsumer:
        """A started member of group ``options["group_id"]`` subscribed to ``topics``.

        A name starting with ``^`` is a regular expression (librdkafka's
        convention): the member also reads every topic it matches, including
        topics created later.
        """

    async def transactional_group_consumer(
        self,
        topics: Sequence[str],
        *,
        exactly_once: ExactlyOnce,
        **options: Unpack[GroupOptions],
    ) -> TransactionalGroupConsumer:
        """A started group member committing in transactions (``ExactlyOnce``).

        Optional: a transport without transactions keeps this default, which
        refuses with ConfigurationError instead of promising what it cannot do.
        """
        raise ConfigurationError(
            f"{type(self).__name__} has no transactions; exactly-once delivery"
            " (RpcServer(exactly_once=...)) needs the Kafka transport"
        )

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Flush and stop everything this transport started."""
