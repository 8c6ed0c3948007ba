"""Traces, metrics and counters: everything kafkarpc observes, recorded in one place.

Only ``opentelemetry-api`` is used. Without an SDK configured the tracer and
meter are no-ops, so instrumentation costs next to nothing. Attribute names
follow the OpenTelemetry messaging semantic conventions.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, Unpack

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ._stats import ClientStats, ServerStats
from ._version import VERSION

if TYPE_CHECKING:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = ["ClientTelemetry", "ServerTelemetry"]

_INSTRUMENTATION = "kafkarpc"
# Reusable: a nullcontext holds no state between uses.
_NO_SPAN: AbstractContextManager[None] = nullcontext()


@functools.cache
def _w3c() -> TraceContextTextMapPropagator:
    # Made by the first traced call, not at import: only traced programs need it.
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


OUTCOME_OK = "ok"
OUTCOME_REMOTE_ERROR = "remote_error"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_CIRCUIT_OPEN = "circuit_open"
OUTCOME_PUBLISH_ERROR = "publish_error"
OUTCOME_CANCELLED = "cancelled"


def _tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    return trace.get_tracer(_INSTRUMENTATION, VERSION, tracer_provider=provider)


class _TracingSwitch:
    """Whether spans are worth making: not while no SDK is installed, when even a
    no-op span costs more than the rest of a request's bookkeeping.

    An application may install its SDK after creating a client, so an absent SDK
    is looked for again (at most once a second: the lookup reads the environment);
    once installed, OpenTelemetry never replaces it.
    """

    __slots__ = ("_checked_at", "_enabled", "_explicit")

    def __init__(self, explicit: trace.TracerProvider | None) -> None:
        self._explicit = explicit
        self._enabled = explicit is not None and not isinstance(explicit, trace.NoOpTracerProvider)
        self._checked_at = float("-inf")

    def __call__(self) -> bool:
        if self._enabled or self._explicit is not None:
            return self._enabled
        now = time.monotonic()
        if now - self._checked_at >= 1.0:
            self._checked_at = now
            self._enabled = not isinstance(
                trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
            )
        return self._enabled


def _meter(provider: metrics.MeterProvider | None) -> metrics.Meter:
    return metrics.get_meter(_INSTRUMENTATION, VERSION, meter_provider=provider)


def _message_attributes(
    topic: str, correlation_id: str, message_id: str, key: bytes | None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.message.id": message_id,
        "messaging.message.conversation_id": correlation_id,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode(errors="replace")
    return attributes


def inject_trace_headers(span: Span | None) -> tuple[str | None, str | None]:
    """W3C ``traceparent``/``tracestate`` of ``span`` (None when not sampled/no SDK)."""
    if span is None:
        return None, None
    carrier: dict[str, str] = {}
    _w3c().inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent"), carrier.get("tracestate")


def parent_span_id(span: Span | None) -> str | None:
    """The id of ``span``'s parent (docs/wire.md §3 ``parent_span_id``), when it has one."""
    parent = getattr(span, "parent", None)
    span_id = getattr(parent, "span_id", 0)
    return format(span_id, "016x") if span_id else None


def extract_trace_context(traceparent: str | None, tracestate: str | None) -> Context:
    carrier: MutableMapping[str, str] = {}
    if traceparent is not None:
        carrier["traceparent"] = traceparent
    if tracestate is not None:
        carrier["tracestate"] = tracestate
    return _w3c().extract(carrier)


class _Providers(TypedDict, total=False):
    tracer_provider: trace.TracerProvider | None
    meter_provider: metrics.MeterProvider | None


