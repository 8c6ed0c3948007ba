"""Deciding a request's reply: pure functions from what happened to an ``Outcome``.

Nothing here runs a handler, sleeps, logs or counts; ``execution.py`` does those
and asks these functions what each thing that happened means (docs/wire.md §5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from .._causation import Cause
from .._config import HandlerRetry
from .._exceptions import RemoteError
from ..transport import InboundRecord
from ..wire.dead_letter import DlqReason
from ..wire.envelope import Envelope, ErrorCode
from ..wire.headers import RequestRouting
from .handler import Handler, PayloadInvalid, ResultInvalid
from .idempotency import StoredReply
from .outcome import Outcome, failure

__all__ = [
    "Request",
    "answered",
    "cancelled_at_deadline",
    "crashed",
    "dead_letter_reason",
    "effective_deadline",
    "expired_before_pickup",
    "expired_during",
    "invalid_payload",
    "refused",
    "remembered",
    "retries",
    "streamed",
]


class Request(NamedTuple):
    """What deciding a request's outcome needs.

    A NamedTuple, not a slotted frozen dataclass: one is built per request, and
    the dataclass pays ``object.__setattr__`` per field (timeit on this VM, five
    fields: 0.67 µs to build a NamedTuple, 1.7 µs a frozen slotted dataclass).
    """

    handler: Handler  # a Responder, or a Subscriber (which no reply is sent for)
    record: InboundRecord
    envelope: Envelope
    routing: RequestRouting
    deadline_ms: int | None  # the effective deadline, epoch milliseconds

    def cause(self) -> Cause:
        """This request as the cause of the calls and events its handler makes."""
        envelope, routing = self.envelope, self.routing
        return Cause(
            envelope.event_id,
            envelope.correlation_id,
            routing.correlation_chain,
            self.deadline_ms,
            routing.traceparent,
            routing.tracestate,
        )


def effective_deadline(routing: RequestRouting, envelope: Envelope) -> int | None:
    """A peer may bound a request with ``ttl_seconds`` (from its timestamp) instead
    of ``deadline_ms``; the earlier of the two applies."""
    if routing.ttl_seconds is None:
        return routing.deadline_ms
    try:
        sent = datetime.fromisoformat(envelope.timestamp)
    except ValueError:
        return routing.deadline_ms
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    expires_ms = int((sent.timestamp() + routing.ttl_seconds) * 1000)
    if routing.deadline_ms is not None and routing.deadline_ms <= expires_ms:
        return routing.deadline_ms
    return expires_ms


def expired_before_pickup(deadline_ms: int | None, now_ms: float) -> Outcome | None:
    """The answer to a request whose deadline passed before it was picked up, else None."""
    if deadline_ms is None or now_ms <= deadline_ms:
        return None
    late = now_ms - deadline_ms
    return failure(
        ErrorCode.DEADLINE_EXCEEDED,
        f"the caller's deadline passed {late:.0f} ms before the request was picked up;"
        " it was not executed",
    )


def expired_during(attempt: int) -> Outcome:
    return failure(
        ErrorCode.DEADLINE_EXCEEDED,
        f"the caller's deadline passed during attempt {attempt} of the handler",
    )


def cancelled_at_deadline() -> Outcome:
    return failure(
        ErrorCode.DEADLINE_EXCEEDED, "the handler was cancelled when the caller's deadline passed"
    )


def remembered(stored: StoredReply) -> Outcome:
    """The answer of an earlier request with the same idempotency key."""
    return Outcome(stored.ok, stored.payload, True)


def invalid_payload(handler: Handler, exc: PayloadInvalid) -> Outcome:
    """A caller is told; an event nobody waits on is parked in the DLQ instead."""
    return failure(
        ErrorCode.VALIDATION_ERROR,
        f"payload does not match {handler.name}'s parameter type",
        error_type="ValidationError",
        details={"errors": exc.errors},
        cacheable=True,
        dead_letter=None if handler.replies else exc,
    )


def answered(payload: dict[str, Any]) -> Outcome:
    return Outcome(True, payload, True)


def streamed(payload: dict[str, Any]) -> Outcome:
    """The reply that ends a streamed answer. Never reused for a repeat: its items
    are not part of it, so a repeat runs the stream again."""
    return Outcome(True, payload, False)


def refused(exc: RemoteError, *, replies: bool = True) -> Outcome:
    """The handler chose its own failure reply (e.g. NOT_FOUND); for an event,
    which has nobody to reply to, that failure parks it in the DLQ."""
    return failure(
        exc.error_code,
        exc.error_message,
        error_type=exc.error_type or "RemoteError",
        retryable=exc.retryable,
        details=exc.details,
        cacheable=not exc.retryable,
        dead_letter=None if replies else exc,
    )


def retries(policy: HandlerRetry | None, error: Exception, attempt: int) -> bool:
    """Whether a handler that raised ``error`` on ``attempt`` runs again."""
    return (
        policy is not None
        and attempt < policy.max_attempts
        and isinstance(error, policy.handler_exceptions)
        and not isinstance(error, ResultInvalid)
    )


def crashed(
    policy: HandlerRetry | None, error: Exception, attempt: int, *, replies: bool = True
) -> Outcome:
    """The answer to a handler that raised on its last attempt; with a retry
    policy the request is also parked in the DLQ for replay, and an event
    (nobody to answer) always is."""
    return failure(
        ErrorCode.HANDLER_ERROR,
        str(error) or type(error).__name__,
        error_type=type(error).__name__,
        details={"attempts": attempt},
        dead_letter=error if policy is not None or not replies else None,
        attempts=attempt,
    )


def dead_letter_reason(outcome: Outcome) -> DlqReason:
    """Why an outcome with a dead letter parks its message: its payload did not
    validate (only events are parked for that), or its handler failed."""
    if outcome.payload.get("error_code") == ErrorCode.VALIDATION_ERROR:
        return DlqReason.INVALID_PAYLOAD
    return DlqReason.HANDLER_EXHAUSTED
