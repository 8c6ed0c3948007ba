"""The Kafka transport: librdkafka's sync clients on dedicated threads.

Threads, not asyncio wrappers: ``AIOProducer`` cannot send headers and holds
messages about a second before librdkafka sees them. Each thread polls its
client and hands everything it got in one poll to the event loop in one hop
(``LoopBridge.call_soon``), so the loop never blocks and pays per batch, not
per message.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from ..._config import Security
from ..._exceptions import KafkaRpcError, LifecycleError, PayloadTooLarge, TopicNotFound
from ..base import (
    ANY_PARTITION,
    DeliveryCallback,
    GroupConsumer,
    InboundRecord,
    OutboundRecord,
    RecordBatchHandler,
    ReplyConsumer,
    Transport,
)
from ..bridge import LoopBridge
from ..offsets import OffsetTracker
from .config import GROUP_CONSUMER, PRODUCER, REPLY_CONSUMER, merge_config
from .errors import translate_error, translate_exception

__all__ = ["KafkaTransport"]

logger = logging.getLogger("kafkarpc.transport")
librdkafka_logger = logging.getLogger("kafkarpc.librdkafka")


class _RepeatFilter(logging.Filter):
    """librdkafka retries a lost connection every few milliseconds and logs each
    attempt; let one line per distinct message through every ``window`` seconds."""

    def __init__(self, window: float = 10.0) -> None:
        super().__init__()
        self._window = window
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.getMessage()
        now = time.monotonic()
        if now - self._last.get(key, -self._window) < self._window:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True


librdkafka_logger.addFilter(_RepeatFilter())

_POLL_S = 0.1
_REPLY_POLL_S = 0.05
_STALL_S = 0.1
_COMMIT_INTERVAL_S = 0.2
# Replies and requests never wait for their own delivery report (only offset acks,
# publish() and dead letters do), so a few milliseconds of gathering cost no call
# latency. Measured at 128 calls in flight: 1.6k -> 2.6k req/s (docs/benchmarks.md).
_DELIVERY_GATHER_S = 0.005
_BATCH_MAX = 500
# librdkafka's RD_KAFKA_PARTITION_UA, produce()'s default: the partitioner hashes the key.
_KEYED = -1
_METADATA_TIMEOUT_S = 10.0


def _to_record(message: Message) -> InboundRecord:
    headers = message.headers() or []
    return InboundRecord(
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
        message.key(),
        message.value(),
        headers if isinstance(headers, list) else list(headers.items()),  # type: ignore[arg-type]
        message.timestamp()[1],
    )


class _PollThread:
    """A daemon thread running ``step`` until stopped; the loop joins it without blocking."""

    def __init__(self, name: str, step: Callable[[], None], on_exit: Callable[[], None]) -> None:
        self._stop = threading.Event()
        self._step = step
        self._on_exit = on_exit
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # keep polling: one bad poll must not kill the reader
                    logger.exception("error in %s", self._thread.name)
                    self._stop.wait(_POLL_S)
        finally:
            self._on_exit()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await anyio.to_thread.run_sync(self._thread.join, abandon_on_cancel=True)


class _KafkaProducer:
    """One librdkafka producer; delivery reports cross to the loop in batches."""

    def __init__(self, conf: dict[str, Any], bridge: LoopBridge) -> None:
        self._producer = Producer({**conf, "logger": librdkafka_logger})
        self._bridge = bridge
        self._reports: list[tuple[DeliveryCallback, Exception | None, OutboundRecord]] = []
        self._reports_lock = threading.Lock()
        self._outbox: list[tuple[OutboundRecord, DeliveryCallback]] = []
        self.partition_counts: dict[str, int | None] = {}  # None: being looked up
        self._turns: dict[str, int] = {}
        self._thread = _PollThread("kafkarpc-producer", self._poll_once, lambda: None)
        self.max_message_bytes = int(conf.get("message.max.bytes", 1_000_000))

    def start(self) -> None:
        self._thread.start()

    def _on_delivery(
        self,
        callback: DeliveryCallback,
        record: OutboundRecord,
        error: KafkaError | None,
        _msg: Message,
    ) -> None:
        # Runs inside poll()/flush() on whichever thread called it; only collect here.
        failure = (
            None
            if error is None
            else translate_error(error, topic=record.topic, size=len(record.value))
        )
        with self._reports_lock:
            self._reports.append((callback, failure, record))

    def _hand_over(self) -> None:
        with self._reports_lock:
            if not self._reports:
                return
            batch, self._reports = self._reports, []
        self._bridge.call_soon(_run_deliveries, batch)

    def _poll_once(self) -> None:
        if self._producer.poll(_POLL_S):
            # Under load, reports arrive a few at a time: gathering them for a moment
            # turns hundreds of loop wake-ups a second into a few batches.
            time.sleep(_DELIVERY_GATHER_S)
            self._producer.poll(0)
        self._hand_over()

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        size = len(record.value) + (len(record.key) if record.key else 0)
        if size > self.max_message_bytes:
            raise PayloadTooLarge(
                f"message for {record.topic!r} is {size} bytes; the producer's "
                f"message.max.bytes is {self.max_message_bytes}",
                size=size,
                limit=self.max_message_bytes,
            )
        # Records produced during one loop iteration (replies of a whole fetched
        # batch, calls woken by one batch of replies) reach librdkafka together, so
        # they leave in a few large batches instead of one request per record: the
        # broker's work grows with the number of batches, not their size.
        self._outbox.append((record, on_delivery))
        if len(self._outbox) == 1 and not self._bridge.defer(self.release_outbox):
            self.release_outbox()

    def release_outbox(self) -> None:
        """Hand every queued record to librdkafka; runs on the loop thread."""
        batch, self._outbox = self._outbox, []
        produce, on_delivery_report = self._producer.produce, self._on_delivery
        chosen: dict[str, int | None] = {}
        for record, on_delivery in batch:
            report = functools.partial(on_delivery_report, on_delivery, record)
            partition = record.partition
            if partition == ANY_PARTITION:
                partition = chosen.get(record.topic, ANY_PARTITION)
                if partition == ANY_PARTITION:
                    partition = chosen[record.topic] = self._next_partition(record.topic)
            try:
                produce(
                    record.topic,
                    record.value,
                    record.key,
                    partition=_KEYED if partition is None else partition,
                    headers=record.headers,  # type: ignore[arg-type]
                    on_delivery=report,
                )
            except (KafkaException, BufferError) as exc:
                # The caller has moved on; a record librdkafka cannot even queue
                # settles like any refused record, through its delivery callback.
                failure = translate_exception(
                    exc, topic=record.topic, size=len(record.value), limit=self.max_message_bytes
                )
                _run_deliveries([(on_delivery, failure, record)])

    def _next_partition(self, topic: str) -> int | None:
        """The partition for this hand-over's ``ANY_PARTITION`` records of ``topic``.

        One partition per hand-over, the next one each time: the records leave as
        one batch instead of one per partition, and the broker's work grows with
        the number of batches (docs/benchmarks.md). Until the topic's partition
        count is known (looked up off the loop), the key decides.
        """
        count = self.partition_counts.get(topic)
        if count is None:
            if topic not in self.partition_counts:
                self.partition_counts[topic] = None
                threading.Thread(
                    target=self._look_up_partitions, args=(topic,), daemon=True
                ).start()
            return None
        turn = self._turns.get(topic, -1) + 1
        self._turns[topic] = turn
        return turn % count

    def _look_up_partitions(self, topic: str) -> None:
        try:
            self.partition_counts[topic] = _partition_count_blocking(self._producer, topic)
        except Exception:  # the key keeps deciding; look again on a later record
            self.partition_counts.pop(topic, None)

    def flush_blocking(self, timeout: float) -> int:
        remaining = int(self._producer.flush(timeout))
        self._hand_over()
        return remaining

    async def aclose(self, timeout: float) -> None:
        self.release_outbox()
        remaining = await anyio.to_thread.run_sync(self.flush_blocking, timeout)
        if remaining:
            logger.warning("%d message(s) were still unsent when the producer closed", remaining)
        await self._thread.stop()
        self._hand_over()


def _run_deliveries(batch: list[tuple[DeliveryCallback, Exception | None, OutboundRecord]]) -> None:
    for callback, error, record in batch:
        try:
            callback(error, record)
        except Exception:
            logger.exception("delivery callback failed for topic %s", record.topic)


def _drain(consumer: Consumer, limit: int) -> list[Message]:
    """One blocking poll for the first message, then whatever is already queued.

    ``consume(n, timeout)`` waits out the whole timeout even when messages are
    ready, so it is only used with timeout 0 to collect the rest of a batch.
    """
    first = consumer.poll(_POLL_S)
    if first is None:
        return []
    if limit <= 1:
        return [first]
    return [first, *consumer.consume(limit - 1, 0)]


def _usable(messages: list[Message], where: str) -> list[InboundRecord]:
    records = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(_to_record(message))
        elif error.code() != KafkaError._PARTITION_EOF:
            logger.warning("%s: %s", where, error.str())
    return records


class _KafkaReplyConsumer(ReplyConsumer):
    """Reads reply topics by manual assignment on its own thread.

    A librdkafka consumer handle must not be used by a second thread while one
    is inside ``poll()`` (the second call blocks), so assignments travel to the
    polling thread as commands, and offsets are looked up on a separate handle
    that is never polled.
    """

    def __init__(
        self, conf: dict[str, Any], bridge: LoopBridge, on_batch: RecordBatchHandler
    ) -> None:
        self._consumer = Consumer({**conf, "logger": librdkafka_logger})
        self._lookup = Consumer({**conf, "logger": librdkafka_logger})
        self._bridge = bridge
        self._on_batch = on_batch
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._assigned: set[tuple[str, int]] = set()
        self._assign_lock = anyio.Lock()
        self._thread = _PollThread("kafkarpc-replies", self._poll_once, self._close_blocking)
        self._thread.start()

    def _poll_once(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            command()
        # Short poll: an assignment command waits at most this long to run.
        first = self._consumer.poll(_REPLY_POLL_S)
        if first is None:
            return
        messages = [first, *self._consumer.consume(_BATCH_MAX - 1, 0)]
        records = _usable(messages, "reply consumer")
        if records:
            self._bridge.call_soon(self._on_batch, records)

    def _close_blocking(self) -> None:
        self._consumer.close()
        self._lookup.close()

    def _end_offsets_blocking(
        self, topics: Sequence[str], partition: int | None
    ) -> list[TopicPartition]:
        wanted: list[TopicPartition] = []
        for topic in topics:
            count = _partition_count_blocking(self._lookup, topic)
            if partition is not None and partition >= count:
                raise TopicNotFound(f"{topic}[{partition}]")
            for p in range(count) if partition is None else [partition]:
                if (topic, p) in self._assigned:
                    continue
                # An explicit offset (not OFFSET_END) makes the position certain
                # before assign() returns, so no reply to a later request is skipped.
                _low, high = self._lookup.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=_METADATA_TIMEOUT_S, cached=False
                )
                wanted.append(TopicPartition(topic, p, high))
        return wanted

    async def assign(self, topics: Sequence[str], *, partition: int | None = None) -> None:
        async with self._assign_lock:
            try:
                # A deadline may cancel the wait; the lookup finishes on its own.
                wanted = await anyio.to_thread.run_sync(
                    self._end_offsets_blocking, list(topics), partition, abandon_on_cancel=True
                )
            except KafkaException as exc:
                raise translate_exception(exc, topic=topics[0] if topics else None) from exc
            if not wanted:
                return
            applied = anyio.Event()
            failure: list[BaseException] = []

            def apply() -> None:
                # Runs on the polling thread, even if the caller's deadline cancelled
                # the wait below: so skip what an earlier, abandoned call assigned,
                # and record what this one assigns right here.
                current = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
                fresh = [tp for tp in wanted if (tp.topic, tp.partition) not in current]
                try:
                    if fresh:
                        self._consumer.incremental_assign(fresh)
                    self._assigned.update((tp.topic, tp.partition) for tp in wanted)
                except KafkaException as exc:
                    failure.append(exc)
                self._bridge.call_soon(applied.set)

            self._commands.put(apply)
            await applied.wait()
            if failure:
                raise translate_exception(failure[0], topic=topics[0]) from failure[0]

    async def aclose(self) -> None:
        await self._thread.stop()


class _KafkaGroupConsumer(GroupConsumer):
    def __init__(
        self,
        conf: dict[str, Any],
        bridge: LoopBridge,
        topics: Sequence[str],
        on_batch: RecordBatchHandler,
        max_in_flight: int,
    ) -> None:
        self._bridge = bridge
        self._on_batch = on_batch
        self._max_in_flight = max_in_flight
        self._tracker = OffsetTracker()
        self._paused = False
        self._stalled_since: float | None = None
        self._last_commit = 0.0
        self._fetching = threading.Event()
        self._fetching.set()
        self._first_assignment = threading.Event()
        self._drain_timeout = float(conf.get("session.timeout.ms", 10_000)) / 1000
        self._consumer = Consumer({**conf, "logger": librdkafka_logger})
        self._consumer.subscribe(
            list(topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._thread = _PollThread("kafkarpc-requests", self._poll_once, self._close_blocking)
        self._thread.start()

    # --- rebalance callbacks: run on the polling thread, inside poll() ---
    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("assigned %s", [f"{tp.topic}[{tp.partition}]" for tp in partitions])
        self._paused = False  # new partitions start unpaused; the next step re-checks
        self._first_assignment.set()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        # Let in-flight requests of these partitions finish so the next owner
        # does not run them again, then commit before giving them away.
        if not self._tracker.wait_drained(keys, self._drain_timeout):
            logger.warning("revoking %d partition(s) with requests still in flight", len(keys))
        self._commit(consumer, keys, asynchronous=False)
        self._tracker.forget(keys)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._tracker.forget({(tp.topic, tp.partition) for tp in partitions})

    def _commit(
        self, consumer: Consumer, keys: set[tuple[str, int]] | None, *, asynchronous: bool
    ) -> None:
        offsets = [TopicPartition(t, p, o) for t, p, o in self._tracker.take_commits(keys)]
        if not offsets:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=offsets, asynchronous=True)
            else:
                consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            logger.warning("offset commit failed: %s", exc)

    def _poll_once(self) -> None:
        consumer = self._consumer
        now = time.monotonic()
        if now - self._last_commit >= _COMMIT_INTERVAL_S:
            # A commit is a broker round trip; batching them costs only a little more
            # redelivery after a crash (revoke and close still commit everything).
            self._commit(consumer, None, asynchronous=True)
            self._last_commit = now
        if not self._fetching.is_set():
            self._set_paused(consumer, True)
            consumer.poll(_POLL_S)  # keep serving heartbeats and rebalances while stopping
            return
        if self._tracker.in_flight >= self._max_in_flight:
            # Full: wait for an ack instead of pausing. pause() throws away what
            # librdkafka prefetched and resume() fetches it again, which costs far
            # more than the wait. Only a long stall pauses, so that rebalance
            # callbacks (served inside poll) are not held up.
            if self._tracker.wait_for_room(self._max_in_flight, _STALL_S):
                self._stalled_since = None
            elif self._stalled_since is None:
                self._stalled_since = time.monotonic()
            elif time.monotonic() - self._stalled_since > _STALL_S * 10:
                self._set_paused(consumer, True)
                consumer.poll(_POLL_S)
            return
        self._stalled_since = None
        self._set_paused(consumer, False)
        room = self._max_in_flight - self._tracker.in_flight
        records = _usable(_drain(consumer, min(room, _BATCH_MAX)), "request consumer")
        if records:
            for record in records:
                self._tracker.add((record.topic, record.partition), record.offset)
            self._bridge.call_soon(self._on_batch, records)

    def _set_paused(self, consumer: Consumer, paused: bool) -> None:
        if paused == self._paused:
            return
        assignment = consumer.assignment()
        if assignment:
            # Paused partitions resume from the last record handed out; nothing is lost.
            (consumer.pause if paused else consumer.resume)(assignment)
        self._paused = paused

    def _close_blocking(self) -> None:
        self._commit(self._consumer, None, asynchronous=False)
        self._consumer.close()

    def wait_first_assignment(self, timeout: float) -> bool:
        return self._first_assignment.wait(timeout)

    def ack(self, record: InboundRecord) -> None:
        self._tracker.ack((record.topic, record.partition), record.offset)

    async def stop_fetching(self) -> None:
        self._fetching.clear()

    async def aclose(self) -> None:
        await self._thread.stop()


def _partition_count_blocking(client: Consumer | Producer | AdminClient, topic: str) -> int:
    metadata = client.list_topics(topic, timeout=_METADATA_TIMEOUT_S)
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        if (
            info is not None
            and info.error is not None
            and info.error.code()
            not in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError._UNKNOWN_TOPIC,
            )
        ):
            raise translate_error(info.error, topic=topic)
        raise TopicNotFound(topic)
    return len(info.partitions)


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
        self._producer: _KafkaProducer | None = None
        self._admin: AdminClient | None = None
        self._bridge: LoopBridge | None = None
        self._closeables: list[ReplyConsumer | GroupConsumer] = []
        self._closed = False
        self.max_message_bytes = int(self._config.get("message.max.bytes", 1_000_000))

    def _conf(self, role: Mapping[str, Any]) -> dict[str, Any]:
        return merge_config(self.bootstrap, role, self._security, self._config)

    def _producer_conf(self) -> dict[str, Any]:
        # Consumer-only properties would make librdkafka warn on every producer.
        return {k: v for k, v in self._conf(PRODUCER).items() if k not in _CONSUMER_ONLY}

    async def start(self) -> None:
        if self._closed:
            raise LifecycleError("transport is closed")
        if self._producer is not None:
            return
        self._bridge = LoopBridge()
        try:
            self._producer = _KafkaProducer(self._producer_conf(), self._bridge)
            admin_conf: dict[str, Any] = {
                k: v for k, v in self._conf({}).items() if k not in _CONSUMER_ONLY
            }
            admin_conf["logger"] = librdkafka_logger
            self._admin = AdminClient(admin_conf)
        except KafkaException as exc:
            raise translate_exception(exc) from exc
        self._producer.start()

    def _require_started(self) -> tuple[_KafkaProducer, LoopBridge]:
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
        admin = self._admin
        assert admin is not None

        def create() -> None:
            try:
                existing = set(admin.list_topics(timeout=_METADATA_TIMEOUT_S).topics)
            except KafkaException as exc:
                raise translate_exception(exc) from exc
            missing = [
                NewTopic(t, partitions, 1) for t in dict.fromkeys(topics) if t not in existing
            ]
            if not missing:
                return
            for topic, future in admin.create_topics(
                missing, operation_timeout=_METADATA_TIMEOUT_S
            ).items():
                try:
                    future.result()
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise translate_exception(exc, topic=topic) from exc

        await anyio.to_thread.run_sync(create, abandon_on_cancel=True)

    async def partition_count(self, topic: str) -> int:
        self._require_started()
        assert self._admin is not None
        try:
            count = await anyio.to_thread.run_sync(
                _partition_count_blocking, self._admin, topic, abandon_on_cancel=True
            )
        except KafkaException as exc:
            raise translate_exception(exc, topic=topic) from exc
        if self._producer is not None:
            self._producer.partition_counts[topic] = count
        return count

    async def reply_consumer(self, on_batch: RecordBatchHandler) -> ReplyConsumer:
        _, bridge = self._require_started()
        try:
            consumer = _KafkaReplyConsumer(self._conf(REPLY_CONSUMER), bridge, on_batch)
        except KafkaException as exc:
            raise translate_exception(exc) from exc
        self._closeables.append(consumer)
        return consumer

    async def group_consumer(
        self,
        topics: Sequence[str],
        *,
        group_id: str,
        on_batch: RecordBatchHandler,
        max_in_flight: int,
    ) -> GroupConsumer:
        _, bridge = self._require_started()
        conf = self._conf({**GROUP_CONSUMER, "group.id": group_id})
        try:
            consumer = _KafkaGroupConsumer(conf, bridge, topics, on_batch, max_in_flight)
        except KafkaException as exc:
            raise translate_exception(exc) from exc
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


_CONSUMER_ONLY = frozenset(
    {
        "fetch.wait.max.ms",
        "fetch.queue.backoff.ms",
        "fetch.error.backoff.ms",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "enable.partition.eof",
        "group.id",
        "auto.offset.reset",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "partition.assignment.strategy",
        "max.poll.interval.ms",
        "isolation.level",
    }
)
