"""Checks every transport makes the same way before it touches a broker."""

from __future__ import annotations

from collections.abc import Sequence

from .._exceptions import PayloadTooLarge, TopicNotFound
from .records import OutboundRecord

__all__ = ["check_record_size", "partitions_to_read"]


def check_record_size(record: OutboundRecord, limit: int, *, limit_name: str = "limit") -> None:
    """Raise ``PayloadTooLarge`` for a record (key and value) over ``limit`` bytes.

    Checked before producing, so the caller learns of it from its own call
    instead of from a delivery report later.
    """
    size = len(record.value) + (len(record.key) if record.key else 0)
    if size > limit:
        raise PayloadTooLarge(
            f"message for {record.topic!r} is {size} bytes; the {limit_name} is {limit}",
            size=size,
            limit=limit,
        )


def partitions_to_read(topic: str, count: int, partition: int | None) -> Sequence[int]:
    """Every partition of a ``count``-partition topic, or just ``partition``, which must exist."""
    if partition is None:
        return range(count)
    if partition >= count:
        raise TopicNotFound(f"{topic}[{partition}]")
    return [partition]
