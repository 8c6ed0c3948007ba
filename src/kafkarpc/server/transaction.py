"""Where an exactly-once server's records go: the open transaction of their request's partition.

``ExactlyOnce`` servers hand every record sent for a request (reply, dead
letter, staged events) to the transactional consumer that fetched it, which
commits them together with the request's offset (transport/kafka/transactions.py).
The consumer starts after the pipeline that feeds it, so the outlet learns it
once it runs.
"""

from __future__ import annotations

from .._exceptions import LifecycleError
from ..transport import (
    DeliveryCallback,
    InboundRecord,
    OutboundRecord,
    TransactionalGroupConsumer,
)

__all__ = ["Outlet"]


class Outlet:
    """Routes a request's records into its partition's open transaction."""

    __slots__ = ("consumer",)

    def __init__(self) -> None:
        self.consumer: TransactionalGroupConsumer | None = None

    def produce(
        self, source: InboundRecord, record: OutboundRecord, on_delivery: DeliveryCallback
    ) -> None:
        if self.consumer is None:
            raise LifecycleError("the exactly-once consumer is not running")
        self.consumer.produce(source, record, on_delivery)
