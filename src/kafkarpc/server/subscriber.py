"""Event subscribers: handlers of events nobody waits on, and how an event is read.

A subscriber runs on the same path as a responder (``pipeline.py``): the same
intake, execution (validation, ``HandlerRetry``, idempotency key), ``decide``
and ``delivery``. It differs in three things, all decided here or in
``decide.py``: what it returns is ignored, a failure of any kind parks the event
in ``{topic}.dlq`` (there is no caller to tell), and an event need not carry the
kafkarpc envelope (``decode_event``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar

import pydantic_core

from .._config import HandlerRetry
from .._exceptions import ConfigurationError, EnvelopeError, InvalidTopicName
from .._retry import RetryPolicy
from .._sentinel import UNSET, Unset
from ..transport import InboundRecord
from ..wire.envelope import Envelope, decode_envelope
from ..wire.topics import dlq_topic, event_type_for_topic, validate_topic_name
from .handler import Handler

__all__ = [
    "FOREIGN_SERVICE",
    "HandlerTable",
    "Subscriber",
    "SubscriberRegistry",
    "decode_event",
    "is_pattern",
]

#: The ``service`` (``RequestContext.caller``) of an event that came without an envelope.
FOREIGN_SERVICE = "unknown"

# librdkafka's convention: a subscription starting with "^" is a regular expression.
_PATTERN_PREFIX = "^"
_DLQ_SUFFIX = ".dlq"


def is_pattern(topic: str) -> bool:
    """Whether a subscription names topics by regular expression (it starts with ``^``)."""
    return topic.startswith(_PATTERN_PREFIX)


def _check_subscription(topic: str) -> Callable[[str], bool]:
    """Raise InvalidTopicName for a bad topic or pattern; else the test of a topic name."""
    if not isinstance(topic, str) or not is_pattern(topic):
        validate_topic_name(topic)
        return topic.__eq__
    try:
        compiled = re.compile(topic)
    except re.error as exc:
        raise InvalidTopicName(f"topic pattern {topic!r} is not a valid regex: {exc}") from exc
    return lambda name: compiled.search(name) is not None


@dataclass(frozen=True, slots=True)
class Subscriber(Handler):
    """The handler of the events on ``topic``, or on every topic a pattern (``^...``) matches.

    Its payload parameter is validated like a responder's; what it returns is
    ignored. An event whose payload does not validate, or whose handler still
    raises after its retries, is copied to ``{topic}.dlq``; either way its offset
    is committed once that copy is stored, as a request's is after its reply.
    """

    replies: ClassVar[bool] = False

    topic: str
    matches: Callable[[str], bool]

    @classmethod
    def build(
        cls,
        topic: str,
        func: Callable[..., Any],
        retry: HandlerRetry | RetryPolicy | Unset | None,
    ) -> Subscriber:
        matches = _check_subscription(topic)
        return cls(topic=topic, matches=matches, **Handler.fields_of(func, retry))

    @property
    def is_pattern(self) -> bool:
        return is_pattern(self.topic)

    def render(self, result: Any) -> dict[str, Any]:
        """Nothing: no reply is sent for an event, so what the handler returns is dropped."""
        return {}


def decode_event(record: InboundRecord) -> Envelope:
    """An event's envelope; an event that is a plain JSON object gets one made up.

    Producers other than kafkarpc publish bare JSON. Such an object becomes the
    payload whole, under an envelope whose ids are the record's position
    (``topic/partition/offset``, the same on every redelivery), whose sender is
    ``FOREIGN_SERVICE`` and whose time is the record's. Anything else (not JSON,
    a JSON array or scalar, a tombstone) raises EnvelopeError: it is poison.
    """
    try:
        return decode_envelope(record.value)
    except EnvelopeError as not_an_envelope:
        if record.value is None:
            raise
        try:
            payload = pydantic_core.from_json(record.value)
        except ValueError:
            raise EnvelopeError(
                "event is neither a kafkarpc envelope nor JSON"
            ) from not_an_envelope
        if not isinstance(payload, dict):
            raise EnvelopeError(
                f"event is JSON but a {type(payload).__name__}, not an object or an envelope"
            ) from not_an_envelope
    position = f"{record.topic}/{record.partition}/{record.offset}"
    sent = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
    # Built without validation: every field is ours, and the payload is the event as it is.
    return Envelope.model_construct(
        event_id=position,
        event_type=event_type_for_topic(record.topic),
        correlation_id=position,
        causation_id=None,
        timestamp=sent.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        service=FOREIGN_SERVICE,
        payload=payload,
        version="v1",
        metadata=None,
    )


class SubscriberRegistry:
    """Subscribers keyed by topic or pattern, in registration order."""

    __slots__ = ("_by_topic",)

    def __init__(self) -> None:
        self._by_topic: dict[str, Subscriber] = {}

    def add(
        self,
        topic: str,
        func: Callable[..., Any],
        retry: HandlerRetry | RetryPolicy | Unset | None = UNSET,
    ) -> None:
        if topic in self._by_topic:
            raise ConfigurationError(f"{topic} already has a subscriber")
        self._by_topic[topic] = Subscriber.build(topic, func, retry)

    def __len__(self) -> int:
        return len(self._by_topic)

    @property
    def view(self) -> Mapping[str, Subscriber]:
        """A read-only view, keyed by topic or pattern (the public ``RpcServer.subscribers``)."""
        return MappingProxyType(self._by_topic)

    @property
    def subscriptions(self) -> list[str]:
        """What the group consumer subscribes to: topics and patterns."""
        return list(self._by_topic)

    @property
    def topics(self) -> list[str]:
        """The topics named exactly (patterns left out)."""
        return [topic for topic in self._by_topic if not is_pattern(topic)]

    def topics_to_create(self) -> list[str]:
        """The exact topics and their dead-letter topics.

        A pattern's topics are not known in advance; their ``.dlq`` topics must
        exist or be created by the broker on first use (docs/server.md).
        """
        return [*self.topics, *(dlq_topic(topic) for topic in self.topics)]


class HandlerTable:
    """Which handler serves a record's topic: a responder or a subscriber of that exact
    topic first, then the first pattern (in registration order) that matches it.

    Patterns never match a dead-letter topic (``*.dlq``): ``^orders\\..*`` also
    matches ``orders.created.dlq``, whose records are parked events, not new ones.
    A topic's answer is remembered, so each topic is matched once.
    """

    __slots__ = ("_found", "_patterns")

    def __init__(self, responders: Mapping[str, Handler], subscribers: Iterable[Subscriber]):
        found: dict[str, Handler | None] = dict(responders)
        patterns = []
        for subscriber in subscribers:
            if subscriber.is_pattern:
                patterns.append(subscriber)
            elif subscriber.topic in found:
                raise ConfigurationError(
                    f"{subscriber.topic} has both a responder and a subscriber; "
                    "one topic is served by one handler"
                )
            else:
                found[subscriber.topic] = subscriber
        self._found = found
        self._patterns = tuple(patterns)

    def find(self, topic: str) -> Handler | None:
        """The handler of records on ``topic``, or None when nothing here serves it."""
        try:
            return self._found[topic]
        except KeyError:
            handler = self._found[topic] = self._match(topic)
            return handler

    def _match(self, topic: str) -> Subscriber | None:
        if topic.endswith(_DLQ_SUFFIX):
            return None
        return next((s for s in self._patterns if s.matches(topic)), None)
