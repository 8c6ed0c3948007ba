"""The server's side of exactly-once: joining the group, and where a request's records go.

``ExactlyOnce`` servers hand every record sent for a request (reply, dead
letter, staged events) to the transactional consumer that fetched it, which
commits them together with the request's offset (transport/kafka/transactions.py).
The consumer starts after the pipeline that feeds it, so the outlet learns it
once it runs, and holds back batches fetched before that (``gate``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .._config import ExactlyOnce
from .._exceptions import ConfigurationError, LifecycleError
from ..transport import (
    DeliveryCallback,
    GroupConsumer,
    InboundRecord,
    OutboundRecord,
    RecordBatchHandler,
    TransactionalGroupConsumer,
    Transport,
)
from .handler import Responder

__all__ = ["Outlet", "check_exactly_once", "join_group"]


class Outlet:
    """Routes a request's records into its partition's open transaction."""

    __slots__ = ("_accept", "_held", "consumer")

    def __init__(self) -> None:
        self.consumer: TransactionalGroupConsumer | None = None
        self._accept: RecordBatchHandler | None = None
        self._held: list[list[InboundRecord]] = []

    def gate(self, batch: list[InboundRecord]) -> None:
        """The consumer's ``on_batch``: passes batches on once ``attach``ed.

        A batch fetched before then would be answered into no transaction, and its
        requests could not even be rejected, so its batch would never commit."""
        if self._accept is None:
            self._held.append(batch)
        else:
            self._accept(batch)

    def attach(self, consumer: TransactionalGroupConsumer, accept: RecordBatchHandler) -> None:
        """From now on records go to ``consumer``'s transactions and batches to ``accept``."""
        self.consumer, self._accept = consumer, accept
        held, self._held = self._held, []
        for batch in held:
            accept(batch)

    def produce(
        self, source: InboundRecord, record: OutboundRecord, on_delivery: DeliveryCallback
    ) -> None:
        if self.consumer is None:
            raise LifecycleError("the exactly-once consumer is not running")
        self.consumer.produce(source, record, on_delivery)


async def join_group(
    transport: Transport,
    topics: Sequence[str],
    *,
    group_id: str,
    accept: RecordBatchHandler,
    max_in_flight: int,
    outlet: Outlet | None,
    exactly_once: ExactlyOnce | None,
) -> GroupConsumer:
    """The server's started group member: transactional when ``exactly_once`` is set."""
    if outlet is None or exactly_once is None:
        return await transport.group_consumer(
            topics, group_id=group_id, on_batch=accept, max_in_flight=max_in_flight
        )
    consumer = await transport.transactional_group_consumer(
        topics,
        exactly_once=exactly_once,
        group_id=group_id,
        on_batch=outlet.gate,
        max_in_flight=max_in_flight,
    )
    outlet.attach(consumer, accept)
    return consumer


def check_exactly_once(exactly_once: ExactlyOnce | None, responders: Iterable[Responder]) -> None:
    """Refuse what exactly-once cannot cover: a streaming responder's items are sent
    one by one as they come (server/streaming.py), outside any transaction."""
    if exactly_once is None:
        return
    streaming = sorted(responder.name for responder in responders if responder.streams)
    if streaming:
        raise ConfigurationError(
            f"streaming responders ({', '.join(streaming)}) cannot run with exactly_once:"
            " their items are sent as they come, outside the batch's transaction"
        )
