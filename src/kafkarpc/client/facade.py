"""``RpcClient``: ``reply = await client.request(op, payload)`` over Kafka."""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack, overload

import anyio
import pydantic
from opentelemetry.trace import Span
from pydantic import BaseModel

from .._config import NO_CALL_RETRY, CallRetry, CircuitBreaker, Limits, Security, Telemetry, Topics
from .._exceptions import (
    CircuitOpenError,
    ClientClosed,
    ConfigurationError,
    EnvelopeError,
    KafkaRpcError,
    LifecycleError,
    PublishError,
    RemoteError,
    RequestTimeout,
    ResponseValidationError,
    TopicNotFound,
    TransportError,
)
from .._ids import new_uuid
from .._legacy import LegacyClientOptions, fold_legacy
from .._logging import about, preview
from .._loop import adopt_current_library, forget_library, running_library
from .._sentinel import UNSET, Unset
from .._stats import ClientStats
from .._telemetry import (
    OUTCOME_CANCELLED,
    OUTCOME_CIRCUIT_OPEN,
    OUTCOME_OK,
    OUTCOME_PUBLISH_ERROR,
    OUTCOME_REMOTE_ERROR,
    OUTCOME_TIMEOUT,
    ClientTelemetry,
    inject_trace_headers,
    parent_span_id,
)
from ..transport import InboundRecord, OutboundRecord, ReplyConsumer, Transport
from ..transport.choose import choose_transport, require_service
from ..wire.dead_letter import DlqReason, dead_letter_record
from ..wire.envelope import (
    EncodedPayload,
    ErrorPayload,
    decode_fields,
    encode_payload,
    new_message,
    validate_event_type,
)
from ..wire.headers import PRIORITIES, RequestRouting, build_headers
from ..wire.topics import TopicTrio, event_type_for_topic, validate_topic_name
from .circuit import CircuitState, CircuitTracker
from .pending import PendingCall, PendingCalls
from .signal import Signals

__all__ = ["RpcClient"]

logger = logging.getLogger("kafkarpc.client")

ModelT = TypeVar("ModelT", bound=BaseModel)
DEFAULT_TIMEOUT = 5.0
RESERVED_HEADERS = frozenset(
    {
        "content_type",
        "correlation_id",
        "message_id",
        "timestamp",
        "source",
        "event_type",
        "schema_version",
        "reply_to",
        "reply_partition",
        "deadline_ms",
        "idempotency_key",
        "retry_count",
        "max_retries",
        "partition_key",
        "priority",
        "ttl_seconds",
    }
)


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


def _check_timeout(timeout: float) -> float:
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise ConfigurationError(f"timeout must be a number of seconds, got {timeout!r}")
    if not timeout > 0 or timeout == float("inf"):
        raise ConfigurationError(f"timeout must be a finite number > 0, got {timeout!r}")
    return float(timeout)


@dataclass(slots=True, kw_only=True)
class _Call:
    """One logical call, across all of its attempts."""

    trio: TopicTrio
    body: EncodedPayload
    correlation_id: str
    idempotency_key: str
    partition_key: str | None
    priority: str | None
    headers: Mapping[str, str | bytes] | None
    policy: CallRetry
    started: float
    clock: Callable[[], float]
    deadline: float
    deadline_ms: int
    span: Span | None = field(default=None)

    @property
    def key(self) -> bytes:
        # The caller's partition key keeps e.g. one tenant's requests in order.
        return (self.partition_key or self.correlation_id).encode()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return max(self.deadline - self.clock(), 0.0)


def _as_call_error(
    exc: BaseException, trio: TopicTrio, correlation_id: str, elapsed: float
) -> BaseException:
    """The error a caller sees for a failure while setting up or sending a call."""
    if isinstance(exc, RequestTimeout | PublishError | TopicNotFound):
        return exc
    if isinstance(exc, TimeoutError):
        return RequestTimeout(
            f"no reply from {trio.requested} in time (the deadline passed while "
            "positioning the reply reader)",
            correlation_id=correlation_id,
            topic=trio.requested,
            elapsed=elapsed,
        )
    return PublishError(
        f"could not publish to {trio.requested}: {exc}",
        correlation_id=correlation_id,
        topic=trio.requested,
        elapsed=elapsed,
    )


