"""An application's event catalog: each event type, where it goes and in what shape.

Declared in code by the application that owns the events (ADR-001: infrastructure
publishes; it does not know the application's events). One event type may fan out
to several targets, each a topic plus an optional transform of the payload.
``EventCatalog.plan`` is pure: it checks a payload once and returns the copies to
publish; ``RpcClient.emit`` publishes them (``events/emit.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from .._exceptions import ConfigurationError, PayloadError
from ..wire.envelope import validate_event_type
from ..wire.topics import TopicNaming, name_topic, validate_topic_name
from .naming import OnexTopic, is_onex_topic

__all__ = ["EventCatalog", "EventRegistration", "EventTarget", "PlannedCopy", "Transform"]

#: A plain function of the payload giving the payload a target receives.
Transform = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class EventTarget:
    """One topic an event goes to, and what it gets there (the whole payload, or
    ``transform(payload)``). A topic starting with ``onex.`` must follow the ONEX
    naming ``onex.{cmd|evt}.{owner}.{event}.v{n}``."""

    topic: str
    transform: Transform | None = None
    description: str = ""

    def __post_init__(self) -> None:
        validate_topic_name(self.topic)
        if is_onex_topic(self.topic):
            OnexTopic.parse(self.topic)
        if self.transform is not None and not callable(self.transform):
            raise ConfigurationError(f"transform of {self.topic} must be callable")


@dataclass(frozen=True, slots=True)
class EventRegistration:
    """An event type: its targets, the payload field its records are keyed by (so
    one session's events stay in order) and the fields every payload must have."""

    event_type: str
    targets: tuple[EventTarget, ...]
    partition_key: str | None = None
    required: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_event_type(self.event_type)
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "required", tuple(self.required))
        if not self.targets:
            raise ConfigurationError(f"event {self.event_type} needs at least one target")
        topics = [target.topic for target in self.targets]
        if len(set(topics)) != len(topics):
            raise ConfigurationError(f"event {self.event_type} names a topic twice: {topics}")


@dataclass(frozen=True, slots=True)
class PlannedCopy:
    """One copy of an event, ready to publish: its topic, payload and record key."""

    topic: str
    payload: dict[str, Any]
    key: str | None


@dataclass(frozen=True, slots=True)
class EventCatalog:
    """Every event type an application emits (``RpcClient(..., events=catalog)``).

    >>> catalog = EventCatalog([
    ...     EventRegistration(
    ...         "session.outcome",
    ...         (EventTarget("onex.cmd.omniintelligence.session-outcome.v1"),
    ...          EventTarget("onex.evt.omniclaude.session-outcome.v1")),
    ...         partition_key="session_id",
    ...         required=("session_id", "outcome"),
    ...     ),
    ... ])
    >>> [c.topic for c in catalog.plan("session.outcome", {"session_id": "s", "outcome": "ok"})]
    ['onex.cmd.omniintelligence.session-outcome.v1', 'onex.evt.omniclaude.session-outcome.v1']
    """

    registrations: Iterable[EventRegistration]
    _by_type: dict[str, EventRegistration] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        registrations = tuple(self.registrations)
        object.__setattr__(self, "registrations", registrations)
        by_type: dict[str, EventRegistration] = {}
        for registration in registrations:
            if registration.event_type in by_type:
                raise ConfigurationError(f"event {registration.event_type} is registered twice")
            by_type[registration.event_type] = registration
        object.__setattr__(self, "_by_type", by_type)

    def __getitem__(self, event_type: str) -> EventRegistration:
        registration = self._by_type.get(event_type)
        if registration is None:
            raise ConfigurationError(
                f"event type {event_type!r} is not in the catalog; known: {sorted(self._by_type)}"
            )
        return registration

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._by_type

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_type)

    def __len__(self) -> int:
        return len(self._by_type)

    @property
    def topics(self) -> tuple[str, ...]:
        """Every target topic, once each, in declaration order (e.g. to create them)."""
        seen = dict.fromkeys(t.topic for r in self._by_type.values() for t in r.targets)
        return tuple(seen)

    def plan(
        self,
        event_type: str,
        payload: Mapping[str, Any] | BaseModel,
        *,
        naming: TopicNaming | None = None,
    ) -> list[PlannedCopy]:
        """The copies of one event: the payload checked once, each target's transform
        applied to its own copy of it, each topic passed through ``naming``. Raises
        ConfigurationError for an unknown event type and PayloadError for a payload
        without a required field or whose transform fails."""
        registration = self[event_type]
        data = _as_dict(payload)
        missing = [name for name in registration.required if name not in data]
        if missing:
            raise PayloadError(f"event {event_type} is missing required fields {missing}")
        key = _key(registration, data)
        copies = []
        for target in registration.targets:
            body = copy.deepcopy(data)  # a transform may change what it gets
            if target.transform is not None:
                try:
                    body = dict(target.transform(body))
                except Exception as exc:
                    raise PayloadError(
                        f"the transform for {target.topic} failed on event {event_type}: {exc!r}"
                    ) from exc
            copies.append(PlannedCopy(name_topic(naming, target.topic), body, key))
        return copies


def _as_dict(payload: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json", by_alias=True)
    if isinstance(payload, Mapping):
        return dict(payload)
    raise PayloadError(f"an event payload must be a dict or a pydantic model, got {payload!r}")


def _key(registration: EventRegistration, data: Mapping[str, Any]) -> str | None:
    """The record key: the partition-key field's value, from the payload as emitted
    (before any transform, so every copy of one event is keyed alike)."""
    name = registration.partition_key
    if name is None or data.get(name) is None:
        return None
    return str(data[name])
