"""Peers written without kafkarpc, for the wire-profile tests: plain confluent-kafka clients.

Each writes and reads records byte for byte as the foreign framework does (SPEC §8),
so a test can hold kafkarpc's records to those bytes on the real broker.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import Consumer, Message, Producer, TopicPartition

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Seen:
    """One record as a peer read it."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)

    def header(self, name: str) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


@dataclass(frozen=True)
class Send:
    """A record a peer writes."""

    topic: str
    value: bytes | None
    headers: Headers
    key: bytes | None = None
    partition: int | None = None


def _seen(message: Message[bytes, bytes]) -> Seen:
    headers: Headers = []
    raw = message.headers() or []
    for name, value in raw.items() if isinstance(raw, dict) else raw:
        headers.append((name, value.encode() if isinstance(value, str) else value or b""))
    return Seen(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        key=message.key(),
        value=message.value(),
        headers=headers,
    )


def _reader(bootstrap: str, topics: list[str]) -> Consumer:
    """A consumer of every partition of ``topics`` from the start (no group join: fast)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "wire-peer"})
    metadata = consumer.list_topics(timeout=10)
    assigned = [
        TopicPartition(topic, partition, 0)
        for topic in topics
        for partition in metadata.topics[topic].partitions
    ]
    consumer.assign(assigned)
    return consumer


def _produce(producer: Producer, record: Send) -> None:
    producer.produce(
        record.topic,
        value=record.value,
        key=record.key,
        headers=list[tuple[str, str | bytes | None]](record.headers),
        partition=-1 if record.partition is None else record.partition,  # -1: the partitioner's
    )


def send(bootstrap: str, records: list[Send]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for record in records:
        _produce(producer, record)
    assert producer.flush(10) == 0


def read(bootstrap: str, topic: str, count: int = 1, polls: int = 300) -> list[Seen]:
    """The first ``count`` records of ``topic`` (any partition); AssertionError if fewer come."""
    consumer = _reader(bootstrap, [topic])
    found: list[Seen] = []
    try:
        for _ in range(polls):
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            found.append(_seen(message))
            if len(found) == count:
                return found
    finally:
        consumer.close()
    raise AssertionError(f"{len(found)} of {count} records arrived on {topic}")


@contextlib.contextmanager
def responder(
    bootstrap: str, topic: str, answer: Callable[[Seen], list[Send]]
) -> Iterator[list[Seen]]:
    """A foreign responder on ``topic`` (read from the start): ``answer`` says what it sends.

    Yields the requests it saw, for the test to check their bytes.
    """
    stop = threading.Event()
    ready = threading.Event()
    seen: list[Seen] = []
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            consumer = _reader(bootstrap, [topic])
            producer = Producer({"bootstrap.servers": bootstrap})
        except BaseException as exc:
            errors.append(exc)
            ready.set()
            raise
        ready.set()
        try:
            while not stop.is_set():
                message = consumer.poll(0.05)
                if message is None or message.error():
                    continue
                request = _seen(message)
                seen.append(request)
                for reply in answer(request):
                    _produce(producer, reply)
                producer.flush(10)
        finally:
            consumer.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(30)
    if errors:
        raise errors[0]
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)
