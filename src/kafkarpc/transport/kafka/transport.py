"""The Kafka transport: librdkafka's sync clients on dedicated threads.

This class wires the pieces together: ``producer`` (records out, delivery reports
back), ``consumers`` (replies by assignment, requests in a group), ``admin``
(topic metadata and creation) and ``reader`` (a whole topic, for tools), each
polled on its own thread as ``polling`` describes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import anyio
from confluent_kafka import KafkaException

from ..._config import ExactlyOnce, Security
from ..._exceptions import KafkaRpcError, LifecycleError
from ..base import (
    GroupConsumer,
    GroupOptions,
    ReplyConsumer,
    TransactionalGroupConsumer,
    Transport,
)
from ..bridge import LoopBridge
from ..records import DeliveryCallback, InboundRecord, OutboundRecord, RecordBatchHandler
from .admin import create_topics_blocking, partition_count_blocking
from .config import CONSUMER_ONLY, GROUP_CONSUMER, PRODUCER, REPLY_CONSUMER, merge_config
from .consumers import KafkaGroupConsumer, KafkaReplyConsumer
from .errors import translate_exception, unreachable
from .polling import librdkafka_logger, logger
from .producer import KafkaProducer
from .reader import TopicReader
from .readiness import READY_BUDGET_S, ConnectWatch

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

    from .transactions import KafkaTransactionalConsumer

__all__ = ["KafkaTransport"]

Member = TypeVar("Member", KafkaGroupConsumer, "KafkaTransactionalConsumer")


class KafkaTransport(Transport):
    """A connection to a Kafka cluster through librdkafka.

    ``config`` overrides any librdkafka property (see docs/operations.md for the
    defaults kafkarpc sets and why); ``security`` adds SASL/SSL settings.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._security = security
        self._config = dict(config or {})
        self._producer: KafkaProducer | None = None
        self._admin: AdminClient | None = None
        self._bridge: LoopBridge | None = None
        self._closeables: list[ReplyConsumer | GroupConsumer] = []
        self._closed = False
        self.max_message_bytes = int(self._config.get("message.max.bytes", 1_000_000))

    def _conf(self, role: Mapping[str, Any]) -> dict[str, Any]:
        return merge_config(self.bootstrap, role, self._security, self._config)

    def _producer_conf(self) -> dict[str, Any]:
        # Consumer-only properties would make librdkafka warn on every producer.
        return {k: v for k, v in self._conf(PRODUCER).items() if k not in CONSUMER_ONLY}

    async def start(self) -> None:
        """Connect; raises BrokerUnavailable at once when no broker can be reached.

        A cluster that is only slow to answer is not an error: start returns after
        ``READY_BUDGET_S`` with a warning, and calls fail by their own deadlines.
        """
        if self._closed:
            raise LifecycleError("transport is closed")
        if self._producer is not None:
            return
        self._bridge = LoopBridge()
        watch = ConnectWatch()
        try:
            self._producer = KafkaProducer(
                {**self._producer_conf(), "error_cb": watch}, self._bridge
            )
            admin_conf: dict[str, Any] = {
                k: v for k, v in self._conf({}).items() if k not in CONSUMER_ONLY
            }
            admin_conf["logger"] = librdkafka_logger
            # Imported here, not with the module: confluent_kafka.admin is a tenth
            # of `import kafkarpc` (docs/benchmarks.md, "Import time").
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(admin_conf)
        except KafkaException as exc:
            self._closed = True
            raise translate_exception(exc) from exc
        self._producer.start()
        verdict = await anyio.to_thread.run_sync(
            self._producer.probe_blocking, watch, READY_BUDGET_S, abandon_on_cancel=True
        )
        if verdict == "unreachable":
            # Nothing was produced yet: close without waiting on a flush.
            self._closed = True
            await self._producer.aclose(timeout=0)
            raise unreachable(self.bootstrap, watch.reason)
        if verdict == "slow":
            logger.warning(
                "broker %s has not answered within %.0fs; carrying on",
                self.bootstrap,
                READY_BUDGET_S,
            )

    def _require_started(self) -> tuple[KafkaProducer, LoopBridge]:
        if self._producer is None or self._bridge is None or self._closed:
            raise LifecycleError(
                "transport is not started" if not self._closed else "transport is closed"
            )
        return self._producer, self._bridge

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        producer, _ = self._require_started()
        producer.produce(record, on_delivery)

    async def flush(self, timeout: float) -> None:
        producer, _ = self._require_started()
        producer.release_outbox()
        await anyio.to_thread.run_sync(producer.flush_blocking, timeout)

    async def ensure_topics(self, topics: Sequence[str], *, partitions: int = 3) -> None:
        self._require_started()
        assert self._admin is not None
        await anyio.to_thread.run_sync(
            create_topics_blocking, self._admin, list(topics), partitions, abandon_on_cancel=True
        )

    async def partition_count(self, topic: str) -> int:
        self._require_started()
        assert self._admin is not None
        try:
            count = await anyio.to_thread.run_sync(
                partition_count_blocking, self._admin, topic, abandon_on_cancel=True
            )
        except KafkaException as exc:
            raise translate_exception(exc, topic=topic) from exc
        if self._producer is not None:
            self._producer.partition_counts[topic] = count
        return count

    async def read_topic(self, topic: str) -> AsyncGenerator[list[InboundRecord], None]:
        self._require_started()
        reader = TopicReader(self._conf(REPLY_CONSUMER), topic)
        try:
            await anyio.to_thread.run_sync(reader.open_blocking)
            while batch := await anyio.to_thread.run_sync(reader.next_batch_blocking):
                yield batch
        except KafkaException as exc:
            raise translate_exception(exc, topic=topic) from exc
        finally:
            await anyio.to_thread.run_sync(reader.close_blocking)

    async def reply_consumer(self, on_batch: RecordBatchHandler) -> ReplyConsumer:
        _, bridge = self._require_started()
        try:
            consumer = KafkaReplyConsumer(self._conf(REPLY_CONSUMER), bridge, on_batch)
        except KafkaException as exc:
            raise translate_exception(exc) from exc
        self._closeables.append(consumer)
        return consumer

    async def group_consumer(
        self, topics: Sequence[str], **options: Unpack[GroupOptions]
    ) -> GroupConsumer:
        _, bridge = self._require_started()
        group_id = options["group_id"]
        conf = self._conf({**GROUP_CONSUMER, "group.id": group_id})
        try:
            consumer = KafkaGroupConsumer(
                conf, bridge, topics, options["on_batch"], options["max_in_flight"]
            )
        except KafkaException as exc:
            raise translate_exception(exc) from exc
        return await self._joined(consumer, conf, group_id)

    async def transactional_group_consumer(
        self,
        topics: Sequence[str],
        *,
        exactly_once: ExactlyOnce,
        **options: Unpack[GroupOptions],
    ) -> TransactionalGroupConsumer:
        # Loaded on first use: most programs never start an exactly-once responder.
        from .transactions import KafkaTransactionalConsumer

        _, bridge = self._require_started()
        group_id = options["group_id"]
        conf = self._conf({**GROUP_CONSUMER, "group.id": group_id})
        try:
            consumer = KafkaTransactionalConsumer(
                conf,
                self._producer_conf(),
                bridge,
                topics,
                options["on_batch"],
                options["max_in_flight"],
                exactly_once,
            )
        except KafkaException as exc:
            raise translate_exception(exc) from exc
        return await self._joined(consumer, conf, group_id)

    async def _joined(
        self,
        consumer: Member,
        conf: dict[str, Any],
        group_id: str,
    ) -> Member:
        self._closeables.append(consumer)
        # Readiness handshake: serving starts when the group handed us partitions.
        join_budget = float(conf.get("session.timeout.ms", 10_000)) / 1000 + 10
        joined = await anyio.to_thread.run_sync(consumer.wait_first_assignment, join_budget)
        if not joined:
            logger.warning("group %r: no partition assignment after %.0fs", group_id, join_budget)
        return consumer

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for closeable in reversed(self._closeables):
            try:
                await closeable.aclose()
            except KafkaRpcError:
                logger.exception("closing a consumer failed")
        if self._producer is not None:
            await self._producer.aclose(timeout=10.0)
