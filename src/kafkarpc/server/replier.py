"""Turning an ``Outcome`` into the records sent for a request: its reply or its dead letter.

Never changes an Outcome: a reply that cannot be sent as decided (not
JSON-serializable, too large for the broker) is rendered from a new failure
Outcome. Where these records are handed to the broker, and what happens when it
refuses one, is ``delivery.py``'s job.
"""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry.trace import Span

from .._exceptions import PayloadNotSerializable, PayloadTooLarge, TransportError
from .._telemetry import inject_trace_headers, parent_span_id
from ..transport import ANY_PARTITION, InboundRecord, OutboundRecord
from ..wire.dead_letter import DlqReason, dead_letter_record
from ..wire.envelope import Envelope, ErrorCode, new_message
from ..wire.headers import RequestRouting, build_headers
from ..wire.topics import TopicTrio
from .decide import Request
from .handler import Responder
from .outcome import Outcome, failure

__all__ = ["DeadLetter", "Replier", "Reply", "dead_letter", "too_large_failure"]


class Reply(NamedTuple):
    """A request's reply record, and what rendering it again needs."""

    source: InboundRecord  # the request, parked in the DLQ if no reply gets through
    trio: TopicTrio
    request: Envelope
    passthrough: RequestRouting | None  # the trace headers the reply carries on
    outcome: Outcome
    record: OutboundRecord
    renders: int  # how many times this request's reply was rendered


class DeadLetter(NamedTuple):
    """A request's copy for its DLQ (docs/wire.md §5)."""

    source: InboundRecord
    record: OutboundRecord
    instead_of: Reply | None = None  # the reply it stands in for, one the broker refused


def dead_letter(
    source: InboundRecord, error: BaseException, reason: DlqReason, retry_count: int = 0
) -> DeadLetter:
    return DeadLetter(
        source, dead_letter_record(source, error, reason=reason, retry_count=retry_count)
    )


class Replier:
    """Renders replies as this responder (``service``) for the requests it handled."""

    __slots__ = ("_service",)

    def __init__(self, service: str) -> None:
        self._service = service

    def reply(self, request: Request, outcome: Outcome, span: Span | None) -> Reply:
        """The reply to ``request``, on the route its caller asked for (docs/wire.md §4)."""
        handler = request.handler
        assert isinstance(handler, Responder)  # events are never answered (pipeline.py)
        routing, trio = request.routing, handler.trio
        passthrough: RequestRouting | None
        if span is not None:
            # The reply continues the trace from this responder's span.
            traceparent, tracestate = inject_trace_headers(span)
            passthrough = RequestRouting(
                traceparent=traceparent or routing.traceparent,
                tracestate=tracestate or routing.tracestate,
                parent_span_id=parent_span_id(span),
            )
        elif routing.traceparent is None and routing.tracestate is None:
            passthrough = None  # no routing headers to pass on; skip building them
        else:
            passthrough = RequestRouting(
                traceparent=routing.traceparent, tracestate=routing.tracestate
            )
        topic = (routing.reply_to or trio.completed) if outcome.ok else trio.failed
        # Without a reply partition the client reads every partition, so replies of
        # one hand-over may share one (fewer, larger batches on the broker).
        partition = ANY_PARTITION if routing.reply_partition is None else routing.reply_partition
        return self._render(
            request.record, trio, request.envelope, passthrough, outcome, topic, partition, 0
        )

    def on_own_topics(self, reply: Reply) -> Reply:
        """The same reply on the operation's own topics, for a route that does not exist."""
        topic = reply.trio.completed if reply.outcome.ok else reply.trio.failed
        return self._again(reply, reply.outcome, topic)

    def too_large(self, reply: Reply, error: PayloadTooLarge) -> Reply:
        """The failure that replaces a reply the broker will not take for its size."""
        return self._again(reply, too_large_failure(reply, error), reply.trio.failed)

    def parked(self, reply: Reply) -> DeadLetter:
        """The request's dead letter, for a reply the broker keeps refusing."""
        error = TransportError("the broker did not accept the reply to this request")
        record = dead_letter_record(reply.source, error, reason=DlqReason.REPLY_FAILED)
        return DeadLetter(reply.source, record, reply)

    def _again(self, reply: Reply, outcome: Outcome, topic: str) -> Reply:
        source, trio, request, passthrough, _, _, renders = reply
        return self._render(
            source, trio, request, passthrough, outcome, topic, ANY_PARTITION, renders
        )

    def _render(
        self,
        source: InboundRecord,
        trio: TopicTrio,
        request: Envelope,
        passthrough: RequestRouting | None,
        outcome: Outcome,
        topic: str,
        partition: int,
        renders: int,
    ) -> Reply:
        try:
            message = new_message(
                event_type=trio.event_type("completed" if outcome.ok else "failed"),
                correlation_id=request.correlation_id,
                causation_id=request.event_id,
                service=self._service,
                payload=outcome.payload,
                version=request.version,
            )
        except PayloadNotSerializable as exc:
            # The handler returned (or raised with) something JSON cannot carry.
            outcome = failure(
                ErrorCode.HANDLER_ERROR,
                f"the reply is not JSON-serializable: {exc}",
                error_type="PayloadNotSerializable",
                instead_of=outcome,
            )
            return self._render(
                source, trio, request, passthrough, outcome, trio.failed, ANY_PARTITION, renders + 1
            )
        record = OutboundRecord(
            topic=topic,
            value=message.value,
            key=request.correlation_id.encode(),
            headers=build_headers(message, routing=passthrough),
            partition=partition,
        )
        return Reply(source, trio, request, passthrough, outcome, record, renders + 1)


def too_large_failure(reply: Reply, error: PayloadTooLarge) -> Outcome:
    """What a caller is told instead of a reply the broker will not take for its size."""
    return failure(
        ErrorCode.REPLY_TOO_LARGE,
        f"the reply is {error.size} bytes; the broker accepts {error.limit}",
        error_type="PayloadTooLarge",
        details={"size": error.size, "limit": error.limit},
        instead_of=reply.outcome,
    )
