"""The Kafka producer: records leave in batches, delivery reports return in batches."""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import anyio
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ..bridge import LoopBridge
from ..limits import check_record_size
from ..records import ANY_PARTITION, DeliveryCallback, OutboundRecord
from .admin import partition_count_blocking
from .errors import translate_error, translate_exception
from .polling import POLL_S, PollThread, librdkafka_logger, logger
from .readiness import ConnectWatch, Verdict, probe_blocking

__all__ = ["KafkaProducer"]

# Replies and requests never wait for their own delivery report (only offset acks,
# publish() and dead letters do), so a few milliseconds of gathering cost no call
# latency. Measured at 128 calls in flight: 1.6k -> 2.6k req/s (docs/benchmarks.md).
_DELIVERY_GATHER_S = 0.005
# aclose gives up on records the broker has not taken for this long: a reachable
# broker acknowledges within milliseconds, so a second of silence means it is gone.
_STALL_S = 1.0
_FLUSH_SLICE_S = 0.1
# librdkafka's RD_KAFKA_PARTITION_UA, produce()'s default: the partitioner hashes the key.
_KEYED = -1
# How long a topic's ANY_PARTITION records keep going to one partition. Under load a
# hand-over happens every loop iteration, several per produce round trip; moving to
# the next partition on each sent them as several batches (one produce request each
# with librdkafka) where one would do. librdkafka's own sticky partitioner
# (sticky.partitioning.linger.ms) switches every 10 ms too. Measured in
# docs/benchmarks.md ("What was tried").
_STICKY_S = 0.010


class KafkaProducer:
    """One librdkafka producer; delivery reports cross to the loop in batches."""

    def __init__(self, conf: dict[str, Any], bridge: LoopBridge) -> None:
        self._producer = Producer({**conf, "logger": librdkafka_logger})
        self._bridge = bridge
        self._reports: list[tuple[DeliveryCallback, Exception | None, OutboundRecord]] = []
        self._reports_lock = threading.Lock()
        self._outbox: list[tuple[OutboundRecord, DeliveryCallback]] = []
        self.partition_counts: dict[str, int | None] = {}  # None: being looked up
        self._turns: dict[str, tuple[int, float]] = {}  # topic: (turn, when it began)
        self._thread = PollThread("kafkarpc-producer", self._poll_once, lambda: None)
        self.max_message_bytes = int(conf.get("message.max.bytes", 1_000_000))

    def start(self) -> None:
        self._thread.start()

    def probe_blocking(self, watch: ConnectWatch, budget: float) -> Verdict:
        """Whether the cluster answers (``readiness.py``); ``watch`` is our error_cb."""
        return probe_blocking(self._producer, watch, budget)

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
        if self._producer.poll(POLL_S):
            # Under load, reports arrive a few at a time: gathering them for a moment
            # turns hundreds of loop wake-ups a second into a few batches.
            time.sleep(_DELIVERY_GATHER_S)
            self._producer.poll(0)
        self._hand_over()

    def produce(self, record: OutboundRecord, on_delivery: DeliveryCallback) -> None:
        check_record_size(record, self.max_message_bytes, limit_name="producer's message.max.bytes")
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

        One partition per hand-over, the same one for ``_STICKY_S`` and then the
        next: the records leave as one batch instead of one per partition, and the
        broker's work grows with the number of batches (docs/benchmarks.md). Until
        the topic's partition count is known (looked up off the loop), the key decides.
        """
        count = self.partition_counts.get(topic)
        if count is None:
            if topic not in self.partition_counts:
                self.partition_counts[topic] = None
                threading.Thread(
                    target=self._look_up_partitions, args=(topic,), daemon=True
                ).start()
            return None
        now = time.monotonic()
        turn, began = self._turns.get(topic, (-1, -_STICKY_S))
        if now - began >= _STICKY_S:
            turn += 1
            self._turns[topic] = (turn, now)
        return turn % count

    def _look_up_partitions(self, topic: str) -> None:
        try:
            self.partition_counts[topic] = partition_count_blocking(self._producer, topic)
        except Exception:  # the key keeps deciding; look again on a later record
            self.partition_counts.pop(topic, None)

    def flush_blocking(self, timeout: float) -> int:
        remaining = int(self._producer.flush(timeout))
        self._hand_over()
        return remaining

    def _drain_blocking(self, timeout: float) -> int:
        """Flush while the broker keeps taking records, for at most ``timeout`` seconds.

        A broker that took nothing for ``_STALL_S`` is not going to: what is left is
        purged, so its delivery callbacks report it as not delivered, instead of
        ``aclose`` waiting out librdkafka's ``message.timeout.ms``.
        """
        start = time.monotonic()
        progress_at, left = start, len(self._producer)
        while left:
            now = time.monotonic()
            if now - progress_at >= _STALL_S or now - start >= timeout:
                self._producer.purge()
                self._producer.flush(0)  # serve the purged records' delivery callbacks
                break
            remaining = int(self._producer.flush(min(_FLUSH_SLICE_S, timeout)))
            if remaining < left:
                progress_at = time.monotonic()
            left = remaining
        self._hand_over()
        return left

    async def aclose(self, timeout: float) -> None:
        self.release_outbox()
        undelivered = await anyio.to_thread.run_sync(self._drain_blocking, timeout)
        if undelivered:
            logger.warning(
                "%d record(s) were not delivered before the producer closed; "
                "their senders were told",
                undelivered,
            )
        await self._thread.stop()
        self._hand_over()


def _run_deliveries(batch: list[tuple[DeliveryCallback, Exception | None, OutboundRecord]]) -> None:
    for callback, error, record in batch:
        try:
            callback(error, record)
        except Exception:
            logger.exception("delivery callback failed for topic %s", record.topic)
