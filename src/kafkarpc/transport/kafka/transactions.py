"""Exactly-once consumption: batches of requests answered in Kafka transactions.

The fencing scheme: one transactional producer per request partition, with the
transactional id ``{prefix}.{topic}.{partition}``. The member assigned a
partition initialises that id (InitProducerId) before fetching from it, which
bumps the id's epoch: the broker then refuses the previous owner's records and
commit (PRODUCER_FENCED) and aborts its open transaction. The consumer's group
metadata travels with the offsets too, so a broker that checks generations
(KIP-447) also refuses a stale member's offsets; Tansu does not check them
(measured, docs/failure-semantics.md), which is why the id follows the
partition and not the member.

A batch's records wait here until every request of the batch is answered,
then leave and commit in one command on the partition's producer thread
(``txn_producer.py``). Everything else runs on the consumer's polling thread,
except ``produce``, ``ack`` and ``reject`` (event loop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from ..._config import ExactlyOnce
from ..._exceptions import TransportError
from ..base import TransactionalGroupConsumer
from ..bridge import LoopBridge
from ..limits import check_record_size
from ..records import DeliveryCallback, InboundRecord, OutboundRecord, RecordBatchHandler
from .polling import BATCH_MAX, POLL_S, PollThread, drain, librdkafka_logger, logger, usable_records
from .txn_producer import TransactionalProducer

__all__ = ["KafkaTransactionalConsumer"]

# How often a thread waiting for a batch's answers looks up (stopping, new records).
_SETTLE_SLICE_S = 0.002
# After an abort, fetch again only after this pause, so a record the broker keeps
# refusing does not spin the batch.
_ABORT_BACKOFF_S = 0.2

Key = tuple[str, int]


class _Batch:
    """The requests of one round of transactions and the records sent for them."""

    __slots__ = ("first", "last", "lost", "pending", "records", "rejected", "size", "started")

    def __init__(self) -> None:
        self.pending: set[tuple[str, int, int]] = set()
        self.first: dict[Key, int] = {}
        self.last: dict[Key, int] = {}
        self.records: dict[Key, list[OutboundRecord]] = {}
        self.rejected: set[Key] = set()
        self.lost: set[Key] = set()
        self.started = 0.0
        self.size = 0

    def add(self, record: InboundRecord) -> None:
        key = (record.topic, record.partition)
        if not self.first:
            self.started = time.monotonic()
        self.first.setdefault(key, record.offset)
        self.last[key] = record.offset
        self.pending.add((record.topic, record.partition, record.offset))
        self.size += 1


class KafkaTransactionalConsumer(TransactionalGroupConsumer):
    """A request group member answering each batch of requests in transactions."""

    def __init__(
        self,
        conf: dict[str, Any],
        producer_conf: dict[str, Any],
        bridge: LoopBridge,
        topics: Sequence[str],
        on_batch: RecordBatchHandler,
        max_in_flight: int,
        exactly_once: ExactlyOnce,
    ) -> None:
        self._bridge = bridge
        self._on_batch = on_batch
        self._limit = min(max_in_flight, exactly_once.max_requests, BATCH_MAX)
        self._max_wait = exactly_once.max_wait
        self._drain_timeout = float(conf.get("session.timeout.ms", 10_000)) / 1000
        self._prefix = exactly_once.transactional_id_prefix or str(conf["group.id"])
        self._producer_conf = producer_conf
        self.max_message_bytes = int(producer_conf.get("message.max.bytes", 1_000_000))
        self._producers: dict[Key, TransactionalProducer] = {}
        self._cond = threading.Condition()
        self._batch = _Batch()
        self._paused = False
        self._fetching = threading.Event()
        self._fetching.set()
        self._first_assignment = threading.Event()
        self._consumer = Consumer({**conf, "logger": librdkafka_logger})
        self._consumer.subscribe(
            list(topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._thread = PollThread("kafkarpc-transactions", self._poll_once, self._close_blocking)
        self._thread.start()

    def transactional_id(self, topic: str, partition: int) -> str:
        return f"{self._prefix}.{topic}.{partition}"

    # --- event loop side ---
    def produce(
        self, source: InboundRecord, record: OutboundRecord, on_delivery: DeliveryCallback
    ) -> None:
        """Hold ``record`` for the batch's transaction; ``on_delivery`` runs at once.

        Whether it is stored is decided when the batch commits or aborts: a
        record the broker refuses then aborts the batch, and its requests run again.
        """
        check_record_size(record, self.max_message_bytes, limit_name="producer's message.max.bytes")
        with self._cond:
            batch = self._batch
            if (source.topic, source.partition, source.offset) not in batch.pending:
                raise TransportError(
                    f"{source.topic}[{source.partition}]@{source.offset} is in no open batch"
                    " (its batch ended or its partition was reassigned)"
                )
            batch.records.setdefault((source.topic, source.partition), []).append(record)
        on_delivery(None, record)

    def ack(self, record: InboundRecord) -> None:
        with self._cond:
            self._batch.pending.discard((record.topic, record.partition, record.offset))
            if not self._batch.pending:
                self._cond.notify_all()

    def reject(self, record: InboundRecord) -> None:
        with self._cond:
            batch = self._batch
            key = (record.topic, record.partition, record.offset)
            if key in batch.pending:
                batch.pending.discard(key)
                batch.rejected.add((record.topic, record.partition))
            if not batch.pending:
                self._cond.notify_all()

    async def stop_fetching(self) -> None:
        self._fetching.clear()

    async def aclose(self) -> None:
        await self._thread.stop()

    def wait_first_assignment(self, timeout: float) -> bool:
        return self._first_assignment.wait(timeout)

    # --- polling thread ---
    def _poll_once(self) -> None:
        consumer, batch = self._consumer, self._batch
        stopping = not self._fetching.is_set()
        if batch.first:
            if not (batch.size >= self._limit or stopping):
                # Requests keep joining the batch while any of it is unanswered.
                records = usable_records(consumer.consume(self._limit - batch.size, 0), "requests")
                if records:
                    self._deliver(records)
                    return
                with self._cond:
                    if not self._cond.wait_for(lambda: not batch.pending, _SETTLE_SLICE_S):
                        return
                # All answered; linger up to max_wait (from the batch's start) for more.
                linger = batch.started + self._max_wait - time.monotonic()
                if linger > 0:
                    messages = consumer.consume(self._limit - batch.size, linger)
                    records = usable_records(messages, "requests")
                    if records:
                        self._deliver(records)
                        return
            self._finish_batch()
            return
        if stopping:
            self._set_paused(True)
            consumer.poll(POLL_S)  # keep serving heartbeats and rebalances while stopping
            return
        self._set_paused(False)
        records = usable_records(drain(consumer, self._limit), "requests")
        if records:
            self._deliver(records)

    def _deliver(self, records: list[InboundRecord]) -> None:
        with self._cond:
            for record in records:
                self._batch.add(record)
        self._bridge.call_soon(self._on_batch, records)

    def _wait_answered(self, timeout: float | None) -> bool:
        """Wait until every request of the batch is acknowledged or rejected."""
        batch = self._batch
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while batch.pending:
                if self._thread.stopping:
                    return False  # closing with requests never answered (shutdown_timeout)
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                self._cond.wait(_SETTLE_SLICE_S * 50)
        return True

    def _finish_batch(
        self, timeout: float | None = None, *, revoking: frozenset[Key] = frozenset()
    ) -> None:
        """Commit the batch's transactions (or abort them), then start the next batch.

        Waits for the batch's answers (at most ``timeout`` seconds, when given);
        what is still unanswered then is aborted and fetched again, except from
        the partitions being revoked (their next owner fetches them; reopening a
        producer here would fence that owner)."""
        answered = self._wait_answered(timeout)
        with self._cond:
            batch, self._batch = self._batch, _Batch()
        metadata = self._consumer.consumer_group_metadata()
        failed: list[Key] = []
        for key, last in batch.last.items():
            producer = self._producers.get(key)
            if producer is None:
                failed.append(key)  # fenced earlier: fetch again if it is still ours
                continue
            if answered and key not in batch.rejected and key not in batch.lost:
                try:
                    offset = TopicPartition(key[0], key[1], last + 1)
                    producer.commit(batch.records.get(key, []), offset, metadata)
                    continue
                except (KafkaException, TimeoutError) as exc:
                    logger.warning("transaction of %s[%d] not committed: %s", *key, exc)
            failed.append(key)
            self._abort(key, producer, again=key not in batch.lost)
        rewind = [key for key in failed if key not in revoking]
        if rewind:
            self._rewind(rewind, batch)

    def _abort(self, key: Key, producer: TransactionalProducer, *, again: bool) -> None:
        try:
            producer.abort()
            if again:
                logger.warning("transaction of %s[%d] aborted; its requests run again", *key)
        except (KafkaException, TimeoutError) as exc:
            # Fenced: a newer owner initialised this partition's transactional id.
            logger.error("transaction of %s[%d] cannot go on (%s); giving it up", *key, exc)
            self._drop_producer(key)

    def _rewind(self, keys: list[Key], batch: _Batch) -> None:
        """Fetch the aborted requests again, from the batch's first offset of each partition."""
        assigned = {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        for key in keys:
            if key not in assigned:
                continue  # given away: the new owner fetches it from the committed offset
            if key not in self._producers:
                self._open_producer(key)
            if key in self._producers:
                try:
                    self._consumer.seek(TopicPartition(key[0], key[1], batch.first[key]))
                except KafkaException as exc:
                    logger.warning("could not rewind %s[%d]: %s", *key, exc)
        time.sleep(_ABORT_BACKOFF_S)

    def _open_producer(self, key: Key) -> None:
        name = self.transactional_id(*key)
        producer = TransactionalProducer({**self._producer_conf, "transactional.id": name}, name)
        try:
            producer.initialise()
        except (KafkaException, TimeoutError) as exc:
            logger.error("no transactions for %s[%d]: %s", *key, exc)
            producer.close()
            return
        self._producers[key] = producer

    def _drop_producer(self, key: Key) -> None:
        producer = self._producers.pop(key, None)
        if producer is not None:
            producer.close()

    # --- rebalance callbacks: run on the polling thread, inside poll() ---
    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("assigned %s", [f"{tp.topic}[{tp.partition}]" for tp in partitions])
        for tp in partitions:
            if (tp.topic, tp.partition) not in self._producers:
                self._open_producer((tp.topic, tp.partition))
        self._paused = False
        self._first_assignment.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish the open batch (answer, commit) before the partitions go; a batch
        # still unanswered after a session timeout is aborted, for the next owner to run.
        if self._batch.first:
            revoking = frozenset((tp.topic, tp.partition) for tp in partitions)
            self._finish_batch(self._drain_timeout, revoking=revoking)
        for tp in partitions:
            self._drop_producer((tp.topic, tp.partition))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Another member may already answer these: never commit them from here.
        logger.warning(
            "lost %s to another member; their open batch is dropped",
            [f"{tp.topic}[{tp.partition}]" for tp in partitions],
        )
        with self._cond:
            self._batch.lost.update((tp.topic, tp.partition) for tp in partitions)

    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        assignment = self._consumer.assignment()
        if assignment:
            (self._consumer.pause if paused else self._consumer.resume)(assignment)
        self._paused = paused

    def _close_blocking(self) -> None:
        if self._batch.first:
            self._finish_batch()
        for key in list(self._producers):
            self._drop_producer(key)
        self._consumer.close()
