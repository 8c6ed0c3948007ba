"""The records that cross the transport interface, and the callbacks that receive them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "ANY_PARTITION",
    "CREATE_TIME",
    "LOG_APPEND_TIME",
    "NO_TIMESTAMP_TYPE",
    "DeliveryCallback",
    "InboundRecord",
    "OutboundRecord",
    "RecordBatchHandler",
]


#: ``OutboundRecord.partition`` for a record whose key need not decide its partition
#: (a reply read from every partition): the transport may put it wherever records
#: batch best. ``None`` means the partitioner hashes the key, as Kafka clients do.
ANY_PARTITION = -1

# ``InboundRecord.timestamp_type``: what its timestamp is, named as Kafka's Java
# client names it (and Spring Kafka writes it into dead letters).
#: The producer set it when it made the record (the topic's default).
CREATE_TIME = "CreateTime"
#: The broker set it when it appended the record.
LOG_APPEND_TIME = "LogAppendTime"
#: The record has no timestamp.
NO_TIMESTAMP_TYPE = "NoTimestampType"

# Records are not frozen: one is made per message in each direction, and a frozen
# dataclass pays an object.__setattr__ per field (most of the cost of making one).
# Nothing in kafkarpc changes a record once made; treat them as values.


@dataclass(slots=True)
class OutboundRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    partition: int | None = None


@dataclass(slots=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int = 0
    timestamp_type: str = CREATE_TIME
    #: The consumer group that read it; ``None`` when read without one (replies).
    group: str | None = None


#: Called on the event loop thread once the broker acknowledged (error None) or refused a record.
DeliveryCallback = Callable[[Exception | None, OutboundRecord], None]
#: Called on the event loop thread with every batch a consumer fetched.
RecordBatchHandler = Callable[[list[InboundRecord]], None]