def _header_correlation_id(record: InboundRecord) -> str | None:
    for name, value in record.headers:
        if name == "correlation_id" and value:
            try:
                return value.decode()
            except UnicodeDecodeError:
                return None
    return None


class RpcClient:
    """Sends requests and resolves their replies.

    >>> async with RpcClient("127.0.0.1:9092", service="checkout") as client:  # doctest: +SKIP
    ...     reply = await client.request("billing.charge", {"cents": 1200})

    Replies are read by manual partition assignment (no consumer-group join), from
    the end of each operation's reply topics, assigned before the first request of
    that operation is sent. Options are keyword-only; per-call arguments override them.
    """

    def __init__(
        self,
        bootstrap: str | None = None,
        *,
        service: str,
        timeout: float = DEFAULT_TIMEOUT,
        retry: CallRetry | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        limits: Limits | None = None,
        topics: Topics | None = None,
        telemetry: Telemetry | None = None,
        transport: Transport | None = None,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
        **legacy: Unpack[LegacyClientOptions],
    ) -> None:
        limits, topics, telemetry = fold_legacy(
            "RpcClient",
            legacy,
            LegacyClientOptions,
            limits=limits or Limits(),
            topics=topics or Topics(),
            telemetry=telemetry or Telemetry(),
        )
        self._transport: Transport = choose_transport(
            bootstrap, transport, security=security, config=config
        )
        self.service = require_service(service, "caller")
        self._payload_preview = telemetry.payload_preview
        self._timeout = _check_timeout(timeout)
        self._retry = retry or NO_CALL_RETRY
        self._breaker_config = circuit_breaker
        self._reply_partition = topics.reply_partition
        self._version = topics.version
        self._create_topics = topics.create
        self._topic_partitions = topics.partitions
        self._max_in_flight = limits.max_in_flight
        self._slots: anyio.Semaphore | None = None
        self._pending = PendingCalls()
        self._replies: ReplyConsumer | None = None
        self._routes: dict[TopicTrio, anyio.Event] = {}
        self._circuits: dict[TopicTrio, CircuitTracker] = {}
        self._trios: dict[str, TopicTrio] = {}
        self._state = _State.NEW
        self._library = "asyncio"  # replaced by the running library in start()
        self._signals: Signals | None = None
        self._telemetry = ClientTelemetry(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect and start the reply reader. ``async with`` calls this for you."""
        if self._state is not _State.NEW:
            raise LifecycleError(f"client is {self._state.value}; a client starts once")
        self._slots = anyio.Semaphore(self._max_in_flight)
        self._library = running_library()
        self._signals = Signals()
        await self._transport.start()
        try:
            self._replies = await self._transport.reply_consumer(self._on_replies)
        except BaseException:
            await self._transport.aclose()
            self._state = _State.CLOSED
            raise
        self._state = _State.OPEN

    async def aclose(self) -> None:
        """Fail every pending call with ClientClosed, flush the producer, stop reading."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        self._pending.fail_all(ClientClosed, "the client was closed while the call was pending")
        with anyio.CancelScope(shield=True):
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _check_open(self) -> None:
        if self._state is not _State.OPEN:
            if self._state is _State.NEW:
                raise LifecycleError("client is not started; use 'async with RpcClient(...)'")
            raise ClientClosed("the client is closed")

    @property
    def stats(self) -> ClientStats:
        """Counters of this client's calls (also exported as OpenTelemetry metrics)."""
        return self._telemetry.stats

    @property
    def pending_count(self) -> int:
        """Calls waiting for a reply right now."""
        return len(self._pending)

    # ------------------------------------------------------------------ routing
    def _trio(self, op: str | TopicTrio) -> TopicTrio:
        if isinstance(op, TopicTrio):
            return op
        trio = self._trios.get(op)
        if trio is None:
            trio = self._trios[op] = TopicTrio.from_base(op, version=self._version)
        return trio

    async def _ensure_route(self, trio: TopicTrio) -> None:
        """Make sure replies of ``trio`` will be seen before its first request goes out."""
        # An entry is an unset event while a setup runs, a set one once it succeeded;
        # a failed setup removes its entry, and the next waiter starts another.
        while (ready := self._routes.get(trio)) is not None:
            if ready.is_set():
                return
            await ready.wait()
        ready = self._routes[trio] = anyio.Event()
        try:
            if self._create_topics:
                await self._transport.ensure_topics(
                    [trio.requested, *trio.reply_topics], partitions=self._topic_partitions
                )
            await self._transport.partition_count(trio.requested)
            assert self._replies is not None
            await self._replies.assign(trio.reply_topics, partition=self._reply_partition)
        except BaseException:
            del self._routes[trio]
            raise
        finally:
            ready.set()

    def circuit_state(self, op: str | TopicTrio) -> CircuitState:
        """The circuit of ``op``: closed when no breaker is configured or nothing failed."""
        tracker = self._circuits.get(self._trio(op))
        return CircuitState.CLOSED if tracker is None else tracker.state

    def _circuit(self, trio: TopicTrio) -> CircuitTracker | None:
        if self._breaker_config is None:
            return None
        tracker = self._circuits.get(trio)
        if tracker is None:
            tracker = self._circuits[trio] = CircuitTracker(
                self._breaker_config, trio.name, on_change=self._telemetry.circuit_changed
            )
        return tracker

    # ------------------------------------------------------------------ replies
    def _on_replies(self, records: list[InboundRecord]) -> None:
        """Runs on the loop, once per fetched batch."""
        for record in records:
            correlation_id = _header_correlation_id(record)
            if correlation_id is None:
                # A peer that sends only the JSON envelope: read the id from the body.
                try:
                    correlation_id = decode_fields(record.value)["correlation_id"]
                except EnvelopeError:
                    self._telemetry.undecodable_reply()
                    logger.warning(
                        "dropped an undecodable reply on %s[%d]@%d",
                        record.topic,
                        record.partition,
                        record.offset,
                        extra=about(None, record.topic),
                    )
                    continue
            call = self._pending.get(correlation_id)
            if call is None:
                self._telemetry.unknown_reply()
                continue
            call.resolve(record)

    # ------------------------------------------------------------------ calls
    @overload
    async def request(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        response_model: None = None,
        timeout: float | Unset = UNSET,
        partition_key: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        idempotency_key: str | None = None,
        priority: str | None = None,
        retry: CallRetry | Unset | None = UNSET,
    ) -> dict[str, Any]: ...

    @overload
    async def request(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        response_model: type[ModelT],
        timeout: float | Unset = UNSET,
        partition_key: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        idempotency_key: str | None = None,
        priority: str | None = None,
        retry: CallRetry | Unset | None = UNSET,
    ) -> ModelT: ...

    async def request(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        response_model: type[ModelT] | None = None,
        timeout: float | Unset = UNSET,
        partition_key: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        idempotency_key: str | None = None,
        priority: str | None = None,
        retry: CallRetry | Unset | None = UNSET,
    ) -> dict[str, Any] | ModelT:
        """Send ``payload`` to ``op`` and return the reply payload.

        Returns a dict, or a ``response_model`` instance. Raises ``RemoteError``
        for a failure reply, ``RequestTimeout`` when no reply arrives within
        ``timeout`` seconds (the request's deadline), ``PublishError`` when the
        broker did not take the request, ``CircuitOpenError`` while the
        operation's circuit is open. The pending entry is removed in every case.
        """
        self._check_open()
        trio = self._trio(op)
        budget = self._timeout if timeout is UNSET else _check_timeout(timeout)
        body = encode_payload(payload)
        if priority is not None and priority not in PRIORITIES:
            raise ConfigurationError(
                f"priority must be one of {sorted(PRIORITIES)}, got {priority!r}"
            )
        if headers:
            clash = RESERVED_HEADERS.intersection(headers)
            if clash:
                raise ConfigurationError(
                    f"headers {sorted(clash)} are set by kafkarpc; "
                    "use the keyword arguments instead"
                )
        if partition_key is not None and not partition_key:
            raise ConfigurationError("partition_key must be a non-empty str or None")
        correlation_id = new_uuid()
        assert self._signals is not None
        clock = self._signals.clock
        call = _Call(
            trio=trio,
            body=body,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key or correlation_id,
            partition_key=partition_key,
            priority=priority,
            headers=headers,
            policy=self._retry if retry is UNSET else (retry or NO_CALL_RETRY),
            started=time.monotonic(),
            clock=clock,
            deadline=clock() + budget,
            deadline_ms=int((time.time() + budget) * 1000),
        )
        token = adopt_current_library(self._library)
        try:
            result = await self._perform(call)
        finally:
            forget_library(token)
        if response_model is None:
            return result
        try:
            return response_model.model_validate(result)
        except pydantic.ValidationError as exc:
            raise ResponseValidationError(
                f"reply from {trio.completed} does not fit {response_model.__name__}: {exc}",
                correlation_id=correlation_id,
                topic=trio.completed,
                elapsed=call.elapsed(),
            ) from exc

    async def _perform(self, call: _Call) -> dict[str, Any]:
        """Run one logical call: circuit, route, attempts, decoding, and its accounting."""
        telemetry = self._telemetry
        operation = call.trio.requested
        circuit = self._circuit(call.trio)
        telemetry.request_started(operation)
        outcome: str = OUTCOME_CANCELLED
        error: BaseException | None = None
        with telemetry.request_span(operation, call.correlation_id, call.key) as span:
            call.span = span
            try:
                if circuit is not None:
                    circuit.before_call()
                route = self._routes.get(call.trio)
                if route is None or not route.is_set():
                    with anyio.fail_after(call.remaining()):
                        await self._ensure_route(call.trio)
                reply = await self._attempts(call)
                result = self._decode_reply(reply, call)
                if circuit is not None:
                    circuit.on_success()
                outcome = OUTCOME_OK
                return result
            except CircuitOpenError as exc:
                outcome, error = OUTCOME_CIRCUIT_OPEN, exc
                raise
            except RemoteError as exc:
                outcome, error = OUTCOME_REMOTE_ERROR, exc
                if circuit is not None:
                    # A non-retryable answer (bad input) proves the dependency is alive.
                    (circuit.on_failure if exc.retryable else circuit.on_success)()
                raise
            except (TimeoutError, PublishError, TransportError) as exc:
                failure = _as_call_error(exc, call.trio, call.correlation_id, call.elapsed())
                timed_out = isinstance(failure, RequestTimeout)
                outcome = OUTCOME_TIMEOUT if timed_out else OUTCOME_PUBLISH_ERROR
                error = failure
                if circuit is not None:
                    if isinstance(failure, TopicNotFound):
                        circuit.on_abandoned()  # a setup error says nothing of the dependency
                    else:
                        circuit.on_failure()
                if failure is exc:
                    raise
                raise failure from exc
            except BaseException as exc:
                error = exc
                if circuit is not None:
                    circuit.on_abandoned()  # cancelled or closed: says nothing of the dependency
                raise
            finally:
                telemetry.request_finished(operation, outcome, call.started, span, error)

    async def _attempts(self, call: _Call) -> InboundRecord:
        """Send the request (again, per the retry policy) until a reply settles it."""
        assert self._slots is not None
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            await self._wait_for_slot(call)
            if self._state is not _State.OPEN:  # closed while this call waited
                self._slots.release()
                raise ClientClosed(
                    "the client was closed while the call waited for a free slot",
                    correlation_id=call.correlation_id,
                    topic=call.trio.requested,
                    elapsed=call.elapsed(),
                ) from None
        assert self._signals is not None
        pending = self._pending.add(call.correlation_id, self._signals)
        policy = call.policy
        record: OutboundRecord | None = None
        try:
            if policy.max_attempts == 1:
                # The default: one attempt, so skip the retry machinery on the hot path.
                record = self._request_record(call, 0)
                await self._send_attempt(pending, call, record, call.deadline)
                assert pending.reply is not None
                return pending.reply
            attempt_budget = policy.attempt_budget(call.remaining())
            attempt = 0
            async for try_ in policy.retrying(
                policy.should_retry_call, stop_after=call.remaining()
            ):
                with try_:
                    if attempt:
                        if call.remaining() <= 0:
                            # The backoff sleep ran past the deadline: no late resend.
                            raise RequestTimeout(
                                f"no reply from {call.trio.requested} before the deadline "
                                f"({attempt} attempts)",
                                correlation_id=call.correlation_id,
                                topic=call.trio.requested,
                                elapsed=call.elapsed(),
                            )
                        self._telemetry.retried(call.trio.requested, call.span, attempt)
                        pending.rearm()
                    record = self._request_record(call, attempt)
                    attempt += 1
                    attempt_deadline = min(call.deadline, call.clock() + attempt_budget)
                    await self._send_attempt(pending, call, record, attempt_deadline)
                    if policy.retry_remote and pending.reply is not None:
                        # Raises RemoteError for a failure reply, which the policy may retry.
                        self._decode_reply(pending.reply, call)
            assert pending.reply is not None
            return pending.reply
        except PublishError as exc:
            if record is not None:
                await self._dead_letter_request(record, exc)
            raise
        finally:
            self._pending.discard(pending)
            self._slots.release()

    async def _wait_for_slot(self, call: _Call) -> None:
        """Backpressure: beyond max_in_flight, callers wait (within their deadline)."""
        assert self._slots is not None
        try:
            with anyio.fail_after(call.remaining()):
                await self._slots.acquire()
        except TimeoutError:
            raise RequestTimeout(
                f"no free slot for {call.trio.requested}: {self._max_in_flight} calls stayed "
                "in flight for the whole deadline",
                correlation_id=call.correlation_id,
                topic=call.trio.requested,
                elapsed=call.elapsed(),
            ) from None

    async def _send_attempt(
        self, pending: PendingCall, call: _Call, record: OutboundRecord, until: float
    ) -> None:
        try:
            self._transport.produce(record, pending.on_delivery)
        except LifecycleError:
            pending.fail(ClientClosed("the client was closed while the call was pending"))
        except TransportError as exc:
            pending.fail(exc)
        await pending.signal.wait_until(until)
        if pending.reply is not None:
            return
        trio = call.trio
        if pending.error is None:
            raise RequestTimeout(
                f"no reply on {trio.completed} or {trio.failed} in time "
                f"(waited {call.elapsed():.3f}s)",
                correlation_id=call.correlation_id,
                topic=trio.requested,
                elapsed=call.elapsed(),
            )
        if isinstance(pending.error, ClientClosed):
            pending.error.correlation_id = call.correlation_id
            pending.error.topic = trio.requested
            pending.error.elapsed = call.elapsed()
            raise pending.error
        raise PublishError(
            f"the broker did not accept the request for {trio.requested}: {pending.error}",
            correlation_id=call.correlation_id,
            topic=trio.requested,
            elapsed=call.elapsed(),
        ) from pending.error

    def _request_record(self, call: _Call, attempt: int) -> OutboundRecord:
        trio = call.trio
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "request %s (attempt %d) to %s: %s",
                call.correlation_id,
                attempt + 1,
                trio.requested,
                preview(self._payload_preview, call.body.to_dict()),
                extra=about(call.correlation_id, trio.requested),
            )
        message = new_message(
            event_type=trio.event_type("requested"),
            correlation_id=call.correlation_id,
            service=self.service,
            payload=call.body,
            version=self._version,
        )
        traceparent, tracestate = inject_trace_headers(call.span)
        routing = RequestRouting(
            reply_to=trio.completed,
            reply_partition=self._reply_partition,
            deadline_ms=call.deadline_ms,
            idempotency_key=call.idempotency_key,
            retry_count=attempt,
            max_retries=call.policy.max_attempts - 1,
            partition_key=call.partition_key,
            priority=call.priority,
            traceparent=traceparent,
            tracestate=tracestate,
            parent_span_id=parent_span_id(call.span),
            ttl_seconds=max(1, math.ceil(call.deadline_ms / 1000 - time.time())),
        )
        return OutboundRecord(
            topic=trio.requested,
            value=message.value,
            key=call.key,
            headers=build_headers(message, routing=routing, extra=call.headers),
        )

    def _decode_reply(self, record: InboundRecord, call: _Call) -> dict[str, Any]:
        trio, correlation_id, elapsed = call.trio, call.correlation_id, call.elapsed()
        try:
            payload = decode_fields(record.value)["payload"]
        except EnvelopeError as exc:
            raise RemoteError(
                error_code="INVALID_REPLY",
                error_message=f"the reply on {record.topic} is not a valid envelope: {exc}",
                error_type="EnvelopeError",
                correlation_id=correlation_id,
                topic=record.topic,
                elapsed=elapsed,
            ) from exc
        if record.topic != trio.failed:
            return payload
        try:
            failure = ErrorPayload.model_validate(payload)
        except pydantic.ValidationError:
            failure = ErrorPayload(error_code="UNKNOWN_ERROR", error_message=str(payload)[:500])
        raise RemoteError(
            error_code=failure.error_code,
            error_message=failure.error_message,
            error_type=failure.error_type,
            retryable=failure.retryable,
            details=failure.details,
            correlation_id=correlation_id,
            topic=record.topic,
            elapsed=elapsed,
        )

    async def _dead_letter_request(self, record: OutboundRecord, error: BaseException) -> None:
        """After the last publish attempt, park the request in ``{requested}.dlq``."""
        never_stored = InboundRecord(
            topic=record.topic,
            partition=-1,
            offset=-1,
            key=record.key,
            value=record.value,
            headers=record.headers,
        )
        dead = dead_letter_record(never_stored, error, reason=DlqReason.PUBLISH_FAILED)
        try:
            with anyio.fail_after(5):
                await self._transport.send(dead)
            self._telemetry.dead_lettered(dead.topic)
        except (KafkaRpcError, TimeoutError) as exc:
            logger.error(
                "could not dead-letter a request for %s: %s",
                record.topic,
                exc,
                extra=about(None, record.topic),
            )

    async def publish(
        self,
        topic: str,
        payload: Mapping[str, Any] | BaseModel,
        *,
        event_type: str | None = None,
        key: str | None = None,
        correlation_id: str | None = None,
        headers: Mapping[str, str | bytes] | None = None,
        timeout: float | Unset = UNSET,
    ) -> str:
        """Publish one event (no reply expected); returns its ``event_id`` once stored."""
        self._check_open()
        validate_topic_name(topic)
        body = encode_payload(payload)
        budget = self._timeout if timeout is UNSET else _check_timeout(timeout)
        if event_type is not None:
            validate_event_type(event_type)
        envelope = new_message(
            event_type=event_type or event_type_for_topic(topic),
            correlation_id=correlation_id or new_uuid(),
            service=self.service,
            payload=body,
            version=self._version,
        )
        record = OutboundRecord(
            topic=topic,
            value=envelope.value,
            key=(key or envelope.correlation_id).encode(),
            headers=build_headers(envelope, extra=headers),
        )
        started = time.monotonic()
        try:
            with anyio.fail_after(budget):
                await self._transport.send(record)
        except (TransportError, TimeoutError) as exc:
            raise PublishError(
                f"could not publish to {topic}: {exc}",
                correlation_id=envelope.correlation_id,
                topic=topic,
                elapsed=time.monotonic() - started,
            ) from exc
        return envelope.event_id