class _Telemetry:
    """What both sides share: a tracing switch, a tracer, and the duration and
    in-flight instruments every call or handling updates when it starts and ends."""

    _SIDE: ClassVar[str]
    _DURATION: ClassVar[tuple[str, str]]
    """The duration histogram's name (after ``kafkarpc.<side>.``) and description."""
    _IN_FLIGHT: ClassVar[tuple[str, str]]

    def __init__(self, **providers: Unpack[_Providers]) -> None:
        tracer_provider = providers.get("tracer_provider")
        self._tracing = _TracingSwitch(tracer_provider)
        self._tracer = _tracer(tracer_provider)
        self._meter = meter = _meter(providers.get("meter_provider"))
        name, description = self._DURATION
        self._duration = meter.create_histogram(
            f"kafkarpc.{self._SIDE}.{name}", unit="s", description=description
        )
        name, description = self._IN_FLIGHT
        self._in_flight = meter.create_up_down_counter(
            f"kafkarpc.{self._SIDE}.{name}", description=description
        )

    def _span(
        self,
        name: str,
        kind: SpanKind,
        attributes: dict[str, Any],
        context: Context | None = None,
    ) -> AbstractContextManager[Span]:
        # Errors are recorded by _finished, once the outcome is named, not by the span.
        return self._tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )

    def _finished(
        self,
        labels: Mapping[str, str],
        outcome_labels: Mapping[str, str],
        started: float,
        span: Span | None,
        error_type: str | None,
        description: str | None,
    ) -> None:
        self._in_flight.add(-1, labels)
        self._duration.record(time.monotonic() - started, outcome_labels)
        if span is not None and error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, description))


class ClientTelemetry(_Telemetry):
    _SIDE = "client"
    _DURATION = ("request.duration", "Time from sending a request to its outcome")
    _IN_FLIGHT = ("requests.in_flight", "Requests awaiting a reply")

    def __init__(self, **providers: Unpack[_Providers]) -> None:
        super().__init__(**providers)
        self.stats = ClientStats()
        self._label_sets: dict[tuple[str, str | None], dict[str, str]] = {}
        meter = self._meter
        self._unknown_replies = meter.create_counter(
            "kafkarpc.client.replies.unknown",
            description="Replies with no pending call (late, duplicate or another client's)",
        )
        self._retries = meter.create_counter(
            "kafkarpc.client.retries", description="Request attempts after the first"
        )
        self._dead_letters = meter.create_counter(
            "kafkarpc.client.dlq.records",
            description="Requests parked in a DLQ after publish failed",
        )
        self._circuit_changes = meter.create_counter(
            "kafkarpc.client.circuit.transitions", description="Circuit breaker state changes"
        )

    def request_span(
        self, topic: str, correlation_id: str, key: bytes
    ) -> AbstractContextManager[Span | None]:
        if not self._tracing():
            return _NO_SPAN
        attributes = _message_attributes(topic, correlation_id, correlation_id, key)
        attributes["messaging.operation.name"] = "send"
        attributes["messaging.operation.type"] = "send"
        return self._span(f"send {topic}", SpanKind.PRODUCER, attributes)

    def _labels(self, operation: str, outcome: str | None = None) -> Mapping[str, str]:
        # One attribute dict per label set, made once: building them per request
        # costs more than recording into a no-op instrument.
        labels = self._label_sets.get((operation, outcome))
        if labels is None:
            labels = {"kafkarpc.operation": operation}
            if outcome is not None:
                labels["kafkarpc.outcome"] = outcome
            self._label_sets[(operation, outcome)] = labels
        return labels

    def request_started(self, operation: str) -> None:
        self.stats.requests += 1
        self._in_flight.add(1, self._labels(operation))

    def request_finished(
        self,
        operation: str,
        outcome: str,
        started: float,
        span: Span | None = None,
        error: BaseException | None = None,
    ) -> None:
        stats = self.stats
        if outcome == OUTCOME_OK:
            stats.succeeded += 1
        elif outcome == OUTCOME_REMOTE_ERROR:
            stats.remote_errors += 1
        elif outcome == OUTCOME_TIMEOUT:
            stats.timeouts += 1
        elif outcome == OUTCOME_PUBLISH_ERROR:
            stats.publish_errors += 1
        elif outcome == OUTCOME_CIRCUIT_OPEN:
            stats.circuit_rejections += 1
        error_type = description = None
        if span is not None and error is not None:
            error_type = getattr(error, "error_code", None) or type(error).__qualname__
            description = str(error)[:200]
        self._finished(
            self._labels(operation),
            self._labels(operation, outcome),
            started,
            span,
            error_type,
            description,
        )

    def retried(self, operation: str, span: Span | None, attempt: int) -> None:
        self.stats.retries += 1
        self._retries.add(1, {"kafkarpc.operation": operation})
        if span is not None:
            span.set_attribute("messaging.kafka.retry_count", attempt)

    def unknown_reply(self) -> None:
        self.stats.late_replies += 1
        self._unknown_replies.add(1)

    def undecodable_reply(self) -> None:
        self.stats.undecodable_replies += 1
        self._unknown_replies.add(1, {"kafkarpc.reason": "undecodable"})

    def dead_lettered(self, topic: str) -> None:
        self.stats.dead_lettered += 1
        self._dead_letters.add(1, {"messaging.destination.name": topic})

    def circuit_changed(self, operation: str, state: str) -> None:
        self._circuit_changes.add(
            1, {"kafkarpc.operation": operation, "kafkarpc.circuit.state": state}
        )


