"""Polling librdkafka clients on dedicated threads, and what they hand over.

Threads, not asyncio wrappers: ``AIOProducer`` cannot send headers and holds
messages about a second before librdkafka sees them. Each thread polls its
client and hands everything it got in one poll to the event loop in one hop
(``LoopBridge.call_soon``), so the loop never blocks and pays per batch, not
per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import anyio
from confluent_kafka import Consumer, KafkaError, Message

from ..records import CREATE_TIME, LOG_APPEND_TIME, NO_TIMESTAMP_TYPE, InboundRecord

__all__ = [
    "BATCH_MAX",
    "POLL_S",
    "PollThread",
    "drain",
    "librdkafka_logger",
    "logger",
    "to_record",
    "usable_records",
]

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

POLL_S = 0.1
BATCH_MAX = 500


# librdkafka's timestamp types (TIMESTAMP_NOT_AVAILABLE, _CREATE_TIME, _LOG_APPEND_TIME).
_TIMESTAMP_TYPES = (NO_TIMESTAMP_TYPE, CREATE_TIME, LOG_APPEND_TIME)


def to_record(message: Message, group: str | None = None) -> InboundRecord:
    headers = message.headers() or []
    kind, timestamp = message.timestamp()
    return InboundRecord(
        message.topic() or "",
        message.partition() or 0,
        message.offset() or 0,
        message.key(),
        message.value(),
        headers if isinstance(headers, list) else list(headers.items()),  # type: ignore[arg-type]
        timestamp,
        _TIMESTAMP_TYPES[kind],
        group,
    )


class PollThread:
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
                    self._stop.wait(POLL_S)
        finally:
            self._on_exit()

    def stop_blocking(self) -> None:
        """Stop and join from another thread (never the loop, never this thread itself)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    async def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            await anyio.to_thread.run_sync(self._thread.join, abandon_on_cancel=True)


def drain(consumer: Consumer, limit: int) -> list[Message]:
    """One blocking poll for the first message, then whatever is already queued.

    ``consume(n, timeout)`` waits out the whole timeout even when messages are
    ready, so it is only used with timeout 0 to collect the rest of a batch.
    """
    first = consumer.poll(POLL_S)
    if first is None:
        return []
    if limit <= 1:
        return [first]
    return [first, *consumer.consume(limit - 1, 0)]


def usable_records(
    messages: list[Message], where: str, group: str | None = None
) -> list[InboundRecord]:
    records = []
    for message in messages:
        error = message.error()
        if error is None:
            records.append(to_record(message, group))
        elif error.code() != KafkaError._PARTITION_EOF:
            logger.warning("%s: %s", where, error.str())
    return records
