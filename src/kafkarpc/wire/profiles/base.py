"""What a wire profile is: the public interface, the values it reads and writes, and helpers.

A profile decides how one request and its reply look on a foreign wire: the
topics of an operation, where the reply goes, how the correlation id and the
reply route are carried, and how a success and a failure are encoded. Every
method is pure (bytes in, values out); the client and the server do the I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pydantic_core

from ..._exceptions import EnvelopeError, InvalidTopicName, PayloadNotSerializable
from ...transport import InboundRecord, OutboundRecord
from ..topics import TopicTrio, validate_topic_name

__all__ = [
    "IncomingRequest",
    "OutgoingRequest",
    "ProfileTrio",
    "ReplyContent",
    "StreamingWireProfile",
    "WireProfile",
    "WireRoute",
    "correlation_text",
    "encode_json",
    "header_value",
    "json_object",
    "json_value",
]


@dataclass(frozen=True, slots=True)
class WireRoute:
    """The topics of one operation under a profile: where requests go, where replies come back."""

    operation: str
    request_topic: str
    reply_topic: str

    def __post_init__(self) -> None:
        validate_topic_name(self.request_topic)
        validate_topic_name(self.reply_topic)
        if self.request_topic == self.reply_topic:
            raise InvalidTopicName(
                f"the request and reply topics must differ, both are {self.request_topic!r}"
            )


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """One request attempt a caller sends: what ``WireProfile.encode_request`` writes."""

    route: WireRoute
    correlation_id: str
    """A UUID in its canonical text form; the reply must carry it back."""
    payload: dict[str, Any]
    key: bytes | None
    reply_partition: int | None
    """The one partition of the reply topic the caller reads, or None for all of them."""
    headers: Sequence[tuple[str, bytes]] = ()
    """kafkarpc's own headers (trace context, deadline, idempotency key) and the caller's;
    a profile adds them after its own, and a peer that does not know them ignores them."""


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """A request a responder took, as ``WireProfile.decode_request`` read it."""

    correlation_id: str
    """The correlation id as text (for logs, tracing and idempotency)."""
    payload: Any
    """The request's data, as the handler's parameter type then validates it: usually a
    JSON object, but a NestJS or Spring caller may send any JSON value."""
    reply_topic: str
    reply_partition: int | None
    record: InboundRecord = field(repr=False)
    """The record itself: a reply echoes what it needs (a raw correlation header, the key)."""


@dataclass(frozen=True, slots=True)
class ReplyContent:
    """A reply's meaning: a success and its value, or a failure and its failure payload.

    ``payload`` of a failure has the fields of ``kafkarpc.ErrorPayload``
    (``error_code``, ``error_message``, ``error_type``, ``retryable``, ``details``).
    """

    ok: bool
    payload: Any


@runtime_checkable
class WireProfile(Protocol):
    """How requests and replies look on one wire (``RpcClient(wire=...)``, ``RpcServer(wire=...)``).

    Built in: ``"kafkarpc"`` (the default envelope), ``NestJsProfile`` (``"nestjs"``),
    ``SpringProfile`` (``"spring"``) and ``PayloadCorrelated``. Write your own for
    another convention: every method is a pure function of its arguments. Reading
    methods raise ``EnvelopeError`` for a record they cannot read; the responder
    parks such a request in its DLQ, the caller drops such a reply and counts it.
    """

    @property
    def name(self) -> str:
        """The profile's name in logs and errors (``"nestjs"``, ...)."""
        ...

    def route(self, operation: str) -> WireRoute:
        """The request and reply topics of ``operation``."""
        ...

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        """The record a caller sends for ``request``."""
        ...

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        """The correlation id a reply carries, as the caller sent it; None if it has none."""
        ...

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        """What a reply means for the caller."""
        ...

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        """A request a responder took; EnvelopeError when unreadable or without a reply route."""
        ...

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        """The record that answers ``request``."""
        ...


@runtime_checkable
class StreamingWireProfile(WireProfile, Protocol):
    """A ``WireProfile`` whose wire answers one request with several replies.

    NestJS does (a handler returning an Observable sends a reply per item and marks
    the last). Under such a profile a streaming responder (an async generator) sends
    each item as a reply, the last one marked; ``RpcClient.stream`` takes every
    reply until the marked one. Under a profile without these two methods a
    streaming responder answers with one reply and ``stream`` yields one item.
    """

    def encode_reply_item(self, request: IncomingRequest, payload: Any) -> OutboundRecord:
        """A success reply to ``request`` carrying one item, not the last."""
        ...

    def ends_call(self, record: InboundRecord) -> bool:
        """Whether a reply is the last one its call gets."""
        ...


@dataclass(frozen=True, slots=True)
class ProfileTrio(TopicTrio):
    """An operation's topics under a profile, in the shape the client and server pipelines use.

    Success and failure share the one reply topic (``completed`` = ``failed``).
    """

    operation: str = ""

    def __post_init__(self) -> None:
        # Not TopicTrio's checks: a foreign wire has one reply topic, not two.
        validate_topic_name(self.requested)
        validate_topic_name(self.completed)
        if not self.event_prefix:
            object.__setattr__(self, "event_prefix", "RPC")

    @classmethod
    def of(cls, route: WireRoute) -> ProfileTrio:
        return cls(
            requested=route.request_topic,
            completed=route.reply_topic,
            failed=route.reply_topic,
            operation=route.operation,
        )

    @property
    def reply_topics(self) -> tuple[str, ...]:
        return (self.completed,)

    @property
    def route(self) -> WireRoute:
        return WireRoute(self.operation, self.requested, self.completed)


def header_value(headers: Sequence[tuple[str, bytes | None]], name: str) -> bytes | None:
    """The last value of header ``name`` (Kafka allows repeats; the last one wins)."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


def correlation_text(raw: bytes) -> str | None:
    """A correlation id as text, read leniently: 16 raw bytes are a UUID, else UTF-8 text."""
    if len(raw) == 16:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return str(uuid.UUID(bytes=raw))
        if not text.isprintable():
            return str(uuid.UUID(bytes=raw))
        return text
    try:
        return raw.decode() or None
    except UnicodeDecodeError:
        return None


def json_value(record: InboundRecord, what: str) -> Any:
    """A record's value as JSON, or EnvelopeError naming ``what`` it should have been."""
    if record.value is None:
        raise EnvelopeError(f"{what} on {record.topic} has no value")
    try:
        return json.loads(record.value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError(f"{what} on {record.topic} is not JSON: {exc}") from exc


def json_object(record: InboundRecord, what: str) -> dict[str, Any]:
    """A record's value as a JSON object, or EnvelopeError."""
    value = json_value(record, what)
    if not isinstance(value, dict):
        raise EnvelopeError(
            f"{what} on {record.topic} is JSON {type(value).__name__}, not an object"
        )
    return value


def encode_json(value: Any) -> bytes:
    """``value`` as compact JSON (as ``JSON.stringify`` writes it), or PayloadNotSerializable."""
    try:
        return pydantic_core.to_json(value)
    except (pydantic_core.PydanticSerializationError, ValueError) as exc:
        raise PayloadNotSerializable(f"the value is not JSON-serializable: {exc}") from exc
