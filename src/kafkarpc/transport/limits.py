"""Checks every transport makes the same way before it touches a broker."""

from __future__ import annotations

from collections.abc import Sequence

from .._exceptions import PayloadTooLarge, TopicNotFound
from .records import OutboundRecord

__all__ = [
    "HEADER_ROOM",
    "RECORD_OVERHEAD",
    "check_record_size",
    "partitions_to_read",
    "record_wire_size",
]


# librdkafka's worst case for one record's own fields (RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD):
# length, offset delta, key length, value length and header count as 5-byte varints,
# the timestamp delta as a 10-byte one, and one attributes byte.
RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5


def _varint_size(length: int) -> int:
    """Bytes of ``length`` as Kafka writes it in a record: a zigzag varint."""
    return ((length << 1).bit_length() + 6) // 7 or 1


def record_wire_size(record: OutboundRecord) -> int:
    """The size librdkafka checks against ``message.max.bytes`` before queueing ``record``.

    Key, value and headers (each name and value with its length) plus the record's
    worst-case overhead: a check on key and value alone lets through a record that
    librdkafka then refuses, which reached the caller as a failed publish instead.
    """
    size = RECORD_OVERHEAD + len(record.value) + (len(record.key) if record.key else 0)
    for name, value in record.headers:
        name_size = len(name.encode())
        size += name_size + len(value) + _varint_size(name_size) + _varint_size(len(value))
    return size


# Headers are counted only once key and value come this close to the limit: counting
# them costs about 0.7 us per record on every produce, and a record's headers are a few
# hundred bytes. One whose headers alone exceed this, and which librdkafka then refuses,
# still reaches its sender as PayloadTooLarge, through its delivery report.
HEADER_ROOM = 64 * 1024


def check_record_size(
    record: OutboundRecord, limit: int, *, limit_name: str = "limit", exact: bool = False
) -> None:
    """Raise ``PayloadTooLarge`` for a record over ``limit`` bytes (``record_wire_size``).

    Checked before producing, so the caller learns of it from its own call
    instead of from a delivery report later. ``exact`` counts the headers of every
    record, not only of those within ``HEADER_ROOM`` of the limit.
    """
    bare = RECORD_OVERHEAD + len(record.value) + (len(record.key) if record.key else 0)
    if not exact and bare + HEADER_ROOM <= limit:
        return  # the usual record: far below the limit whatever its headers
    size = record_wire_size(record)
    if size > limit:
        raise PayloadTooLarge(
            f"message for {record.topic!r} is {size} bytes with its key, headers and "
            f"record overhead; the {limit_name} is {limit}",
            size=size,
            limit=limit,
            topic=record.topic,
        )


def partitions_to_read(topic: str, count: int, partition: int | None) -> Sequence[int]:
    """Every partition of a ``count``-partition topic, or just ``partition``, which must exist."""
    if partition is None:
        return range(count)
    if partition >= count:
        raise TopicNotFound(f"{topic}[{partition}]")
    return [partition]