def _counted(counter: str, event: str) -> Callable[[ServerTelemetry, str], None]:
    """A ServerTelemetry method counting one kind of event: in ``stats.<counter>``
    and as a ``kafkarpc.server.events`` point labelled ``event``."""

    def count(self: ServerTelemetry, operation: str) -> None:
        self._count(counter, event, operation)

    return count


class ServerTelemetry(_Telemetry):
    _SIDE = "server"
    _DURATION = (
        "handling.duration",
        "Time from picking up a request to its reply being acknowledged",
    )
    _IN_FLIGHT = ("requests.in_flight", "Requests being handled")

    def __init__(self, group_id: str, **providers: Unpack[_Providers]) -> None:
        super().__init__(**providers)
        self.stats = ServerStats()
        self._group_id = group_id
        self._events = self._meter.create_counter(
            "kafkarpc.server.events",
            description="Validation errors, expired deadlines, deduplicated requests, DLQ records",
        )

    def process_span(
        self,
        topic: str,
        partition: int,
        correlation_id: str,
        message_id: str,
        key: bytes | None,
        traceparent: str | None,
        tracestate: str | None,
        retry_count: int,
    ) -> AbstractContextManager[Span | None]:
        if not self._tracing():
            return _NO_SPAN
        attributes = _message_attributes(topic, correlation_id, message_id, key)
        attributes.update(
            {
                "messaging.operation.name": "process",
                "messaging.operation.type": "process",
                "messaging.destination.partition.id": str(partition),
                "messaging.consumer.group.name": self._group_id,
                "messaging.kafka.retry_count": retry_count,
            }
        )
        return self._span(
            f"process {topic}",
            SpanKind.CONSUMER,
            attributes,
            extract_trace_context(traceparent, tracestate),
        )

    def received(self) -> None:
        self.stats.received += 1

    def handling_started(self, operation: str) -> None:
        self._in_flight.add(1, {"kafkarpc.operation": operation})

    def handling_finished(
        self,
        operation: str,
        outcome: str,
        started: float,
        span: Span | None,
        error_code: str | None,
    ) -> None:
        self._finished(
            {"kafkarpc.operation": operation},
            {"kafkarpc.operation": operation, "kafkarpc.outcome": outcome},
            started,
            span,
            error_code,
            error_code,
        )

    def _count(self, counter: str, event: str, operation: str) -> None:
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self._events.add(1, {"kafkarpc.operation": operation, "kafkarpc.event": event})

    def succeeded(self) -> None:
        self.stats.succeeded += 1

    handler_error = _counted("handler_errors", "handler_error")
    validation_error = _counted("validation_errors", "validation_error")
    deadline_expired = _counted("deadline_expired", "deadline_expired")
    deduplicated = _counted("deduplicated", "deduplicated")
    retried = _counted("retries", "retry")
    dead_lettered = _counted("dead_lettered", "dlq_record")
