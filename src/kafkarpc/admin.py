"""Development helpers for topics. Creating topics is off by default in client and server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._config import Security
from .transport.kafka.transport import KafkaTransport
from .wire.topics import TopicNaming, TopicTrio, dlq_topic, name_topic, validate_topic_name

__all__ = ["ensure_topics", "trio_topics"]


def trio_topics(
    ops: Iterable[str | TopicTrio],
    *,
    version: str = "v1",
    with_dlq: bool = True,
    naming: TopicNaming | None = None,
) -> list[str]:
    """Every topic the operations use: the trio and, by default, the request DLQ.
    ``naming`` is ``Topics.naming``: pass the one client and server use."""
    topics: list[str] = []
    for op in ops:
        trio = TopicTrio.coerce(op, version=version, naming=naming)
        topics += [trio.requested, trio.completed, trio.failed]
        if with_dlq:
            topics.append(dlq_topic(trio.requested))
    return topics


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str | TopicTrio],
    *,
    partitions: int = 3,
    security: Security | None = None,
    config: Mapping[str, Any] | None = None,
    naming: TopicNaming | None = None,
) -> list[str]:
    """Create missing topics; a ``TopicTrio`` (or a base name ending without a role) expands to
    its three topics and the DLQ. Meant for development and tests, not production clusters.
    ``naming`` (``Topics.naming``) names each plain topic, as ``publish`` does."""
    names: list[str] = []
    for topic in topics:
        if isinstance(topic, TopicTrio):
            names += trio_topics([topic])
        else:
            names.append(name_topic(naming, validate_topic_name(topic)))
    transport = KafkaTransport(bootstrap, security=security, config=config)
    await transport.start()
    try:
        await transport.ensure_topics(names, partitions=partitions)
    finally:
        await transport.aclose()
    return names
