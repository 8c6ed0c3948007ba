"""``EventPublisher``: the reference ``ProtocolEventPublisher`` on ``RpcClient.emit``.

Each ``publish`` is a one-target emit: the payload checked and encoded once, the
copy retried ``max_retries`` times, parked in ``{topic}.dlq`` when the broker still
does not take it; a circuit breaker (kafkarpc's) stops publishing after
consecutive failures, and the counters answer ``get_metrics()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import BaseModel

from .._config import CallRetry, CircuitBreaker
from .._exceptions import ConfigurationError
from ..client.circuit import CircuitTracker
from ..client.facade import RpcClient
from ..events import EventRegistration, EventTarget

__all__ = ["EventPublisher", "PublisherOptions", "create_event_publisher"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PublisherOptions:
    """How hard an ``EventPublisher`` tries: attempts per event (the reference's
    ``max_retries``), the seconds they may take, and when publishing stops."""

    max_retries: int = 3
    timeout: float = 5.0
    circuit_breaker: CircuitBreaker = field(default_factory=CircuitBreaker)

    def __post_init__(self) -> None:
        if self.max_retries < 1:
            raise ConfigurationError(f"max_retries must be >= 1, got {self.max_retries}")
        if not self.timeout > 0:
            raise ConfigurationError(f"timeout must be > 0, got {self.timeout}")


class EventPublisher:
    """``publish(event_type, payload, correlation_id, causation_id, metadata, topic,
    partition_key) -> bool``, ``get_metrics()`` and ``close()``.

    Built on a client: the caller's (started and closed by them), or, from
    ``create_event_publisher``, one of its own, started by the first ``publish`` and
    closed by ``close()``. ``publish`` returns False when the event was not stored
    (it is then in ``{topic}.dlq`` if that could be written), raises
    ``CircuitOpenError`` (a ``RuntimeError``, as the reference says) while the
    circuit is open, and ``ConfigurationError``/``PayloadError`` for bad input.
    """

    def __init__(
        self,
        client: RpcClient,
        *,
        options: PublisherOptions | None = None,
        owns_client: bool = False,
    ) -> None:
        """``owns_client``: the client is not started yet; the first ``publish`` starts
        it and ``close()`` closes it."""
        self._client = client
        self._owns_client = owns_client
        self._options = options or PublisherOptions()
        self._retry = CallRetry(max_attempts=self._options.max_retries)
        self._circuit = CircuitTracker(self._options.circuit_breaker, f"{client.service} events")
        self._registrations: dict[tuple[str, str], EventRegistration] = {}
        self._start_lock: anyio.Lock | None = None
        self._started = False
        self._metrics = {"events_published": 0, "events_failed": 0, "events_sent_to_dlq": 0}

    async def _ready(self) -> RpcClient:
        if self._owns_client and not self._started:
            if self._start_lock is None:
                self._start_lock = anyio.Lock()
            async with self._start_lock:
                if not self._started:
                    await self._client.start()
                    self._started = True
        return self._client

    def _registration(self, event_type: str, topic: str) -> EventRegistration:
        registration = self._registrations.get((event_type, topic))
        if registration is None:
            registration = EventRegistration(event_type, (EventTarget(topic),))
            self._registrations[(event_type, topic)] = registration
        return registration

    async def publish(
        self,
        event_type: str,
        payload: Any,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        topic: str | None = None,
        partition_key: str | None = None,
    ) -> bool:
        """Publish one event to ``topic`` (default: the event type as a topic name)."""
        body: Mapping[str, Any] | BaseModel = payload
        registration = self._registration(event_type, topic or event_type)
        self._circuit.before_call()
        client = await self._ready()
        try:
            result = await client.emit(
                registration,
                body,
                key=partition_key,
                correlation_id=correlation_id,
                causation_id=causation_id,
                metadata=metadata,
                timeout=self._options.timeout,
                retry=self._retry,
            )
        except BaseException:
            self._circuit.on_abandoned()
            raise
        (target,) = result.targets
        if target.stored:
            self._metrics["events_published"] += 1
            self._circuit.on_success()
            return True
        self._metrics["events_failed"] += 1
        if target.dead_letter_topic is not None:
            self._metrics["events_sent_to_dlq"] += 1
        self._circuit.on_failure()
        return False

    async def get_metrics(self) -> dict[str, Any]:
        """``events_published``, ``events_failed``, ``events_sent_to_dlq`` and
        ``circuit_state`` (``closed``, ``open`` or ``half_open``)."""
        return {**self._metrics, "circuit_state": self._circuit.state.value}

    async def close(self) -> None:
        """Close the client this publisher made (a caller's client is left open)."""
        if self._owns_client:
            await self._client.aclose()


def create_event_publisher(
    bootstrap_servers: str,
    service_name: str,
    instance_id: str | None = None,
    *,
    options: PublisherOptions | None = None,
    **client_options: Any,
) -> EventPublisher:
    """An ``EventPublisher`` with a client of its own (``RpcClient(bootstrap_servers,
    service=service_name, **client_options)``), connected by the first ``publish``.
    ``instance_id``, when given, names this instance in every envelope's ``service``
    (``{service_name}/{instance_id}``)."""
    service = service_name if not instance_id else f"{service_name}/{instance_id}"
    publisher = EventPublisher(
        RpcClient(bootstrap_servers, service=service, **client_options), options=options
    )
    publisher._owns_client = True
    return publisher
