"""Getting a request's records onto the broker: one send, resend or park path.

Every record a responder sends (a reply, a dead letter) goes through ``post``:
handed to the producer without waiting, it counts toward the request's
``Settlement``, which acknowledges the request once the broker has all of it.
When the broker refuses a record, ``next_step`` (pure) says what to send instead:
the reply on the operation's own topics, a failure for a reply too large, or
the request parked in its DLQ; a dead letter that cannot be sent leaves the
request unacknowledged (redelivered). A refusal that may pass (a broker
hiccup) is retried here, in a background task, by ``send``.

With an ``Outlet`` (``ExactlyOnce``), records go into the open transaction of
their request's partition instead, and nothing is resent: a record the broker
refused leaves the transaction unable to commit, so the request is rejected and
its batch aborted and fetched again.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._exceptions import (
    ConfigurationError,
    KafkaRpcError,
    PayloadTooLarge,
    TopicNotFound,
)
from .._logging import about
from .._telemetry import ServerTelemetry
from ..transport import ANY_PARTITION, OutboundRecord, Transport
from .outbox import StagedEvent
from .replier import DeadLetter, Replier, Reply
from .settlement import Settlement
from .transaction import Outlet

__all__ = ["Delivery", "next_step"]

logger = logging.getLogger("kafkarpc.server")

Parcel = Reply | DeadLetter | StagedEvent

_SEND_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
_PERMANENT_SEND_ERRORS = (PayloadTooLarge, TopicNotFound, ConfigurationError)
_REPLY_RENDERS = 3  # a reply is rendered (re-routed, turned into a failure) at most this often


def next_step(replier: Replier, parcel: Parcel, error: KafkaRpcError) -> Parcel | None:
    """What to send instead of ``parcel`` once the broker refused it for ``error``."""
    if type(parcel) is not Reply:
        return None  # unacknowledged, the request is redelivered
    record, trio = parcel.record, parcel.trio
    if parcel.renders < _REPLY_RENDERS:
        if isinstance(error, TopicNotFound) and (record.topic, record.partition) != (
            trio.completed,
            ANY_PARTITION,
        ):
            # A bogus reply_to or reply_partition must not strand the request.
            return replier.on_own_topics(parcel)
        if isinstance(error, PayloadTooLarge) and parcel.outcome.ok:
            return replier.too_large(parcel, error)
    # A reply the broker keeps refusing must not hold back its partition's commits
    # forever: park the request in the DLQ (replayable), then it may be acknowledged.
    return replier.parked(parcel)


@dataclass(frozen=True, slots=True, eq=False)
class Delivery:
    """Hands records to the producer; resends or parks what the broker refuses."""

    transport: Transport
    replier: Replier  # what a refused reply becomes
    telemetry: ServerTelemetry
    tasks: TaskGroup  # where refused records are resent
    outlet: Outlet | None = None  # set: exactly-once, records go into transactions
    _refused: tuple[
        MemoryObjectSendStream[tuple[Parcel, Settlement]],
        MemoryObjectReceiveStream[tuple[Parcel, Settlement]],
    ] = field(
        default_factory=lambda: anyio.create_memory_object_stream[tuple[Parcel, Settlement]](
            math.inf
        ),
        init=False,
        repr=False,
    )

    async def resend_refused(self) -> None:
        """Resend each refused record in a task of its own; runs as long as the pipeline."""
        async for parcel, settlement in self._refused[1]:
            self.tasks.start_soon(self._resend, parcel, settlement)

    def post(self, parcel: Parcel, settlement: Settlement) -> tuple[Parcel, bool]:
        """Hand ``parcel`` (or what replaces it) to the producer without waiting.

        Returns the last parcel tried and whether the producer took it. A worker
        waiting for acknowledgements would leave requests queued behind it; the
        settlement waits instead.
        """
        while True:
            settlement.expect()
            try:
                delivered = functools.partial(self._delivered, settlement, parcel)
                if self.outlet is None:
                    self.transport.produce(parcel.record, delivered)
                else:
                    self.outlet.produce(parcel.source, parcel.record, delivered)
            except _PERMANENT_SEND_ERRORS as exc:
                settlement.finish(True)  # nothing is outstanding for this record
                following = self._next(parcel, exc)
                if following is None:
                    return parcel, False
                parcel = following
                continue
            except KafkaRpcError as exc:
                if self.outlet is not None:
                    self._refused_in_transaction(settlement, parcel, exc)
                    return parcel, False
                self._resend_later(settlement, parcel)
            if type(parcel) is DeadLetter:
                self.telemetry.dead_lettered(parcel.source.topic)
            return parcel, True

    async def send(self, record: OutboundRecord) -> KafkaRpcError | None:
        """Send and wait, retrying transient failures; the error if the broker would not take it."""
        for delay in (*_SEND_RETRY_DELAYS, None):
            try:
                await self.transport.send(record)
                return None
            except _PERMANENT_SEND_ERRORS as exc:
                return exc  # retrying cannot fix these
            except KafkaRpcError as exc:
                if delay is None:
                    logger.error(
                        "giving up sending to %s: %s", record.topic, exc,
                        extra=about(None, record.topic),
                    )  # fmt: skip
                    return exc
                logger.warning(
                    "sending to %s failed (%s); retrying in %.2fs", record.topic, exc, delay,
                    extra=about(None, record.topic),
                )  # fmt: skip
                await anyio.sleep(delay)
        raise AssertionError("unreachable: the last delay is None")

    def _delivered(
        self,
        settlement: Settlement,
        parcel: Parcel,
        error: Exception | None,
        _record: OutboundRecord,
    ) -> None:
        if error is None:
            settlement.finish(True)
        elif self.outlet is not None:
            self._refused_in_transaction(settlement, parcel, error)
        else:
            self._resend_later(settlement, parcel)

    def _refused_in_transaction(
        self, settlement: Settlement, parcel: Parcel, error: Exception
    ) -> None:
        source = parcel.source
        logger.warning(
            "%s refused a record for %s[%d]@%d (%s); its batch is aborted and fetched again",
            parcel.record.topic, source.topic, source.partition, source.offset, error,
            extra=about(None, source.topic),
        )  # fmt: skip
        settlement.finish(False)

    def _resend_later(self, settlement: Settlement, parcel: Parcel) -> None:
        # Delivery reports run as plain loop callbacks (transport/bridge.py), outside any
        # task, where a task group cannot start one (anyio raises NoEventLoopError and
        # the request was never acknowledged): the queue hands the record to a task.
        self._refused[0].send_nowait((parcel, settlement))

    async def _resend(self, parcel: Parcel | None, settlement: Settlement) -> None:
        """The background path for a refused record: the same steps, each sent and waited for."""
        delivered = False
        try:
            while parcel is not None:
                error = await self.send(parcel.record)
                if error is None:
                    if type(parcel) is DeadLetter:
                        self.telemetry.dead_lettered(parcel.source.topic)
                    delivered = True
                    break
                parcel = self._next(parcel, error)
        finally:
            settlement.finish(delivered)

    def _next(self, parcel: Parcel, error: KafkaRpcError) -> Parcel | None:
        following = next_step(self.replier, parcel, error)
        source = parcel.source
        if type(following) is DeadLetter and type(parcel) is Reply:
            logger.error(
                "the reply to %s[%d]@%d could not be delivered; parking the request in the DLQ",
                source.topic, source.partition, source.offset,
                extra=about(None, source.topic),
            )  # fmt: skip
        elif following is None and type(parcel) is DeadLetter:
            # Nothing else to try: say so, or the request just sits there unacknowledged.
            logger.error(
                "could not park %s[%d]@%d in %s (%s); it stays unacknowledged and is "
                "delivered again after a restart or rebalance",
                source.topic, source.partition, source.offset, parcel.record.topic, error,
                extra=about(None, source.topic),
            )  # fmt: skip
        elif type(following) is Reply:
            logger.warning(
                "reply route %s[%s] of %s could not take it (%s); replying on %s[%s]",
                parcel.record.topic, parcel.record.partition, source.topic, error,
                following.record.topic, following.record.partition,
                extra=about(None, source.topic),
            )  # fmt: skip
        return following
