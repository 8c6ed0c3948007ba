"""``RpcServer``: the facade that registers responders and runs them as a consumer group.

A request's path (pipeline.py) runs through intake.py (workers), execution.py
and decide.py (its outcome), replier.py (its records) and delivery.py (the
broker); this class only builds those at start and takes them down at close.
"""

from __future__ import annotations

import enum
import logging
import signal
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar, Unpack

import anyio
from anyio.abc import TaskGroup

from .._config import ExactlyOnce, HandlerRetry, Limits, Security, Telemetry, Topics
from .._exceptions import ConfigurationError, LifecycleError
from .._legacy import LegacyServerOptions
from .._retry import RetryPolicy, handler_retry
from .._sentinel import UNSET
from .._setup import Setup
from .._stats import ServerStats
from .._telemetry import ServerTelemetry
from ..transport import GroupConsumer, InboundRecord, Transport
from ..wire.envelope import Envelope
from ..wire.topics import TopicTrio, name_topic
from .execution import Execution
from .handler import Responder
from .idempotency import IdempotencyStore, InMemoryIdempotencyStore
from .intake import fetch_high_mark
from .pipeline import Pipeline
from .registry import ResponderRegistry, RetryOption
from .replier import Replier
from .streaming import StreamReplies
from .subscriber import HandlerTable, Subscriber, SubscriberRegistry, is_pattern
from .transaction import Outlet, check_exactly_once, join_group

if TYPE_CHECKING:
    from ..wire.profiles import WireProfile

__all__ = ["RpcServer"]

logger = logging.getLogger("kafkarpc.server")

