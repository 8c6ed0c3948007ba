"""``RpcServer``: runs ``@server.responder`` handlers as a consumer group."""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, ModuleType, TracebackType
from typing import Any, ParamSpec, Self, TypeVar, Unpack

import anyio
from anyio.abc import TaskGroup
from opentelemetry.trace import Span

from .._config import HandlerRetry, Limits, Security, Telemetry, Topics
from .._exceptions import (
    ConfigurationError,
    EnvelopeError,
    KafkaRpcError,
    LifecycleError,
    PayloadNotSerializable,
    PayloadTooLarge,
    RemoteError,
    TopicNotFound,
    TransportError,
)
from .._legacy import LegacyServerOptions, fold_legacy
from .._logging import about, preview
from .._loop import adopt_current_library, running_clock, running_library
from .._retry import RetryPolicy, handler_retry
from .._sentinel import UNSET, Unset
from .._stats import ServerStats
from .._telemetry import ServerTelemetry, inject_trace_headers, parent_span_id
from ..transport import ANY_PARTITION, GroupConsumer, InboundRecord, OutboundRecord, Transport
from ..transport.choose import choose_transport, require_service
from ..wire.dead_letter import DlqReason, dead_letter_record
from ..wire.envelope import Envelope, ErrorCode, decode_envelope, new_message
from ..wire.headers import RequestRouting, build_headers, header_dict
from ..wire.topics import TopicTrio, dlq_topic
from .context import RequestContext
from .handler import PayloadInvalid, Responder, ResultInvalid, collect_responders
from .idempotency import IdempotencyStore, InMemoryIdempotencyStore, StoredReply
from .ordering import KeyOrder
from .outcome import Outcome, failure_payload
from .settlement import Settlement

__all__ = ["RpcServer"]

logger = logging.getLogger("kafkarpc.server")

P = ParamSpec("P")
R = TypeVar("R")

_SEND_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
_PERMANENT_SEND_ERRORS = (PayloadTooLarge, TopicNotFound, ConfigurationError)


class _Execution:
    """A request running under an idempotency key. Duplicates are rare, so the event
    they wait on is made only when one arrives, not for every request."""

    __slots__ = ("finished",)

    def __init__(self) -> None:
        self.finished: anyio.Event | None = None


# What deciding a request's outcome needs: handler, record, envelope, routing and
# the effective deadline (ms).
_Request = tuple[Responder, InboundRecord, Envelope, RequestRouting, int | None]


class _State(enum.Enum):
    NEW = "new"
    SERVING = "serving"
    STOPPING = "stopping"
    CLOSED = "closed"


