"""``RequestContext``: what a handler may want to know about the request it serves."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._causation import CHAIN_SEPARATOR, Cause
from . import outbox

if TYPE_CHECKING:
    from .decide import Request

__all__ = ["RequestContext", "cause_of"]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Ask for it by annotating a handler parameter with ``RequestContext``."""

    correlation_id: str
    event_id: str
    event_type: str
    caller: str
    topic: str
    partition: int
    offset: int
    headers: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    deadline_ms: int | None = None
    idempotency_key: str | None = None
    retry_count: int = 0
    attempt: int = 1
    causation_id: str | None = None
    """The ``event_id`` of the message that caused this request, when it names one."""

    @property
    def cause(self) -> Cause:
        """This request as the cause of the calls and events its handler makes
        (``RpcClient.request(..., cause=context.cause)``)."""
        headers = self.headers
        return Cause(
            self.event_id,
            self.correlation_id,
            headers.get("correlation_chain") or None,
            self.deadline_ms,
            headers.get("traceparent"),
            headers.get("tracestate"),
        )

    @property
    def correlation_chain(self) -> tuple[str, ...]:
        """Correlation ids from the chain's root to this request's own, root first."""
        chain = self.headers.get("correlation_chain")
        own = (self.correlation_id,)
        return own if not chain else (*chain.split(CHAIN_SEPARATOR), *own)

    def __post_init__(self) -> None:
        # The server builds one context per attempt of the handler: a new attempt
        # drops the events an earlier, failed one staged (server/outbox.py).
        running = outbox.running()
        if running is not None:
            running.begin()

    def publish(
        self,
        topic: str,
        payload: Mapping[str, Any] | Any,
        *,
        key: str | None = None,
        event_type: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> str:
        """Publish an event as part of answering this request; returns its ``event_id``.

        The event is sent with the reply, and only if the handler answers
        successfully; under ``ExactlyOnce`` it is in the reply's transaction, so
        it is stored exactly when the reply is (docs/failure-semantics.md). It is
        caused by this request as docs/events.md's causation rule says.
        """
        return outbox.current_outbox().stage(
            topic, payload, key=key, event_type=event_type, headers=headers
        )

    def remaining(self) -> float | None:
        """Seconds until the caller stops waiting, or None without a deadline."""
        if self.deadline_ms is None:
            return None
        return self.deadline_ms / 1000 - time.time()


def cause_of(request: Request) -> Cause:
    """The request a handler is running for, as the cause a client call finds."""
    return request.cause()
