"""``RpcClient``: ``reply = await client.request(op, payload)`` over Kafka.

The facade checks a call's arguments, makes it a ``Call`` and hands it to the
send pipeline (``pipeline.py``); the reply reader (``replies.py``) settles it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from .._causation import Cause, current_cause
from .._config import NO_CALL_RETRY, CallRetry, CircuitBreaker, Limits, Security, Telemetry, Topics
from .._exceptions import ConfigurationError
from .._legacy import LegacyClientOptions
from .._loop import adopt_current_library, forget_library
from .._sentinel import UNSET, Unset
from .._setup import Setup
from .._telemetry import ClientTelemetry
from ..transport import Transport
from ..wire.envelope import encode_payload
from ..wire.topics import TopicTrio, name_topic, validate_topic_name
from .call import Send
from .circuit import Circuits
from .conversing import Conversations
from .lifecycle import ClientState
from .pending import PendingCalls
from .records import RecordWriter, send_event
from .replies import as_model
from .reply_partition import ReplyPartitions
from .validate import CallOptions, TrioNames, check_timeout, new_call, within_cause

if TYPE_CHECKING:
    # Only for annotations: importing it would load pydantic's model machinery.
    from pydantic import BaseModel

    from ..events import EmitResult, EventCatalog, EventRegistration
    from ..events.emit import EmitOptions
    from ..wire.profiles import WireProfile
    from .foreign import ProfileRoutes

__all__ = ["RpcClient"]

ModelT = TypeVar("ModelT", bound="BaseModel")
DEFAULT_TIMEOUT = 5.0


class RpcClient(Conversations):
    """Sends requests and resolves their replies.

    >>> async with RpcClient("127.0.0.1:9092", service="checkout") as client:  # doctest: +SKIP
    ...     reply = await client.request("billing.charge", {"cents": 1200})

    Replies are read by manual partition assignment (no consumer-group join), from
    the end of each operation's reply topics, assigned before the first request of
    that operation is sent. Options are keyword-only; per-call arguments override them.

    ``wire`` chooses how requests and replies look: ``"kafkarpc"`` (the default),
    ``"nestjs"``, ``"spring"``, or a ``WireProfile`` such as ``PayloadCorrelated``.
    """

    def __init__(
        self,
        bootstrap: str | None = None,
        *,
        service: str,
        retry: CallRetry | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        limits: Limits | None = None,
        topics: Topics | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        telemetry: Telemetry | None = None,
        transport: Transport | None = None,
        security: Security | None = None,
        config: Mapping[str, Any] | None = None,
        wire: str | WireProfile = "kafkarpc",
        events: EventCatalog | None = None,
        **legacy: Unpack[LegacyClientOptions],
    ) -> None:
        setup = Setup.settle(
            "RpcClient",
            (legacy, LegacyClientOptions),
            (bootstrap, transport, security, config),
            (service, limits, topics, telemetry),
        )
        self._transport = setup.transport
        self.service = setup.service
        limits, topics, telemetry = setup.limits, setup.topics, setup.telemetry
        self._timeout = check_timeout(timeout)
        self._retry = retry or NO_CALL_RETRY
        self._limits = limits
        self._topics = topics
        profile = None
        if wire != "kafkarpc":
            # Imported here: kafkarpc's own wire (the default) never loads the profiles.
            from ..wire.profiles import resolve

            profile = resolve(wire)
            _check_reply_partition(profile, topics)
        self._writer = RecordWriter(
            self.service,
            topics.version,
            ReplyPartitions(topics.reply_partition),
            telemetry.payload_preview,
            profile,
        )
        self._telemetry = ClientTelemetry(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        self._circuits = Circuits(circuit_breaker, self._telemetry.circuit_changed)
        self._pending = PendingCalls()
        self._trios: TrioNames | ProfileRoutes = TrioNames(topics.version, topics.naming)
        if profile is not None:
            from .foreign import ProfileRoutes

            self._trios = ProfileRoutes(profile)
        self._events = events
        self._state = ClientState.NEW
        # Set by start(), from the running loop:
        self._library = "asyncio"
        self._clock: Callable[[], float] = time.monotonic
        self._send: Send | None = None

    @overload
    async def request(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        response_model: None = None,
        **options: Unpack[CallOptions],
    ) -> dict[str, Any]: ...

    @overload
    async def request(
        self,
        op: str | TopicTrio,
        payload: Mapping[str, Any] | BaseModel,
        *,
        response_model: type[ModelT],
        **options: Unpack[CallOptions],
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
        cause: Cause | Unset | None = UNSET,
    ) -> dict[str, Any] | ModelT:
        """Send ``payload`` to ``op`` and return the reply payload.

        Returns a dict, or a ``response_model`` instance. Raises ``RemoteError``
        for a failure reply, ``RequestTimeout`` when no reply arrives within
        ``timeout`` seconds (the request's deadline), ``PublishError`` when the
        broker did not take the request, ``CircuitOpenError`` while the
        operation's circuit is open. The pending entry is removed in every case.

        Made while a handler runs, the call continues that request's chain
        (``cause``; docs/events.md, "Causation"): pass ``cause=None`` to start a
        new one, or a ``RequestContext.cause`` to name the request explicitly.
        """
        self._check_open()
        call = new_call(
            self._trios.of(op),
            payload,
            timeout=self._timeout if timeout is UNSET else check_timeout(timeout),
            policy=self._retry if retry is UNSET else (retry or NO_CALL_RETRY),
            clock=self._clock,
            partition_key=partition_key,
            headers=headers,
            idempotency_key=idempotency_key,
            priority=priority,
            cause=current_cause() if cause is UNSET else cause,
        )
        assert self._send is not None
        token = adopt_current_library(self._library)
        try:
            result = await self._send(call)
        finally:
            forget_library(token)
        if response_model is None:
            return result
        return as_model(result, response_model, call)

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
        cause: Cause | Unset | None = UNSET,
    ) -> str:
        """Publish one event (no reply expected); returns its ``event_id`` once stored.

        Made while a handler runs, the event carries that request's chain, as
        ``request`` does (``cause``), and gives up by its deadline.
        """
        self._check_open()
        topic = name_topic(self._topics.naming, validate_topic_name(topic))
        body = encode_payload(payload)
        if cause is UNSET:
            cause = current_cause()
        budget = self._timeout if timeout is UNSET else check_timeout(timeout)
        budget = within_cause(budget, cause, topic)
        message, record = self._writer.event(
            topic,
            body,
            event_type=event_type,
            key=key,
            correlation_id=correlation_id,
            headers=headers,
            cause=cause,
        )
        await send_event(self._transport, record, message.correlation_id, budget)
        return message.event_id

    async def emit(
        self,
        event: str | EventRegistration,
        payload: Mapping[str, Any] | BaseModel,
        **options: Unpack[EmitOptions],
    ) -> EmitResult:
        """Publish ``event`` to every target the ``events`` catalog gives it (or an
        ``EventRegistration``'s targets), each copy transformed and keyed as declared.

        ``ConfigurationError`` for an event type not in the catalog, ``PayloadError``
        for a payload without a required field, both before anything is sent. Each
        copy is tried ``retry``'s attempts within ``timeout``; one the broker does not
        take is parked in ``{topic}.dlq``. It does not raise for a failed target: the
        ``EmitResult`` says, per target, whether it was stored (docs/events.md).
        """
        from ..events.emit import Emitter, emit_event

        self._check_open()
        emitter = Emitter(
            self._writer,
            self._transport,
            self._events,
            self._topics.naming,
            self._retry,
            self._timeout,
        )
        return await emit_event(emitter, event, payload, **options)


def _check_reply_partition(profile: WireProfile | None, topics: Topics) -> None:
    """A payload-correlated service picks the result partition itself (by its key), so
    a client reading one partition would miss the replies written to the others."""
    from ..wire.profiles import PayloadCorrelated

    if topics.reply_partition is not None and isinstance(profile, PayloadCorrelated):
        raise ConfigurationError(
            f"reply_partition={topics.reply_partition!r} cannot be used with a "
            "payload-correlated service: it writes results to the partition of its own "
            "choosing, so the client must read every partition (leave reply_partition=None)"
        )
