"""One request's path through a responder: decode, decide, reply, deliver, acknowledge.

Where a reply is decided: ``decide.py`` (run by ``execution.py``); where it is
rendered: ``replier.py``; where it is sent, resent or parked: ``delivery.py``.
This module only strings them together for each record a worker takes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskGroup
from opentelemetry.trace import Span

from .._causation import reset_cause, set_cause
from .._exceptions import EnvelopeError
from .._logging import about, preview
from ..transport import GroupConsumer, InboundRecord, Transport
from ..wire.dead_letter import DlqReason
from ..wire.envelope import Envelope, decode_envelope
from ..wire.headers import RequestRouting
from . import decide
from .decide import Request, effective_deadline
from .delivery import Delivery
from .execution import Execution
from .intake import DequeIntake
from .ordering import KeyOrder
from .outbox import Outbox, close_outbox, open_outbox
from .outcome import Outcome
from .replier import DeadLetter, Replier, Reply, dead_letter
from .settlement import Settlement
from .subscriber import HandlerTable, decode_event
from .transaction import Outlet

__all__ = ["Pipeline"]

logger = logging.getLogger("kafkarpc.server")


class Pipeline:
    """Handles each record a worker takes, and acknowledges it once all it sent is settled."""

    def __init__(
        self,
        tasks: TaskGroup,
        transport: Transport,
        handlers: HandlerTable,
        execution: Execution,
        replier: Replier,
        payload_preview: Callable[[Mapping[str, Any]], str] | None,
        read_foreign: Callable[[InboundRecord], Envelope] | None = None,
        *,
        service: str,
        outlet: Outlet | None = None,
    ) -> None:
        """Build a request's path and start ``execution.workers`` workers on it in ``tasks``;
        records reach them through ``intake.accept``. ``read_foreign`` reads a request
        on a foreign wire (``server/foreign.py``); None for kafkarpc's own. With an
        ``outlet`` (exactly-once), what is sent for a request goes into its partition's
        transaction."""
        self._read_foreign = read_foreign
        self._handlers = handlers
        self._execution = execution
        self._replier = replier
        self._service = service
        self._delivery = Delivery(transport, replier, execution.telemetry, tasks, outlet)
        tasks.start_soon(self._delivery.resend_refused)
        self._telemetry = execution.telemetry
        self._payload_preview = payload_preview
        self._key_order = KeyOrder()
        self._consumer: GroupConsumer | None = None
        # Requests settled before the consumer was handed over (its first batch can arrive
        # while group_consumer() is still returning): acknowledged once it is.
        self._settled_early: list[tuple[InboundRecord, bool]] = []
        self.in_flight = 0
        self._idle = anyio.Event()
        self.intake = DequeIntake(execution.workers, execution.loop)
        self.intake.start(tasks, self.handle)

    async def drained(self) -> None:
        """Wait until the workers have finished what the intake took (call after
        ``intake.close()``) and everything sent for it has settled."""
        await self.intake.drained()
        while self.in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def handle(self, record: InboundRecord) -> None:
        self.in_flight += 1
        self._telemetry.received()
        settlement = Settlement(record, self._settled)
        handled = False
        try:
            handled = await self._process(record, settlement)
        except Exception:
            logger.exception(
                "internal error handling %s[%d]@%d", record.topic, record.partition, record.offset,
                extra=about(None, record.topic),
            )  # fmt: skip
        finally:
            settlement.finish(handled)

    @property
    def consumer(self) -> GroupConsumer | None:
        """The group consumer the records come from; set once it is running."""
        return self._consumer

    @consumer.setter
    def consumer(self, consumer: GroupConsumer) -> None:
        self._consumer = consumer
        early, self._settled_early = self._settled_early, []
        for record, delivered in early:
            _acknowledge(consumer, record, delivered)

    def _settled(self, record: InboundRecord, delivered: bool) -> None:
        """Everything sent for ``record`` reached the broker (or could not)."""
        if self._consumer is None:
            self._settled_early.append((record, delivered))
        else:
            _acknowledge(self._consumer, record, delivered)
        self.in_flight -= 1
        if not self.in_flight:
            self._idle.set()

    async def _process(self, record: InboundRecord, settlement: Settlement) -> bool:
        """Handle one request and hand its reply (and dead letter) to the producer.

        Returns False when something could not be sent; the request is then not
        acknowledged and is redelivered.
        """
        handler = self._handlers.find(record.topic)
        if handler is None:
            return True  # a subscriber's pattern also matched a dead-letter topic: not an event
        try:
            if not handler.replies:
                # An event may come from a producer that knows no envelope (subscriber.py).
                envelope = decode_event(record)
            elif self._read_foreign is None:
                envelope = decode_envelope(record.value)
            else:
                envelope = self._read_foreign(record)
        except EnvelopeError as exc:
            logger.warning(
                "poison message %s[%d]@%d sent to the DLQ: %s",
                record.topic, record.partition, record.offset, exc,
                extra=about(None, record.topic),
            )  # fmt: skip
            return self._delivery.post(dead_letter(record, exc, DlqReason.POISON), settlement)[1]
        # Only the routing headers are decoded here; a handler that takes a
        # RequestContext gets all of them (see execution._context).
        routing = RequestRouting.from_record_headers(record.headers)
        operation = record.topic
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "handling %s from %s: %s",
                envelope.correlation_id, envelope.service,
                preview(self._payload_preview, envelope.payload),
                extra=about(envelope.correlation_id, record.topic),
            )  # fmt: skip
        telemetry = self._telemetry
        started = time.monotonic()
        telemetry.handling_started(operation)
        error_code: str | None = None
        with telemetry.process_span(
            record.topic,
            record.partition,
            envelope.correlation_id,
            envelope.event_id,
            record.key,
            routing.traceparent,
            routing.tracestate,
            routing.retry_count or 0,
        ) as span:
            try:
                # Nobody waits for an event, so it has no deadline to miss.
                deadline = effective_deadline(routing, envelope) if handler.replies else None
                request = Request(handler, record, envelope, routing, deadline)
                if routing.partition_key is None:
                    outcome, delivered = await self._answer(request, span, settlement)
                else:
                    # Requests sharing a partition key (e.g. one tenant's) are handled
                    # and answered in the order they were fetched, one at a time.
                    async with self._key_order.hold(routing.partition_key):
                        outcome, delivered = await self._answer(request, span, settlement)
                if outcome.ok:
                    telemetry.succeeded()
                else:
                    error_code = str(outcome.payload.get("error_code", "ERROR"))
                if outcome.dead_letter is not None:
                    parked = dead_letter(
                        record,
                        outcome.dead_letter,
                        decide.dead_letter_reason(outcome),
                        retry_count=outcome.attempts - 1,
                    )
                    delivered = self._delivery.post(parked, settlement)[1] and delivered
            finally:
                outcome_label = "ok" if error_code is None else error_code.lower()
                telemetry.handling_finished(operation, outcome_label, started, span, error_code)
        return delivered

    async def _answer(
        self, request: Request, span: Span | None, settlement: Settlement
    ) -> tuple[Outcome, bool]:
        """Decide the request's outcome and hand its reply to the producer.

        Returns the outcome that was sent: when the decided reply could not be, a
        failure sent in its place (or parked in the DLQ) is what the request got.
        """
        # A call or event the handler makes continues this request's chain.
        cause = set_cause(request)
        try:
            if request.handler.context_param is None:
                outcome = await self._execution.outcome(request)
                delivered = True
            else:
                # Only a handler given a RequestContext can publish (context.publish).
                outbox = Outbox(self._service, request.record, request.envelope)
                token = open_outbox(outbox)
                try:
                    outcome = await self._execution.outcome(request)
                finally:
                    close_outbox(token)
                delivered = True
                if outcome.ok:
                    for event in outbox.staged:
                        delivered = self._delivery.post(event, settlement)[1] and delivered
        finally:
            reset_cause(cause)
        if not request.handler.replies:
            # An event: nothing to send but what its handler published (and its dead letter).
            return outcome, delivered
        reply = self._replier.reply(request, outcome, span)
        sent, replied = self._delivery.post(reply, settlement)
        delivered = replied and delivered
        last = sent if isinstance(sent, Reply) else None
        if isinstance(sent, DeadLetter):
            last = sent.instead_of
        return (outcome if last is None else last.outcome), delivered


def _acknowledge(consumer: GroupConsumer, record: InboundRecord, delivered: bool) -> None:
    if delivered:
        consumer.ack(record)  # only now may its offset be committed
    else:
        consumer.reject(record)  # left to be delivered again