P = ParamSpec("P")
R = TypeVar("R")


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
    leaves it to be redelivered. With ``exactly_once=ExactlyOnce()``, replies,
    events published through ``RequestContext.publish`` and offsets commit
    together in Kafka transactions instead (docs/failure-semantics.md).

    ``wire`` chooses how requests and replies look: ``"kafkarpc"`` (the default),
    ``"nestjs"``, ``"spring"``, or a ``WireProfile`` such as ``PayloadCorrelated``.
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
        wire: str | WireProfile = "kafkarpc",
        exactly_once: ExactlyOnce | None = None,
        **legacy: Unpack[LegacyServerOptions],
    ) -> None:
        setup = Setup.settle(
            "RpcServer",
            (legacy, LegacyServerOptions),
            (bootstrap, transport, security, config),
            (service, limits, topics, telemetry),
        )
        self._transport = setup.transport
        self.service = setup.service
        limits, topics, telemetry = setup.limits, setup.topics, setup.telemetry
        self.group_id = group_id or service
        self._payload_preview = telemetry.payload_preview
        self._workers = limits.max_concurrency
        self._retry = None if retry is None else handler_retry(retry)
        # `is None`, not `or`: an empty store has len() 0 and would be replaced.
        self._idempotency: IdempotencyStore = (
            InMemoryIdempotencyStore() if idempotency_store is None else idempotency_store
        )
        self._exactly_once = exactly_once
        self._shutdown_timeout = limits.shutdown_timeout
        self._create_topics = topics.create
        self._topic_partitions = topics.partitions
        self._wire: WireProfile | None = None
        route = None
        if wire != "kafkarpc":
            # Imported here: a server on kafkarpc's own wire never loads the profiles.
            from ..wire.profiles import resolve
            from .foreign import profile_trio

            self._wire = resolve(wire)
            if self._wire is not None:
                route = partial(profile_trio, self._wire)
        self._registry = ResponderRegistry(topics.version, topics.naming, route)
        self._subscribers = SubscriberRegistry()
        self._topic_naming = topics.naming
        self._state = _State.NEW
        self._consumer: GroupConsumer | None = None
        self._task_group: TaskGroup | None = None
        self._pipeline: Pipeline | None = None
        self._streams = StreamReplies(self._transport, self.service, wire=self._wire)
        self._telemetry = ServerTelemetry(
            self.group_id,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )

    # ------------------------------------------------------------ registration
    def responder(
        self, op: str | TopicTrio, *, retry: RetryOption = UNSET
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
        self, op: str | TopicTrio, func: Callable[..., Any], *, retry: RetryOption = UNSET
    ) -> None:
        self._check_registering()
        self._registry.add(op, func, retry)

    def include(self, source: ModuleType | Iterable[Callable[..., Any]]) -> None:
        """Register every function marked with ``@kafkarpc.responder`` in a module or list."""
        self._check_registering()
        self._registry.include(source)

    def subscriber(
        self, topic: str, *, retry: RetryOption = UNSET
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Register the decorated function as the handler of the events on ``topic``.

        ``topic`` is a topic name, or a regular expression starting with ``^``
        (``"^orders\\..*"``) for every topic it matches. Events expect no reply:
        the handler's return value is ignored. Its payload parameter is validated
        like a responder's; an event that fails validation, or whose handler still
        raises after ``retry``, is copied to ``{topic}.dlq`` (docs/server.md).
        """

        def register(func: Callable[P, R]) -> Callable[P, R]:
            self.subscribe(topic, func, retry=retry)
            return func

        return register

    def subscribe(
        self, topic: str, func: Callable[..., Any], *, retry: RetryOption = UNSET
    ) -> None:
        """``@server.subscriber(topic)`` as a call, e.g. for a handler made at run time."""
        self._check_registering()
        # Topics.naming names an exact topic; a pattern is matched as it is written.
        named = topic if is_pattern(topic) else name_topic(self._topic_naming, topic)
        self._subscribers.add(named, func, retry)

    def _check_registering(self) -> None:
        if self._state is not _State.NEW:
            raise LifecycleError("handlers must be registered before the server starts")

    @property
    def operations(self) -> list[TopicTrio]:
        return self._registry.operations

    @property
    def responders(self) -> Mapping[str, Responder]:
        """The registered responders, keyed by request topic (a read-only view)."""
        return self._registry.view

    @property
    def subscribers(self) -> Mapping[str, Subscriber]:
        """The registered subscribers, keyed by topic or pattern (a read-only view)."""
        return self._subscribers.view

    @property
    def wire(self) -> str:
        """The name of the wire this server speaks: ``"kafkarpc"``, ``"nestjs"``, ..."""
        return "kafkarpc" if self._wire is None else self._wire.name

    def _wire_steps(self) -> tuple[Replier, Callable[[InboundRecord], Envelope] | None]:
        """The replier, and the reader of a foreign wire's requests (None for kafkarpc's)."""
        if self._wire is None:
            return Replier(self.service), None
        from .foreign import pipeline_steps

        return pipeline_steps(self.service, self._wire)

    @property
    def stats(self) -> ServerStats:
        """Counters of this server's work (also exported as OpenTelemetry metrics)."""
        return self._telemetry.stats

    @property
    def in_flight(self) -> int:
        return 0 if self._pipeline is None else self._pipeline.in_flight

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Self:
        if self._state is not _State.NEW:
            raise LifecycleError(f"server is {self._state.value}; a server starts once")
        if not len(self._registry) and not len(self._subscribers):
            raise ConfigurationError(
                "no responders or subscribers registered; use @server.responder(...) "
                "or @server.subscriber(...)"
            )
        check_exactly_once(self._exactly_once, self._registry.view.values())
        handlers = HandlerTable(self._registry.snapshot(), self._subscribers.view.values())
        self._state = _State.SERVING
        try:
            # Raises BrokerUnavailable at once when no broker can be reached.
            await self._transport.start()
            topics = self._registry.request_topics
            subscriptions = self._subscribers.subscriptions
            if self._create_topics:
                await self._transport.ensure_topics(
                    [*self._registry.topics_to_create(), *self._subscribers.topics_to_create()],
                    partitions=self._topic_partitions,
                )
            for topic in (*topics, *self._subscribers.topics):
                await self._transport.partition_count(topic)
            await self._streams.start(
                list(self._registry.view.values()),
                create=self._create_topics,
                partitions=self._topic_partitions,
            )
            task_group = self._task_group = anyio.create_task_group()
            await task_group.__aenter__()
        except BaseException:
            self._state = _State.CLOSED
            await self._transport.aclose()
            raise
        try:
            replier, read_foreign = self._wire_steps()
            outlet = None if self._exactly_once is None else Outlet()
            pipeline = self._pipeline = Pipeline(
                task_group,
                self._transport,
                handlers,
                Execution(
                    self._idempotency,
                    self._retry,
                    self._workers,
                    self._telemetry,
                    self._streams,
                ),
                replier,
                self._payload_preview,
                read_foreign,
                service=self.service,
                outlet=outlet,
            )
            pipeline.consumer = self._consumer = await join_group(
                self._transport,
                [*topics, *subscriptions],
                group_id=self.group_id,
                accept=pipeline.intake.accept,
                max_in_flight=fetch_high_mark(self._workers),
                outlet=outlet,
                exactly_once=self._exactly_once,
            )
        except BaseException as exc:
            await self._close(exc)
            raise
        logger.info("serving %s as group %r", ", ".join([*topics, *subscriptions]), self.group_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._close(exc)

    async def aclose(self) -> None:
        """Stop taking requests, let in-flight ones finish (up to shutdown_timeout), commit."""
        if self._state is _State.SERVING:
            await self._close(None)

    async def _close(self, exc: BaseException | None) -> bool | None:
        if self._state in (_State.STOPPING, _State.CLOSED):
            return None
        self._state = _State.STOPPING
        task_group = self._task_group
        with anyio.CancelScope(shield=True):
            pipeline = self._pipeline
            if pipeline is not None:
                pipeline.intake.close()  # batches fetched from now on stay unacknowledged
            if self._consumer is not None:
                await self._consumer.stop_fetching()
            # Finish everything already fetched, not only what is running (intake.py).
            with anyio.move_on_after(self._shutdown_timeout) as drain:
                if pipeline is not None:
                    await pipeline.drained()
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
                    suppress = await task_group.__aexit__(type(exc), exc, exc.__traceback__)
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
