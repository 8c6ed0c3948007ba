"""Publishing one event's copies: each to its target, retried, the DLQ for what fails.

Copies are published side by side; one target failing (after its retries) does not
hold back or drop the others. A copy the broker would not take is parked in its
topic's dead-letter topic (``{topic}.dlq``, reason ``publish_failed``), and the
result says, per target, what happened.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import anyio
from pydantic import BaseModel

from .._causation import Cause, current_cause
from .._config import NO_CALL_RETRY, CallRetry
from .._exceptions import ConfigurationError, PublishError
from .._ids import new_uuid
from .._sentinel import UNSET, Unset
from ..client.records import RecordWriter, park_unsent, send_event
from ..client.validate import check_timeout, within_cause
from ..transport import OutboundRecord, Transport
from ..wire.envelope import encode_payload
from ..wire.topics import TopicNaming
from .catalog import EventCatalog, EventRegistration, PlannedCopy

__all__ = [
    "EmitOptions",
    "EmitResult",
    "Emitter",
    "Stamp",
    "TargetResult",
    "emit_event",
    "publish_copies",
]


@dataclass(frozen=True, slots=True)
class TargetResult:
    """What happened to one target's copy of an event."""

    topic: str
    stored: bool
    """The broker took the copy on ``topic``."""
    event_id: str
    """The copy's own ``event_id`` (every copy has one; all share a correlation id)."""
    attempts: int
    error: str | None = None
    """Why the copy was not stored, when it was not."""
    dead_letter_topic: str | None = None
    """Where the copy was parked instead, when it could be."""


@dataclass(frozen=True, slots=True)
class EmitResult:
    """One emitted event: its type, correlation id, and each target's outcome."""

    event_type: str
    correlation_id: str
    targets: tuple[TargetResult, ...]

    @property
    def ok(self) -> bool:
        """Every target stored its copy."""
        return all(target.stored for target in self.targets)

    @property
    def failed(self) -> tuple[TargetResult, ...]:
        """The targets whose copy was not stored (parked in a DLQ, or reported here)."""
        return tuple(target for target in self.targets if not target.stored)

    def __getitem__(self, topic: str) -> TargetResult:
        for target in self.targets:
            if target.topic == topic:
                return target
        raise KeyError(topic)


@dataclass(frozen=True, slots=True)
class Stamp:
    """What a caller sets on every copy of one event beyond the catalog's rules."""

    key: str | None = None
    """The record key of every copy, instead of the registration's key field."""
    causation_id: str | None = None
    """The event that caused this one, instead of the handled request's."""
    metadata: Mapping[str, Any] | None = None
    """The envelope's ``metadata``."""


class EmitOptions(TypedDict, total=False):
    """``RpcClient.emit``'s keywords."""

    key: str | None
    """The record key of every copy, instead of the registration's key field."""
    correlation_id: str | None
    """Shared by every copy; a new one by default."""
    causation_id: str | None
    """The event that caused this one, instead of the handled request's."""
    metadata: Mapping[str, Any] | None
    """The envelope's ``metadata``."""
    timeout: float | Unset
    """Seconds each copy may take over all its attempts (default: the client's)."""
    retry: CallRetry | Unset | None
    """Attempts per copy (default: the client's ``retry``; None for one)."""
    cause: Cause | Unset | None
    """As for ``request``: the handled request by default, None for no cause."""


@dataclass(frozen=True, slots=True)
class Emitter:
    """What a client lends ``emit_event``: how it writes records and where they go."""

    writer: RecordWriter
    transport: Transport
    catalog: EventCatalog | None
    naming: TopicNaming | None
    retry: CallRetry
    timeout: float


async def emit_event(
    emitter: Emitter,
    event: str | EventRegistration,
    payload: Mapping[str, Any] | BaseModel,
    **options: Unpack[EmitOptions],
) -> EmitResult:
    """``RpcClient.emit``: plan the copies of ``event`` (checked once), publish them."""
    if isinstance(event, str):
        if emitter.catalog is None:
            raise ConfigurationError("emit() needs an event catalog: RpcClient(..., events=...)")
        catalog, event_type = emitter.catalog, event
    else:
        catalog, event_type = EventCatalog([event]), event.event_type
    copies = catalog.plan(event_type, payload, naming=emitter.naming)
    cause = options.get("cause", UNSET)
    if cause is UNSET:
        cause = current_cause()
    given_timeout = options.get("timeout", UNSET)
    budget = emitter.timeout if given_timeout is UNSET else check_timeout(given_timeout)
    retry = options.get("retry", UNSET)
    return await publish_copies(
        emitter.writer,
        emitter.transport,
        copies,
        event_type=event_type,
        correlation_id=options.get("correlation_id") or new_uuid(),
        retry=emitter.retry if retry is UNSET else (retry or NO_CALL_RETRY),
        budget=within_cause(budget, cause, event_type),
        cause=cause,
        stamp=Stamp(options.get("key"), options.get("causation_id"), options.get("metadata")),
    )


@dataclass(frozen=True, slots=True)
class _Copy:
    """One planned copy made into its record."""

    record: OutboundRecord
    event_id: str


async def publish_copies(
    writer: RecordWriter,
    transport: Transport,
    copies: list[PlannedCopy],
    *,
    event_type: str,
    correlation_id: str,
    retry: CallRetry,
    budget: float,
    cause: Cause | None,
    stamp: Stamp | None = None,
) -> EmitResult:
    """Publish every copy, each within ``budget`` seconds over all its attempts."""
    stamp = stamp or Stamp()
    made = []
    for planned in copies:
        message, record = writer.event(
            planned.topic,
            encode_payload(planned.payload),
            event_type=event_type,
            key=stamp.key or planned.key,
            correlation_id=correlation_id,
            headers=None,
            cause=cause,
            causation_id=stamp.causation_id,
            metadata=stamp.metadata,
        )
        made.append(_Copy(record, message.event_id))
    results: list[TargetResult | None] = [None] * len(made)

    async def publish(index: int, item: _Copy) -> None:
        results[index] = await _publish_one(transport, item, correlation_id, retry, budget)

    async with anyio.create_task_group() as tasks:
        for index, item in enumerate(made):
            tasks.start_soon(publish, index, item)
    done = tuple(result for result in results if result is not None)
    return EmitResult(event_type, correlation_id, done)


async def _publish_one(
    transport: Transport, item: _Copy, correlation_id: str, retry: CallRetry, budget: float
) -> TargetResult:
    record = item.record
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        attempt += 1
        try:
            await send_event(transport, record, correlation_id, max(deadline - time.monotonic(), 0))
        except PublishError as exc:
            pause = retry.backoff(attempt)
            if attempt < retry.max_attempts and time.monotonic() + pause < deadline:
                await anyio.sleep(pause)
                continue
            parked = await park_unsent(transport, record, exc, retry_count=attempt - 1)
            return TargetResult(record.topic, False, item.event_id, attempt, str(exc), parked)
        return TargetResult(record.topic, True, item.event_id, attempt)
