"""Reading a whole topic, from its beginning to its current end (operator tools)."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from ..records import InboundRecord
from .admin import partition_count_blocking
from .polling import BATCH_MAX, POLL_S, librdkafka_logger, usable_records

__all__ = ["TopicReader"]

# High watermarks are not a safe stop condition: some Kafka-compatible brokers
# (Tansu) report them lagging behind the records they already serve. The end is
# where the topic stays quiet this long.
_QUIET_S = 1.0


class TopicReader:
    """One consumer assigned to every partition of a topic from its first record.

    Its blocking methods run on worker threads one at a time, never concurrently.
    """

    def __init__(self, conf: dict[str, Any], topic: str) -> None:
        self._topic = topic
        self._consumer = Consumer({**conf, "logger": librdkafka_logger})

    def open_blocking(self) -> None:
        """Assign every partition from its beginning; raises TopicNotFound."""
        count = partition_count_blocking(self._consumer, self._topic)
        self._consumer.assign(
            [TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in range(count)]
        )

    def next_batch_blocking(self) -> list[InboundRecord]:
        """The next records; empty once the topic has been quiet for a while (its end)."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since <= _QUIET_S:
            first = self._consumer.poll(POLL_S)
            if first is None:
                continue
            records = usable_records(
                [first, *self._consumer.consume(BATCH_MAX - 1, 0)], "topic reader"
            )
            if records:
                return records
        return []

    def close_blocking(self) -> None:
        self._consumer.close()
