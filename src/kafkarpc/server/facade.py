"""``RpcServer``: the facade that registers responders and runs them as a consumer group.

A request's path (pipeline.py) runs through intake.py (workers), execution.py
and decide.py (its outcome), replier.py (its records) and delivery.py (the
broker); this class only builds those at start and takes them down at close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, Unpack

from anyio.abc import TaskGroup

from .._config import ExactlyOnce, HandlerRetry, Limits, Security, Telemetry, Topics
from .._exceptions import LifecycleError
from .._legacy import LegacyServerOptions
from .._retry import RetryPolicy, handler_retry
from .._sentinel import UNSET
from .._setup import Setup
from .._telemetry import ServerTelemetry
from ..transport import GroupConsumer, Transport
from ..wire.topics import TopicTrio, name_topic
from .handler import Responder
from .idempotency import IdempotencyStore, InMemoryIdempotencyStore
from .lifecycle import ServerLifecycle, ServerState
from .pipeline import Pipeline
from .registry import ResponderRegistry, RetryOption
from .streaming import StreamReplies
from .subscriber import Subscriber, SubscriberRegistry, is_pattern

if TYPE_CHECKING:
    from ..wire.profiles import WireProfile

__all__ = ["RpcServer"]

logger = logging.getLogger("kafkarpc.server")

P = ParamSpec("P")
R = TypeVar("R")


class RpcServer(ServerLifecycle):
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
        self._state = ServerState.NEW
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
        if self._state is not ServerState.NEW:
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
