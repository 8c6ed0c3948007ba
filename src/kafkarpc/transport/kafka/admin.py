"""Topic metadata and creation through librdkafka (development helper and lookups)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from ..._exceptions import TopicNotFound
from .errors import translate_error, translate_exception

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

__all__ = ["METADATA_TIMEOUT_S", "create_topics_blocking", "partition_count_blocking"]

METADATA_TIMEOUT_S = 10.0


def partition_count_blocking(client: Consumer | Producer | AdminClient, topic: str) -> int:
    metadata = client.list_topics(topic, timeout=METADATA_TIMEOUT_S)
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


def create_topics_blocking(admin: AdminClient, topics: Sequence[str], partitions: int) -> None:
    """Create those of ``topics`` that do not exist yet; one that appears meanwhile is fine."""
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # as AdminClient

    try:
        existing = set(admin.list_topics(timeout=METADATA_TIMEOUT_S).topics)
    except KafkaException as exc:
        raise translate_exception(exc) from exc
    missing = [NewTopic(t, partitions, 1) for t in dict.fromkeys(topics) if t not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=METADATA_TIMEOUT_S).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise translate_exception(exc, topic=topic) from exc
