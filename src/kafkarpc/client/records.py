"""What the client puts on the wire: the record of one request attempt, and of one event."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .._causation import Cause
from .._config import PayloadPreview
from .._exceptions import KafkaRpcError, PublishError, TransportError
from .._ids import new_uuid
from .._logging import about, preview
from .._telemetry import inject_trace_headers, parent_span_id
from ..transport import OutboundRecord, Transport
from ..wire.dead_letter import DlqReason, dead_letter_record, unsent_record
from ..wire.envelope import EncodedPayload, OutgoingMessage, new_message, validate_event_type
from ..wire.headers import RequestRouting, build_headers
from ..wire.topics import event_type_for_topic
from .call import Call
from .reply_partition import ReplyPartitions

if TYPE_CHECKING:
    from ..wire.profiles import WireProfile

__all__ = ["RecordWriter", "call_routing", "park_unsent", "send_event"]

logger = logging.getLogger("kafkarpc.client")


@dataclass(frozen=True, slots=True)
class RecordWriter:
    """Turns calls and events into records, stamped with this client's name and version."""

    service: str
    version: str
    reply_partitions: ReplyPartitions
    payload_preview: PayloadPreview | None
    wire: WireProfile | None = None
    """A foreign wire profile (``RpcClient(wire=...)``); None for kafkarpc's own wire."""

    def request(self, call: Call) -> OutboundRecord:
        """The record of ``call``'s current attempt (docs/wire.md §2, §3)."""
        if self.wire is not None:
            # Imported here: a program on kafkarpc's own wire never loads the profiles.
            from .foreign import profile_request

            return profile_request(self.wire, call, self.reply_partitions.of(call.trio))
        trio = call.trio
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "request %s (attempt %d) to %s: %s",
                call.correlation_id,
                call.attempt + 1,
                trio.requested,
                preview(self.payload_preview, call.body.to_dict()),
                extra=about(call.correlation_id, trio.requested),
            )
        cause = call.cause
        message = new_message(
            event_type=trio.event_type("requested"),
            correlation_id=call.correlation_id,
            service=self.service,
            payload=call.body,
            causation_id=None if cause is None else cause.event_id,
            version=self.version,
        )
        routing = call_routing(call, trio.completed, self.reply_partitions.of(trio))
        return OutboundRecord(
            topic=trio.requested,
            value=message.value,
            key=call.key,
            headers=build_headers(message, routing=routing, extra=call.headers),
        )

    def event(
        self,
        topic: str,
        body: EncodedPayload,
        *,
        event_type: str | None,
        key: str | None,
        correlation_id: str | None,
        headers: Mapping[str, str | bytes] | None,
        cause: Cause | None = None,
        causation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> tuple[OutgoingMessage, OutboundRecord]:
        """An event for ``topic`` (no reply expected), and the message it carries.
        ``causation_id``, when given, names the cause instead of ``cause``."""
        if event_type is not None:
            validate_event_type(event_type)
        if causation_id is None and cause is not None:
            causation_id = cause.event_id
        message = new_message(
            event_type=event_type or event_type_for_topic(topic),
            correlation_id=correlation_id or new_uuid(),
            service=self.service,
            payload=body,
            causation_id=causation_id,
            version=self.version,
            metadata=metadata,
        )
        record = OutboundRecord(
            topic=topic,
            value=message.value,
            key=(key or message.correlation_id).encode(),
            headers=build_headers(message, routing=_caused_routing(cause), extra=headers),
        )
        return message, record


def _caused_routing(cause: Cause | None) -> RequestRouting | None:
    """What an event made while handling a request carries on of it: its chain,
    its deadline and its trace context."""
    if cause is None:
        return None
    return RequestRouting(
        deadline_ms=cause.deadline_ms,
        correlation_chain=cause.chain_header,
        traceparent=cause.traceparent,
        tracestate=cause.tracestate,
    )


def call_routing(call: Call, reply_to: str | None, reply_partition: int | None) -> RequestRouting:
    """The routing headers of ``call``'s current attempt, on any wire (docs/wire.md §3)."""
    cause = call.cause
    traceparent, tracestate = inject_trace_headers(call.span)
    if cause is not None and traceparent is None:
        # No span of our own (no tracing SDK here): the trace passes through.
        traceparent, tracestate = cause.traceparent, cause.tracestate
    return RequestRouting(
        reply_to=reply_to,
        reply_partition=reply_partition,
        deadline_ms=call.deadline_ms,
        idempotency_key=call.idempotency_key,
        retry_count=call.attempt,
        max_retries=call.policy.max_attempts - 1,
        partition_key=call.partition_key,
        priority=call.priority,
        traceparent=traceparent,
        tracestate=tracestate,
        parent_span_id=parent_span_id(call.span),
        ttl_seconds=max(1, math.ceil(call.deadline_ms / 1000 - time.time())),
        correlation_chain=None if cause is None else cause.chain_header,
    )


async def send_event(
    transport: Transport, record: OutboundRecord, correlation_id: str, budget: float
) -> None:
    """Send an event's record within ``budget`` seconds, or raise PublishError."""
    started = time.monotonic()
    try:
        with anyio.fail_after(budget):
            await transport.send(record)
    except (TransportError, TimeoutError) as exc:
        raise PublishError(
            f"could not publish to {record.topic}: {exc}",
            correlation_id=correlation_id,
            topic=record.topic,
            elapsed=time.monotonic() - started,
        ) from exc


#: How long parking a record the broker did not take may take.
PARK_BUDGET_S = 5.0


async def park_unsent(
    transport: Transport, record: OutboundRecord, error: BaseException, *, retry_count: int = 0
) -> str | None:
    """Park ``record``, which the broker never took, in its DLQ after the last attempt;
    the DLQ topic, or None (logged) when parking failed too."""
    never_stored = unsent_record(record, now_ms=time.time_ns() // 1_000_000)
    dead = dead_letter_record(
        never_stored, error, reason=DlqReason.PUBLISH_FAILED, retry_count=retry_count
    )
    try:
        with anyio.fail_after(PARK_BUDGET_S):
            await transport.send(dead)
    except (KafkaRpcError, TimeoutError) as exc:
        logger.error(
            "could not dead-letter a record for %s: %s",
            record.topic,
            exc,
            extra=about(None, record.topic),
        )
        return None
    return dead.topic
