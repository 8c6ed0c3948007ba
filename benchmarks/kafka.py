"""Client settings tuned for a local Tansu broker, and fresh-topic management.

Every system gets the same knobs so the comparison measures the code paths,
not the configuration. The values work around measured Tansu behaviour:
a fetch always waits the full ``fetch.wait.max.ms`` (no long-poll wake-up), so
it is kept at 10 ms (1 ms stalls the broker), and librdkafka's default
``fetch.queue.backoff.ms`` of 1 s stalls consumers under load.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin re-exports this only implicitly, which strict mypy rejects.
from confluent_kafka.cimpl import NewTopic

__all__ = [
    "FETCH_WAIT_MS",
    "BrokerInfo",
    "OperationTopics",
    "TopicAdmin",
    "TopicSet",
    "fresh_topics",
    "producer_config",
    "reply_consumer_config",
    "responder_consumer_config",
]

FETCH_WAIT_MS = 10
_ADMIN_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    bootstrap: str
    pid: int | None
    """The embedded broker's process, whose CPU the levels read; None with --bootstrap."""


@dataclass(frozen=True, slots=True)
class TopicSet:
    """The request/completed/failed trio of one benchmark level."""

    base: str
    partitions: int

    @property
    def requested(self) -> str:
        return f"{self.base}.requested.v1"

    @property
    def completed(self) -> str:
        return f"{self.base}.completed.v1"

    @property
    def failed(self) -> str:
        return f"{self.base}.failed.v1"

    @property
    def names(self) -> tuple[str, ...]:
        """Every topic of the set, which ``TopicAdmin`` creates and deletes."""
        return (self.requested, self.completed, self.failed)

    def routes(self) -> list[TopicSet]:
        """The trios a client spreads its requests over: this one alone."""
        return [self]


@dataclass(frozen=True, slots=True)
class OperationTopics(TopicSet):
    """The topic trios of ``operations`` operations, ``{base}.op{i}``, each with
    ``partitions`` partitions. ``names`` lists all of them, so ``TopicAdmin``
    creates and deletes every trio; ``requested`` and friends are operation 0's.
    Every system serves and calls all of them (request ``i`` goes to ``routes()[i % N]``)."""

    operations: int = 1

    def operation(self, index: int) -> TopicSet:
        return TopicSet(f"{self.base}.op{index:03d}", self.partitions)

    @property
    def requested(self) -> str:
        return self.operation(0).requested

    @property
    def completed(self) -> str:
        return self.operation(0).completed

    @property
    def failed(self) -> str:
        return self.operation(0).failed

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for route in self.routes() for name in route.names)

    def routes(self) -> list[TopicSet]:
        return [self.operation(i) for i in range(self.operations)]


def fresh_topics(system: str, load: int, partitions: int) -> TopicSet:
    # Tansu lists every stored batch of a partition on each fetch, so reusing a
    # topic across levels would slow later levels down; a unique base avoids it.
    return TopicSet(f"bench.{system}.l{load}.{uuid.uuid4().hex[:10]}", partitions)


def producer_config(bootstrap: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": 0,
        "socket.nagle.disable": True,
        "acks": "all",
        "enable.idempotence": False,
        # One produce request in flight per connection makes librdkafka batch
        # whatever accumulates meanwhile (aiokafka does the same by design).
        # Unlimited, it sends one tiny batch per message under load, and Tansu's
        # costs grow with the number of batches: measured at 1024 in flight,
        # 1.4k-4k req/s unlimited vs 6k-9.6k req/s with 1, same p50 at load 1.
        "max.in.flight.requests.per.connection": 1,
    }


def reply_consumer_config(bootstrap: str) -> dict[str, Any]:
    """A consumer that is only ever ``assign()``-ed: librdkafka insists on a group.id,
    but without ``subscribe()`` no group is joined and nothing is committed."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-unused-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        "fetch.queue.backoff.ms": FETCH_WAIT_MS,
        "socket.nagle.disable": True,
    }


def responder_consumer_config(bootstrap: str, group_id: str) -> dict[str, Any]:
    # Tansu holds a JoinGroup for about half the session timeout, so it is kept
    # at the broker minimum to make each level's start-up cost ~3 s, not ~22 s.
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        "fetch.queue.backoff.ms": FETCH_WAIT_MS,
        "socket.nagle.disable": True,
    }


class TopicAdmin:
    """Creates and deletes level topics; one instance per session, because each
    AdminClient torn down with requests still queued logs a purge warning."""

    def __init__(self, bootstrap: str) -> None:
        # Its failures surface as exceptions; librdkafka's own log would repeat
        # an unreachable broker twenty times a second.
        self._admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})

    def check_reachable(self) -> None:
        """Raise KafkaException when the broker does not answer a metadata request."""
        self._admin.list_topics(timeout=_ADMIN_TIMEOUT_S)

    def create(self, topics: TopicSet) -> None:
        futures = self._admin.create_topics(
            [NewTopic(name, topics.partitions, 1) for name in topics.names],
            operation_timeout=_ADMIN_TIMEOUT_S,
        )
        for future in futures.values():
            future.result(timeout=_ADMIN_TIMEOUT_S)

    def delete(self, topics: TopicSet) -> None:
        """Best effort: a level's topics are never read again; deleting frees broker memory."""
        futures = self._admin.delete_topics(list(topics.names), operation_timeout=_ADMIN_TIMEOUT_S)
        for future in futures.values():
            try:
                future.result(timeout=_ADMIN_TIMEOUT_S)
            except KafkaException:
                continue
