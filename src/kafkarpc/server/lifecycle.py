"""The life of an ``RpcServer``: joining the group and serving, draining and closing.

``RpcServer`` (``facade.py``) registers handlers; this class builds a request's
path from them at start (``pipeline.py``) and takes it down at close.
"""

from __future__ import annotations

import enum
import logging
import signal
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

import anyio
from anyio.abc import TaskGroup

from .._config import ExactlyOnce, HandlerRetry
from .._exceptions import ConfigurationError, LifecycleError
from .._stats import ServerStats
from .._telemetry import ServerTelemetry
from ..transport import GroupConsumer, InboundRecord, Transport
from ..wire.envelope import Envelope
from .execution import Execution
from .idempotency import IdempotencyStore
from .intake import fetch_high_mark
from .pipeline import Pipeline
from .registry import ResponderRegistry
from .replier import Replier
from .streaming import StreamReplies
from .subscriber import HandlerTable, SubscriberRegistry
from .transaction import Outlet, check_exactly_once, join_group

if TYPE_CHECKING:
    from ..wire.profiles import WireProfile

__all__ = ["ServerLifecycle", "ServerState"]

logger = logging.getLogger("kafkarpc.server")


class ServerState(enum.Enum):
    NEW = "new"
    SERVING = "serving"
    STOPPING = "stopping"
    CLOSED = "closed"


class ServerLifecycle:
    """Start serving a server's handlers, drain and close; its counters meanwhile."""

    # Set by RpcServer.__init__:
    service: str
    group_id: str
    _transport: Transport
    _payload_preview: Callable[..., str] | None
    _workers: int
    _retry: HandlerRetry | None
    _idempotency: IdempotencyStore
    _exactly_once: ExactlyOnce | None
    _shutdown_timeout: float
    _create_topics: bool
    _topic_partitions: int
    _wire: WireProfile | None
    _registry: ResponderRegistry
    _subscribers: SubscriberRegistry
    _state: ServerState
    _consumer: GroupConsumer | None
    _task_group: TaskGroup | None
    _pipeline: Pipeline | None
    _streams: StreamReplies
    _telemetry: ServerTelemetry

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

    async def __aenter__(self) -> Self:
        if self._state is not ServerState.NEW:
            raise LifecycleError(f"server is {self._state.value}; a server starts once")
        if not len(self._registry) and not len(self._subscribers):
            raise ConfigurationError(
                "no responders or subscribers registered; use @server.responder(...) "
                "or @server.subscriber(...)"
            )
        check_exactly_once(self._exactly_once, self._registry.view.values())
        handlers = HandlerTable(self._registry.snapshot(), self._subscribers.view.values())
        self._state = ServerState.SERVING
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
            self._state = ServerState.CLOSED
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
        if self._state is ServerState.SERVING:
            await self._close(None)

    async def _close(self, exc: BaseException | None) -> bool | None:
        if self._state in (ServerState.STOPPING, ServerState.CLOSED):
            return None
        self._state = ServerState.STOPPING
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
            self._state = ServerState.CLOSED
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
