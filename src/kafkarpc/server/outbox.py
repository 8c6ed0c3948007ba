"""Events a handler publishes while it runs, staged and sent with its reply.

``RequestContext.publish`` stages an event in the running request's ``Outbox``
(found through a context variable the pipeline sets). Nothing leaves while the
handler runs: once the request is answered successfully, the pipeline hands
its events to ``delivery.py`` together with the reply, so under ``ExactlyOnce``
they share the reply's transaction. Each attempt's ``RequestContext`` starts
the outbox afresh (``begin``), so an attempt that failed and was retried
publishes nothing, and neither does a request answered with a failure.

The idempotency store remembers the events with the reply (``published``). A
request answered from the store publishes them again only when it is the very
record that stored them (``replay``): delivered again, so its first answer was
never committed (exactly-once) or not known to be (at-least-once). A retry with
the same idempotency key is another record: its first answer's events stand.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._causation import current_cause
from .._exceptions import LifecycleError
from .._ids import new_uuid
from ..transport import InboundRecord, OutboundRecord
from ..wire.envelope import Envelope, encode_payload, new_message, validate_event_type
from ..wire.headers import RequestRouting, build_headers
from ..wire.topics import event_type_for_topic, validate_topic_name

__all__ = [
    "Outbox",
    "StagedEvent",
    "close_outbox",
    "current_outbox",
    "open_outbox",
    "published",
    "replay",
    "running",
]


class StagedEvent(NamedTuple):
    """An event a handler published for the request read from ``source``."""

    source: InboundRecord
    record: OutboundRecord


class Outbox:
    """The events one request's handler published, by attempt."""

    __slots__ = ("_request", "_service", "_source", "_staged")

    def __init__(self, service: str, source: InboundRecord, request: Envelope) -> None:
        self._service = service
        self._source = source
        self._request = request
        self._staged: list[StagedEvent] = []

    def begin(self) -> None:
        """A new attempt of the handler starts: what an earlier one staged is dropped."""
        self._staged.clear()

    def stage(
        self,
        topic: str,
        payload: Mapping[str, Any] | Any,
        *,
        key: str | None,
        event_type: str | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> str:
        """Build the event's record now (bad input fails in the handler); returns its event_id."""
        validate_topic_name(topic)
        if event_type is not None:
            validate_event_type(event_type)
        # The causation rule of docs/events.md: an id of its own, caused by the
        # request, carrying on its correlation chain and trace context.
        request, cause = self._request, current_cause()
        message = new_message(
            event_type=event_type or event_type_for_topic(topic),
            correlation_id=new_uuid(),
            causation_id=request.event_id,
            service=self._service,
            payload=encode_payload(payload),
            version=request.version,
        )
        routing = None
        if cause is not None:
            routing = RequestRouting(
                deadline_ms=cause.deadline_ms,
                correlation_chain=cause.chain_header,
                traceparent=cause.traceparent,
                tracestate=cause.tracestate,
            )
        record = OutboundRecord(
            topic=topic,
            value=message.value,
            key=(key or message.correlation_id).encode(),
            headers=build_headers(message, routing=routing, extra=headers),
        )
        self._staged.append(StagedEvent(self._source, record))
        return message.event_id

    @property
    def staged(self) -> list[StagedEvent]:
        """What the last attempt published, in order."""
        return list(self._staged)


_current: contextvars.ContextVar[Outbox | None] = contextvars.ContextVar(
    "kafkarpc_outbox", default=None
)


def running() -> Outbox | None:
    """The running request's outbox, or None outside a request the server runs."""
    return _current.get()


def current_outbox() -> Outbox:
    """The running request's outbox; raises LifecycleError outside a handler."""
    outbox = _current.get()
    if outbox is None:
        raise LifecycleError(
            "RequestContext.publish works only while the server runs the request's handler"
        )
    return outbox


def open_outbox(outbox: Outbox) -> contextvars.Token[Outbox | None]:
    """Make ``outbox`` the one handlers find from this task (and threads it starts)."""
    return _current.set(outbox)


def close_outbox(token: contextvars.Token[Outbox | None]) -> None:
    _current.reset(token)


Published = tuple[tuple[OutboundRecord, ...], tuple[str, int, int] | None]


def published(source: InboundRecord, ok: bool) -> Published:
    """What the idempotency store keeps beside the reply to ``source``: the running
    handler's events and the record they answer (nothing when it failed or published none)."""
    outbox = _current.get()
    if outbox is None or not ok or not outbox._staged:
        return (), None
    records = tuple(event.record for event in outbox._staged)
    return records, (source.topic, source.partition, source.offset)


def replay(
    events: tuple[OutboundRecord, ...],
    stored_for: tuple[str, int, int] | None,
    source: InboundRecord,
) -> None:
    """``source`` is answered from the store: stage the stored events again if it is the
    record they were published for (see the module docstring)."""
    outbox = _current.get()
    if (
        outbox is None
        or not events
        or stored_for != (source.topic, source.partition, source.offset)
    ):
        return
    outbox._staged = [StagedEvent(source, record) for record in events]
