"""Kafka consumers: the reply reader (manual assignment) and the request group member."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from confluent_kafka import Consumer, KafkaException, TopicPartition

from ..base import GroupConsumer, ReplyConsumer
from ..bridge import LoopBridge
from ..limits import partitions_to_read
from ..offsets import OffsetTracker
from ..records import InboundRecord, RecordBatchHandler
from .admin import METADATA_TIMEOUT_S, partition_count_blocking
from .errors import translate_exception
from .polling import BATCH_MAX, POLL_S, PollThread, drain, librdkafka_logger, logger, usable_records

__all__ = ["KafkaGroupConsumer", "KafkaReplyConsumer"]

_REPLY_POLL_S = 0.05
# Assignments looked up at once: one at a time, a client's first calls to 200
# operations waited for each other (a lookup and up to one poll each), the last one
# 10.7 s, past the default timeout. Concurrent ones are safe: ``apply`` skips what is
# already assigned, and each lookup is a thread-safe query on the never-polled handle.
_CONCURRENT_ASSIGNS = 16
_STALL_S = 0.1
_COMMIT_INTERVAL_S = 0.2


class KafkaReplyConsumer(ReplyConsumer):
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
        self._assign_lock = anyio.Semaphore(_CONCURRENT_ASSIGNS)
        self._thread = PollThread("kafkarpc-replies", self._poll_once, self._close_blocking)
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
        messages = [first, *self._consumer.consume(BATCH_MAX - 1, 0)]
        records = usable_records(messages, "reply consumer")
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
            count = partition_count_blocking(self._lookup, topic)
            for p in partitions_to_read(topic, count, partition):
                if (topic, p) in self._assigned:
                    continue
                # An explicit offset (not OFFSET_END) makes the position certain
                # before assign() returns, so no reply to a later request is skipped.
                _low, high = self._lookup.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=METADATA_TIMEOUT_S, cached=False
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


class KafkaGroupConsumer(GroupConsumer):
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
        self._group = str(conf["group.id"])  # each record says which group read it
        self._consumer = Consumer({**conf, "logger": librdkafka_logger})
        self._consumer.subscribe(
            list(topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._thread = PollThread("kafkarpc-requests", self._poll_once, self._close_blocking)
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
            consumer.poll(POLL_S)  # keep serving heartbeats and rebalances while stopping
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
                consumer.poll(POLL_S)
            return
        self._stalled_since = None
        self._set_paused(consumer, False)
        room = self._max_in_flight - self._tracker.in_flight
        records = usable_records(
            drain(consumer, min(room, BATCH_MAX)), "request consumer", self._group
        )
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