class RpcServer:
    """Serves requests for registered responders, as one member of ``group_id``.

    Every instance with the same ``group_id`` shares the work: each request is
    handled once per group. The request's offset is committed only after its
    reply (or dead letter) is on the broker, so a responder that dies mid-request
    leaves it to be redelivered.
    """

    def __init__(
        self,
        bootstrap: str | None = None,
        *,
        service: str,
        group_id: str | None = None,
        retry: HandlerRetry | RetryPolicy | None = None,
        idempotency_store: IdempotencyStore | None = None,
        limits: Limits | None = None,
        topics: Topics | None = None,
        telemetry: Telemetry | None = None,
        transport: Transport | None = None,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
        **legacy: Unpack[LegacyServerOptions],
    ) -> None:
        limits, topics, telemetry = fold_legacy(
            "RpcServer",
            legacy,
            LegacyServerOptions,
            limits=limits or Limits(),
            topics=topics or Topics(),
            telemetry=telemetry or Telemetry(),
        )
        self._transport: Transport = choose_transport(
            bootstrap, transport, security=security, config=config
        )
        self.service = require_service(service, "responder")
        self.group_id = group_id or service
        self._payload_preview = telemetry.payload_preview
        self._max_concurrency = limits.max_concurrency
        self._retry = None if retry is None else handler_retry(retry)
        # `is None`, not `or`: an empty store has len() 0 and would be replaced.
        self._idempotency: IdempotencyStore = (
            InMemoryIdempotencyStore() if idempotency_store is None else idempotency_store
        )
        # The built-in store never waits, so it is called without its coroutines
        # (not a subclass: it may override get/put).
        self._local_store: InMemoryIdempotencyStore | None = (
            self._idempotency if type(self._idempotency) is InMemoryIdempotencyStore else None
        )
        self._shutdown_timeout = limits.shutdown_timeout
        self._create_topics = topics.create
        self._topic_partitions = topics.partitions
        self._version = topics.version
        self._handlers: dict[str, Responder] = {}
        self._state = _State.NEW
        self._library = "asyncio"  # replaced by the running library when entered
        self._clock: Callable[[], float] = anyio.current_time
        self._cancel_scope: type[anyio.CancelScope] = anyio.CancelScope
        self._sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self._consumer: GroupConsumer | None = None
        self._task_group: TaskGroup | None = None
        # Fetched records waiting for a worker, and the workers waiting for records.
        # (A memory object stream does the same at several times the cost per record.)
        self._queue: deque[InboundRecord] = deque()
        self._waiting_workers: deque[anyio.Event] = deque()
        self._intake_open = False
        self._in_flight = 0
        self._idle = anyio.Event()
        self._executing: dict[str, _Execution] = {}
        self._key_order = KeyOrder()
        self._workers_running = 0
        self._workers_done = anyio.Event()
        self._limiter: anyio.CapacityLimiter | None = None
        self._telemetry = ServerTelemetry(
            self.group_id,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )

    # ------------------------------------------------------------ registration
    def responder(
        self, op: str | TopicTrio, *, retry: HandlerRetry | RetryPolicy | Unset | None = UNSET
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Register the decorated function as the handler of ``op``.

        The first parameter receives the payload, validated against its type hint
        (a pydantic model, a TypedDict, ...; ``dict`` or no hint passes it as is).
        A parameter annotated ``RequestContext`` receives the request's context.
        Sync functions run in a worker thread.
        """

        def register(func: Callable[P, R]) -> Callable[P, R]:
            self.add_responder(op, func, retry=retry)
            return func

        return register

    def add_responder(
        self,
        op: str | TopicTrio,
        func: Callable[..., Any],
        *,
        retry: HandlerRetry | RetryPolicy | Unset | None = UNSET,
    ) -> None:
        if self._state is not _State.NEW:
            raise LifecycleError("responders must be registered before the server starts")
        trio = TopicTrio.coerce(op, version=self._version)
        if trio.requested in self._handlers:
            raise ConfigurationError(f"{trio.requested} already has a responder")
        self._handlers[trio.requested] = Responder.build(trio, func, retry)

    def include(self, source: ModuleType | Iterable[Callable[..., Any]]) -> None:
        """Register every function marked with ``@kafkarpc.responder`` in a module or list."""
        for func, spec in collect_responders(source):
            self.add_responder(spec.op, func, retry=spec.retry)

    @property
    def operations(self) -> list[TopicTrio]:
        return [handler.trio for handler in self._handlers.values()]

    @property
    def responders(self) -> Mapping[str, Responder]:
        """The registered responders, keyed by request topic (a read-only view)."""
        return MappingProxyType(self._handlers)

    @property
    def stats(self) -> ServerStats:
        """Counters of this server's work (also exported as OpenTelemetry metrics)."""
        return self._telemetry.stats

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise LifecycleError(f"server is {self._state.value}; a server starts once")
        if not self._handlers:
            raise ConfigurationError("no responders registered; use @server.responder(...)")
        self._state = _State.SERVING
        self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        self._library = running_library()
        # anyio's clock, sleep and CancelScope() look up the running library on every
        # call, a real share of a request's cost; it cannot change from here on.
        self._clock = running_clock()
        if self._library == "asyncio":
            self._sleep = asyncio.sleep
        self._cancel_scope = type(anyio.CancelScope())  # the backend's own class
        await self._transport.start()
        try:
            topics = list(self._handlers)
            if self._create_topics:
                extra = [
                    t
                    for h in self._handlers.values()
                    for t in (*h.trio.reply_topics, dlq_topic(h.trio.requested))
                ]
                await self._transport.ensure_topics(
                    [*topics, *extra], partitions=self._topic_partitions
                )
            for topic in topics:
                await self._transport.partition_count(topic)
            self._intake_open = True
            self._task_group = anyio.create_task_group()
            await self._task_group.__aenter__()
        except BaseException:
            self._state = _State.CLOSED
            await self._transport.aclose()
            raise
        try:
            self._workers_running = self._max_concurrency
            for _ in range(self._max_concurrency):
                self._task_group.start_soon(self._worker)
            self._consumer = await self._transport.group_consumer(
                topics,
                group_id=self.group_id,
                on_batch=self._accept_batch,
                # Fetched-but-waiting records are cheap; pausing the consumer at every
                # free slot would cost a refetch each time. Pause only at a high mark.
                max_in_flight=max(4 * self._max_concurrency, 256),
            )
        except BaseException as exc:
            await self._close(type(exc), exc, exc.__traceback__)
            raise
        logger.info("serving %s as group %r", ", ".join(topics), self.group_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._close(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Stop taking requests, let in-flight ones finish (up to shutdown_timeout), commit."""
        if self._state is _State.SERVING:
            await self._close(None, None, None)

    async def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._state in (_State.STOPPING, _State.CLOSED):
            return None
        self._state = _State.STOPPING
        task_group = self._task_group
        with anyio.CancelScope(shield=True):
            if self._consumer is not None:
                await self._consumer.stop_fetching()
            self._close_intake()
            # Finish everything already fetched, not only what is running: skipping a
            # queued request would stop its partition's commit below requests that
            # did finish, and a restart would run those again.
            with anyio.move_on_after(self._shutdown_timeout) as drain:
                if self._workers_running:
                    await self._workers_done.wait()
                while self._in_flight:
                    self._idle = anyio.Event()
                    await self._idle.wait()
            if drain.cancelled_caught:
                logger.warning(
                    "requests still running after %.1fs; unfinished ones will be redelivered",
                    self._shutdown_timeout,
                )
            if task_group is not None:
                task_group.cancel_scope.cancel()
        suppress: bool | None = None
        try:
            if task_group is not None:
                # Only a cancellation may belong to the task group (a crashed background
                # task cancels the body); any other error of the body propagates unwrapped.
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    suppress = await task_group.__aexit__(exc_type, exc, tb)
                else:
                    await task_group.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                if self._consumer is not None:
                    await self._consumer.aclose()
                await self._transport.aclose()
            self._state = _State.CLOSED
        return suppress

    async def run(self) -> None:
        """Serve until cancelled, SIGTERM or SIGINT; then shut down gracefully."""
        async with self:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    logger.info("received %s; shutting down", signal.Signals(signum).name)
                    return

    async def serve_forever(self) -> None:
        """Serve until cancelled (no signal handling; for use inside your own app)."""
        async with self:
            await anyio.sleep_forever()

    # ------------------------------------------------------------ intake
    def _accept_batch(self, batch: list[InboundRecord]) -> None:
        if not self._intake_open or self._state is not _State.SERVING:
            return  # not acked: redelivered to whoever owns the partition next
        self._queue.extend(batch)
        waiting = self._waiting_workers
        for _ in range(min(len(batch), len(waiting))):
            waiting.popleft().set()

    def _close_intake(self) -> None:
        """Workers finish what is queued, then stop."""
        self._intake_open = False
        while self._waiting_workers:
            self._waiting_workers.popleft().set()

    async def _worker(self) -> None:
        """One of ``max_concurrency`` workers; a fixed pool bounds concurrency and
        costs no task creation per request. Runs until the intake closes and drains."""
        adopt_current_library(self._library)  # this task's own context, for its lifetime
        queue = self._queue
        try:
            while True:
                # A checkpoint per record, as a stream's receive() has: a worker whose
                # handlers never suspend must still let other tasks (and cancellation) in.
                await self._sleep(0)
                while not queue:
                    if not self._intake_open:
                        return
                    await self._wait_for_records()
                await self._handle(queue.popleft())
        finally:
            self._workers_running -= 1
            if not self._workers_running:
                self._workers_done.set()

    async def _wait_for_records(self) -> None:
        arrived = anyio.Event()
        self._waiting_workers.append(arrived)
        try:
            await arrived.wait()
        finally:
            if not arrived.is_set():  # cancelled: a wake-up must not go to a gone worker
                self._waiting_workers.remove(arrived)

    async def _handle(self, record: InboundRecord) -> None:
        self._in_flight += 1
        self._telemetry.received()
        settlement = Settlement(record, self._settled)
        handled = False
        try:
            handled = await self._process(record, settlement)
        except Exception:
            logger.exception(
                "internal error handling %s[%d]@%d",
                record.topic,
                record.partition,
                record.offset,
                extra=about(None, record.topic),
            )
        finally:
            settlement.finish(handled)

    def _settled(self, record: InboundRecord, delivered: bool) -> None:
        """Everything sent for ``record`` reached the broker (or could not)."""
        if delivered and self._consumer is not None:
            self._consumer.ack(record)  # only now may its offset be committed
        self._in_flight -= 1
        if not self._in_flight:
            self._idle.set()

    # ------------------------------------------------------------ processing
    async def _process(self, record: InboundRecord, settlement: Settlement) -> bool:
        """Handle one request and hand its reply (and dead letter) to the producer.

        Returns False when something could not be sent; the request is then not
        acknowledged and is redelivered. ``settlement`` acks it once the broker
        has everything sent for it.
        """
        handler = self._handlers[record.topic]
        try:
            envelope = decode_envelope(record.value)
        except EnvelopeError as exc:
            logger.warning(
                "poison message %s[%d]@%d sent to the DLQ: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
                extra=about(None, record.topic),
            )
            return await self._dead_letter(record, exc, DlqReason.POISON, settlement=settlement)
        # Only the routing headers are decoded here; a handler that takes a
        # RequestContext gets all of them (see _context).
        routing = RequestRouting.from_record_headers(record.headers)
        deadline_ms = _effective_deadline(routing, envelope)
        operation = record.topic
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "handling %s from %s: %s",
                envelope.correlation_id,
                envelope.service,
                preview(self._payload_preview, envelope.payload),
                extra=about(envelope.correlation_id, record.topic),
            )
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
                request = (handler, record, envelope, routing, deadline_ms)
                if routing.partition_key is None:
                    outcome, delivered = await self._answer(request, span, settlement)
                else:
                    # Requests sharing a partition key (e.g. one tenant's) are handled
                    # and answered in the order they were fetched, one at a time.
                    async with self._key_order.hold(routing.partition_key):
                        outcome, delivered = await self._answer(request, span, settlement)
                if not delivered:
                    delivered = await self._park_unanswered(record, settlement)
                if outcome.ok:
                    telemetry.succeeded()
                else:
                    error_code = str(outcome.payload.get("error_code", "ERROR"))
                if outcome.dead_letter is not None:
                    retries = outcome.attempts - 1
                    parked = await self._dead_letter(
                        record,
                        outcome.dead_letter,
                        DlqReason.HANDLER_EXHAUSTED,
                        retry_count=retries,
                        settlement=settlement,
                    )
                    delivered = parked and delivered
            finally:
                outcome_label = "ok" if error_code is None else error_code.lower()
                telemetry.handling_finished(operation, outcome_label, started, span, error_code)
        return delivered

    async def _answer(
        self, request: _Request, span: Span | None, settlement: Settlement
    ) -> tuple[Outcome, bool]:
        """Decide the request's outcome and hand its reply to the producer."""
        outcome = await self._outcome(request)
        handler, record, envelope, routing, _ = request
        delivered = await self._reply(
            record, handler.trio, envelope, routing, outcome, span, settlement=settlement
        )
        return outcome, delivered

    def _policy(self, handler: Responder) -> HandlerRetry | None:
        return self._retry if handler.retry is UNSET else handler.retry

    async def _outcome(self, request: _Request) -> Outcome:
        handler, _, _, routing, deadline_ms = request
        if deadline_ms is not None and time.time() * 1000 > deadline_ms:
            self._telemetry.deadline_expired(handler.trio.requested)
            return Outcome(
                False,
                failure_payload(
                    ErrorCode.DEADLINE_EXCEEDED,
                    f"the caller's deadline passed {time.time() * 1000 - deadline_ms:.0f}"
                    " ms "
                    "before the request was picked up; it was not executed",
                ),
            )
        key = routing.idempotency_key
        if key is None:
            return await self._execute(request)
        scoped = f"{handler.trio.requested}\x00{key}"
        while (running := self._executing.get(scoped)) is not None:
            # A duplicate of a request being executed right now: wait for its result.
            if running.finished is None:
                running.finished = anyio.Event()
            await running.finished.wait()
        local = self._local_store
        stored = local._lookup(scoped) if local is not None else await self._idempotency.get(scoped)
        if stored is not None:
            self._telemetry.deduplicated(handler.trio.requested)
            return Outcome(stored.ok, stored.payload, cacheable=True)
        self._executing[scoped] = execution = _Execution()
        try:
            outcome = await self._execute(request)
            if outcome.cacheable:
                if local is not None:
                    local._remember(scoped, outcome.ok, outcome.payload)
                else:
                    await self._idempotency.put(scoped, StoredReply(outcome.ok, outcome.payload))
            return outcome
        finally:
            del self._executing[scoped]
            if execution.finished is not None:
                execution.finished.set()

    async def _execute(self, request: _Request) -> Outcome:
        handler, record, envelope, routing, deadline_ms = request
        try:
            argument = handler.parse(envelope.payload)
        except PayloadInvalid as exc:
            self._telemetry.validation_error(handler.trio.requested)
            return Outcome(
                False,
                failure_payload(
                    ErrorCode.VALIDATION_ERROR,
                    f"payload does not match {handler.name}'s parameter type",
                    error_type="ValidationError",
                    details={"errors": exc.errors},
                ),
                cacheable=True,
            )
        policy = self._policy(handler)
        attempts = policy.max_attempts if policy is not None else 1
        assert self._limiter is not None
        correlation_id = envelope.correlation_id
        for attempt in range(1, attempts + 1):
            remaining = None if deadline_ms is None else deadline_ms / 1000 - time.time()
            if remaining is not None and remaining <= 0:
                self._telemetry.deadline_expired(handler.trio.requested)
                return Outcome(
                    False,
                    failure_payload(
                        ErrorCode.DEADLINE_EXCEEDED,
                        f"the caller's deadline passed during attempt {attempt} of the handler",
                    ),
                )
            # Only a handler that asks for the context pays for building it.
            context = (
                None
                if handler.context_param is None
                else _context(record, envelope, routing, deadline_ms, attempt)
            )
            try:
                if remaining is None:
                    result = await handler.invoke(argument, context, self._limiter)
                else:
                    # A bare CancelScope: fail_after's context-manager wrapper costs more
                    # than the rest of a request's bookkeeping on this path.
                    with self._cancel_scope(deadline=self._clock() + remaining) as scope:
                        result = await handler.invoke(argument, context, self._limiter)
                    if scope.cancelled_caught:
                        self._telemetry.deadline_expired(handler.trio.requested)
                        return Outcome(
                            False,
                            failure_payload(
                                ErrorCode.DEADLINE_EXCEEDED,
                                "the handler was cancelled when the caller's deadline passed",
                            ),
                        )
                payload = handler.render(result)
            except RemoteError as exc:
                # The handler chose its own failure reply (e.g. NOT_FOUND).
                return Outcome(
                    False,
                    failure_payload(
                        exc.error_code,
                        exc.error_message,
                        error_type=exc.error_type or "RemoteError",
                        retryable=exc.retryable,
                        details=exc.details,
                    ),
                    cacheable=not exc.retryable,
                )
            except (ResultInvalid, Exception) as exc:
                error = exc
            else:
                return Outcome(True, payload, cacheable=True)
            retryable = (
                policy is not None
                and isinstance(error, policy.handler_exceptions)
                and not isinstance(error, ResultInvalid)
            )
            if retryable and attempt < attempts:
                assert policy is not None
                self._telemetry.retried(handler.trio.requested)
                logger.info(
                    "handler %s failed (attempt %d/%d) for %s: %r; retrying",
                    handler.name,
                    attempt,
                    attempts,
                    correlation_id,
                    error,
                    extra=about(correlation_id, record.topic),
                )
                await anyio.sleep(policy.backoff(attempt))
                continue
            self._telemetry.handler_error(handler.trio.requested)
            logger.warning(
                "handler %s failed for %s on %s: %r",
                handler.name,
                correlation_id,
                record.topic,
                error,
                extra=about(correlation_id, record.topic),
            )
            failure = failure_payload(
                ErrorCode.HANDLER_ERROR,
                str(error) or type(error).__name__,
                error_type=type(error).__name__,
                retryable=False,
                details={"attempts": attempt},
            )
            # With a retry policy, exhausted requests are also parked for replay.
            return Outcome(
                False,
                failure,
                dead_letter=error if policy is not None else None,
                attempts=attempt,
            )
        raise AssertionError("unreachable: the loop returns on its last attempt")

    # ------------------------------------------------------------ output
    async def _send(self, record: OutboundRecord) -> KafkaRpcError | None:
        """Send, retrying transient failures; the error if the broker would not take it."""
        for delay in (*_SEND_RETRY_DELAYS, None):
            try:
                await self._transport.send(record)
                return None
            except _PERMANENT_SEND_ERRORS as exc:
                return exc  # retrying cannot fix these
            except KafkaRpcError as exc:
                if delay is None:
                    logger.error(
                        "giving up sending to %s: %s",
                        record.topic,
                        exc,
                        extra=about(None, record.topic),
                    )
                    return exc
                logger.warning(
                    "sending to %s failed (%s); retrying in %.2fs",
                    record.topic,
                    exc,
                    delay,
                    extra=about(None, record.topic),
                )
                await anyio.sleep(delay)
        raise AssertionError("unreachable: the last delay is None")

    async def _reply(
        self,
        source: InboundRecord,
        trio: TopicTrio,
        request: Envelope,
        routing: RequestRouting,
        outcome: Outcome,
        span: Span | None,
        *,
        settlement: Settlement | None = None,
    ) -> bool:
        """Send the reply; may turn ``outcome`` into a failure (e.g. a reply too large).

        With a ``settlement`` the reply is handed to the producer and this returns
        at once; a delivery that fails later is retried by a background task, which
        runs this method again without one. Without it, this waits for the broker.
        """
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
        for _ in range(3):
            try:
                message = new_message(
                    event_type=trio.event_type("completed" if outcome.ok else "failed"),
                    correlation_id=request.correlation_id,
                    causation_id=request.event_id,
                    service=self.service,
                    payload=outcome.payload,
                    version=request.version,
                )
            except PayloadNotSerializable as exc:
                # The handler returned (or raised with) something JSON cannot carry.
                outcome.become_failure(
                    failure_payload(
                        ErrorCode.HANDLER_ERROR,
                        f"the reply is not JSON-serializable: {exc}",
                        error_type="PayloadNotSerializable",
                    )
                )
                topic, partition = trio.failed, ANY_PARTITION
                continue
            record = OutboundRecord(
                topic=topic,
                value=message.value,
                key=request.correlation_id.encode(),
                headers=build_headers(message, routing=passthrough),
                partition=partition,
            )
            if settlement is None:
                error = await self._send(record)
            else:
                retry = functools.partial(
                    self._reply_or_park, source, trio, request, routing, outcome, span
                )
                error = self._submit(record, settlement, retry)
            if error is None:
                return True
            if isinstance(error, TopicNotFound) and (topic, partition) != (
                trio.completed,
                ANY_PARTITION,
            ):
                # A bogus reply_to or reply_partition must not strand the request:
                # answer on the operation's own topics instead.
                logger.warning(
                    "reply route %s[%s] of %s does not exist; replying on %s",
                    topic, partition, request.correlation_id, trio.name,
                    extra=about(request.correlation_id, trio.requested),
                )  # fmt: skip
                topic = trio.completed if outcome.ok else trio.failed
                partition = ANY_PARTITION
                continue
            if isinstance(error, PayloadTooLarge) and outcome.ok:
                outcome.become_failure(
                    failure_payload(
                        ErrorCode.REPLY_TOO_LARGE,
                        f"the reply is {error.size} bytes; the broker accepts {error.limit}",
                        error_type="PayloadTooLarge",
                        details={"size": error.size, "limit": error.limit},
                    )
                )
                topic, partition = trio.failed, ANY_PARTITION
                continue
            return False
        return False

    async def _reply_or_park(
        self,
        record: InboundRecord,
        trio: TopicTrio,
        request: Envelope,
        routing: RequestRouting,
        outcome: Outcome,
        span: Span | None,
    ) -> bool:
        """The background retry of a reply whose delivery failed."""
        if await self._reply(record, trio, request, routing, outcome, span):
            return True
        return await self._park_unanswered(record, None)

    async def _park_unanswered(self, record: InboundRecord, settlement: Settlement | None) -> bool:
        """A reply the broker keeps refusing must not hold back its partition's commits
        forever: park the request in the DLQ (replayable), then it may be acknowledged."""
        logger.error(
            "the reply to %s[%d]@%d could not be delivered; parking the request in the DLQ",
            record.topic,
            record.partition,
            record.offset,
            extra=about(None, record.topic),
        )
        error = TransportError("the broker did not accept the reply to this request")
        return await self._dead_letter(record, error, DlqReason.REPLY_FAILED, settlement=settlement)

    async def _dead_letter(
        self,
        record: InboundRecord,
        error: BaseException,
        reason: DlqReason,
        *,
        retry_count: int = 0,
        settlement: Settlement | None = None,
    ) -> bool:
        dead = dead_letter_record(record, error, reason=reason, retry_count=retry_count)
        if settlement is None:
            failure = await self._send(dead)
        else:
            retry = functools.partial(
                self._dead_letter, record, error, reason, retry_count=retry_count
            )
            failure = self._submit(dead, settlement, retry)
        if failure is None:
            self._telemetry.dead_lettered(record.topic)
        return failure is None

    def _submit(
        self,
        record: OutboundRecord,
        settlement: Settlement,
        retry: Callable[[], Awaitable[bool]],
    ) -> KafkaRpcError | None:
        """Hand ``record`` to the producer without waiting for the broker.

        A worker waiting for acknowledgements would leave requests queued behind
        it; the settlement waits instead. A permanent error is returned at once;
        a transient one (now or at delivery) is retried by ``retry`` in a task.
        """
        settlement.expect()
        try:
            self._transport.produce(record, functools.partial(self._delivered, settlement, retry))
        except _PERMANENT_SEND_ERRORS as exc:
            settlement.finish(True)  # nothing is outstanding; the caller handles exc
            return exc
        except KafkaRpcError:
            self._start_retry(settlement, retry)
        return None

    def _delivered(
        self,
        settlement: Settlement,
        retry: Callable[[], Awaitable[bool]],
        error: Exception | None,
        _record: OutboundRecord,
    ) -> None:
        if error is None:
            settlement.finish(True)
        else:
            self._start_retry(settlement, retry)

    def _start_retry(self, settlement: Settlement, retry: Callable[[], Awaitable[bool]]) -> None:
        if self._task_group is None:
            settlement.finish(False)
            return
        self._task_group.start_soon(self._retry_delivery, settlement, retry)

    @staticmethod
    async def _retry_delivery(settlement: Settlement, retry: Callable[[], Awaitable[bool]]) -> None:
        delivered = False
        try:
            delivered = await retry()
        finally:
            settlement.finish(delivered)


def _context(
    record: InboundRecord,
    envelope: Envelope,
    routing: RequestRouting,
    deadline_ms: int | None,
    attempt: int,
) -> RequestContext:
    return RequestContext(
        correlation_id=envelope.correlation_id,
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        caller=envelope.service,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        headers=header_dict(record.headers),
        metadata=envelope.metadata or {},
        deadline_ms=deadline_ms,
        idempotency_key=routing.idempotency_key,
        retry_count=routing.retry_count or 0,
        attempt=attempt,
    )


def _effective_deadline(routing: RequestRouting, envelope: Envelope) -> int | None:
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
