"""A transactional librdkafka producer driven by commands on its own thread.

librdkafka's transaction calls block for broker round trips, so they run on
this producer's thread, never on the event loop; the consumer's polling
thread hands them over (``run``) and waits for the result. A batch's records
are produced inside the same command that commits them: nothing reaches the
broker before the batch is complete, so a responder killed mid-batch leaves
no record behind, not even an aborted one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from confluent_kafka import Producer, TopicPartition

from ..records import OutboundRecord
from .polling import POLL_S, PollThread, librdkafka_logger

__all__ = ["TransactionalProducer"]

T = TypeVar("T")

TIMEOUT_S = 10.0
# librdkafka's RD_KAFKA_PARTITION_UA (also kafkarpc's ANY_PARTITION): the key decides.
_KEYED = -1


class TransactionalProducer:
    """One ``transactional.id``: initialise, commit a batch, abort."""

    def __init__(self, conf: dict[str, Any], name: str) -> None:
        self._producer = Producer({**conf, "logger": librdkafka_logger})
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = PollThread(name, self._serve_once, lambda: None)
        self._thread.start()

    def _serve_once(self) -> None:
        try:
            command = self._commands.get(timeout=POLL_S)
        except queue.Empty:
            command = None
        if command is not None:
            command()
        self._producer.poll(0)  # logs and errors

    def _run(self, work: Callable[[Producer], T]) -> T:
        """Run ``work`` on this producer's thread and wait for it (call from another thread)."""
        done = threading.Event()
        outcome: list[tuple[bool, Any]] = []

        def command() -> None:
            try:
                outcome.append((True, work(self._producer)))
            except BaseException as exc:  # raised again on the waiting thread
                outcome.append((False, exc))
            finally:
                done.set()

        self._commands.put(command)
        if not done.wait(TIMEOUT_S * 3):
            raise TimeoutError("the producer thread did not finish a transaction call")
        succeeded, value = outcome[0]
        if not succeeded:
            raise value
        return value  # type: ignore[no-any-return]

    def initialise(self) -> None:
        """Take the transactional id over (bumping its epoch fences its previous holder)."""

        def initialise(p: Producer) -> None:
            p.init_transactions(TIMEOUT_S)
            p.begin_transaction()

        self._run(initialise)

    def commit(self, records: Sequence[OutboundRecord], offset: TopicPartition, meta: Any) -> None:
        """Produce ``records``, commit them with the consumed ``offset``; raises KafkaException."""

        def commit(p: Producer) -> None:
            for record in records:
                p.produce(
                    record.topic,
                    record.value,
                    record.key,
                    partition=_KEYED if record.partition is None else record.partition,
                    headers=record.headers,  # type: ignore[arg-type]
                )
            p.send_offsets_to_transaction([offset], meta, TIMEOUT_S)
            p.commit_transaction(TIMEOUT_S)
            p.begin_transaction()

        self._run(commit)

    def abort(self) -> None:
        """Abort the open transaction and open the next; raises KafkaException when fenced."""

        def abort(p: Producer) -> None:
            p.abort_transaction(TIMEOUT_S)
            p.begin_transaction()

        self._run(abort)

    def close(self) -> None:
        """Stop the thread (from another thread); an open transaction is left to the broker."""
        self._thread.stop_blocking()
