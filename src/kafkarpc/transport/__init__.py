"""Transports move bytes between kafkarpc and a broker.

``Transport`` is the interface; ``KafkaTransport`` (librdkafka on dedicated
threads) and ``MemoryTransport`` (an in-process broker for unit tests) implement
it. Client and server receive one through their constructor.
"""

from .base import (
    GroupConsumer,
    GroupOptions,
    ReplyConsumer,
    TransactionalGroupConsumer,
    Transport,
)
from .records import (
    ANY_PARTITION,
    DeliveryCallback,
    InboundRecord,
    OutboundRecord,
    RecordBatchHandler,
)

__all__ = [
    "ANY_PARTITION",
    "DeliveryCallback",
    "GroupConsumer",
    "GroupOptions",
    "InboundRecord",
    "OutboundRecord",
    "RecordBatchHandler",
    "ReplyConsumer",
    "TransactionalGroupConsumer",
    "Transport",
]
