"""The JSON envelope every message carries (docs/wire.md §2), and its codec.

This module needs no pydantic model: the client's send and reply paths build
and read envelopes as plain dicts. The ``Envelope`` model and its codec
(``decode_envelope``, ``encode_envelope``, ``make_envelope``) live in
``model.py`` and load on first use; they are importable from here as before.

A peer that only knows this JSON must be able to talk to us, so decoding is
tolerant where the contract allows (any non-empty correlation id, unknown
top-level fields kept) and strict where it matters (types, required fields).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeGuard, TypeVar

import pydantic_core
from pydantic_core import SchemaValidator, ValidationError

from .._exceptions import ConfigurationError, EnvelopeError, PayloadNotSerializable
from .._ids import new_uuid
from .codes import ErrorCode

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .failure import ErrorPayload
    from .model import Envelope, decode_envelope, encode_envelope, make_envelope

T = TypeVar("T")

__all__ = [
    "Envelope",
    "ErrorCode",
    "ErrorPayload",
    "decode_envelope",
    "decode_fields",
    "EnvelopeFields",
    "encode_envelope",
    "EncodedPayload",
    "OutgoingMessage",
    "EVENT_TYPE",
    "UPPER_SNAKE",
    "encode_payload",
    "make_envelope",
    "new_message",
    "now_iso",
    "validate_event_type",
]

#: An event type (and an event-type prefix) in UPPER_SNAKE_CASE (docs/wire.md §2).
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
#: Any event type a message may carry: UPPER_SNAKE (kafkarpc's own, e.g.
#: ``AGENT_ROUTING_REQUESTED``) or dotted lower-case segments (the ONEX documents',
#: e.g. ``omninode.codegen.request.validate.v1``; segments may hold ``_`` and ``-``).
#: One regular expression either way: decoding checks it on every message.
EVENT_TYPE = re.compile(
    r"^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*|[a-z][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)+)$"
)


#: Envelope fields a writer leaves out when unset.
OPTIONAL_FIELDS = ("causation_id", "metadata")

# Names served from the modules that hold pydantic models, loaded when first named.
_LAZY = {
    "Envelope": ".model",
    "decode_envelope": ".model",
    "encode_envelope": ".model",
    "make_envelope": ".model",
    "ErrorPayload": ".failure",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def validate_event_type(value: str) -> str:
    """Raise ConfigurationError unless ``value`` is an ``EVENT_TYPE`` (docs/wire.md §2)."""
    if not isinstance(value, str) or not EVENT_TYPE.fullmatch(value):
        raise ConfigurationError(
            "event_type must be UPPER_SNAKE_CASE (ORDER_PLACED) or dotted lower-case "
            f"(omninode.codegen.request.validate.v1), got {value!r}"
        )
    return value


# (epoch second, its "YYYY-MM-DDTHH:MM:SS" text): every message carries a timestamp,
# and formatting a datetime costs more than the rest of the envelope's fields.
_second_text: tuple[int, str] = (-1, "")
# Looked up, not formatted: a format spec per message costs more than the lookup.
_MILLIS_TEXT = [f".{millis:03d}Z" for millis in range(1000)]


def now_iso() -> str:
    """The current UTC time in ISO 8601 with milliseconds, e.g. ``2026-11-22T06:30:00.123Z``."""
    global _second_text
    second, millis = divmod(time.time_ns() // 1_000_000, 1000)
    cached_second, text = _second_text  # one tuple: consistent even across threads
    if cached_second != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_text = (second, text)
    return text + _MILLIS_TEXT[millis]


def check_iso8601(value: str) -> str:
    """``value`` if it is an ISO 8601 timestamp, else ValueError."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"timestamp must be ISO 8601, got {value!r}") from None
    return value


class EnvelopeFields(TypedDict):
    """An envelope's known fields as ``decode_fields`` gives them."""

    event_id: NotRequired[str]
    event_type: str
    correlation_id: str
    causation_id: NotRequired[str | None]
    timestamp: NotRequired[str]
    service: str
    payload: dict[str, Any]
    version: NotRequired[str]
    metadata: NotRequired[dict[str, Any] | None]


def _fields_validator() -> Callable[[bytes | str], EnvelopeFields]:
    # The schema comes from the model, so the first decode loads it (see .model).
    from .model import fields_schema

    return SchemaValidator(fields_schema()).validate_json


@dataclass(frozen=True, slots=True)
class EncodedPayload:
    """A user payload already encoded as a JSON object: encoded once, sent on every attempt."""

    json: bytes

    def to_dict(self) -> dict[str, Any]:
        return pydantic_core.from_json(self.json)  # type: ignore[no-any-return]


def _is_model(payload: object) -> TypeGuard[BaseModel]:
    # Without pydantic's model machinery loaded, nothing can be a model instance;
    # looking it up, not importing it, keeps `import kafkarpc` free of it.
    main = sys.modules.get("pydantic.main")
    return main is not None and isinstance(payload, main.BaseModel)


def encode_payload(payload: object) -> EncodedPayload:
    """Encode a user payload (dict or pydantic model) as JSON now, or raise clearly.

    Encoding at the call site means the caller learns of an unserializable
    payload from its own call, not from the responder later.
    """
    try:
        if isinstance(payload, Mapping):
            encoded = pydantic_core.to_json(payload if isinstance(payload, dict) else dict(payload))
        elif _is_model(payload):
            encoded = payload.__pydantic_serializer__.to_json(payload, by_alias=True)
        else:
            raise PayloadNotSerializable(
                "payload must be a dict or a pydantic model (a JSON object), "
                f"got {type(payload).__name__}"
            )
    except (pydantic_core.PydanticSerializationError, ValueError) as exc:
        raise PayloadNotSerializable(f"payload is not JSON-serializable: {exc}") from exc
    return EncodedPayload(encoded)


@dataclass(slots=True)  # not frozen: a frozen init pays object.__setattr__ per field
class OutgoingMessage:
    """A freshly built envelope, already encoded: what the hot send paths need."""

    event_id: str
    event_type: str
    correlation_id: str
    timestamp: str
    service: str
    version: str
    value: bytes


def new_message(
    *,
    event_type: str,
    correlation_id: str,
    service: str,
    payload: Mapping[str, Any] | EncodedPayload,
    causation_id: str | None = None,
    version: str = "v1",
    metadata: Mapping[str, Any] | None = None,
) -> OutgoingMessage:
    """Encode a new envelope from trusted parts.

    Skips building a pydantic model: a plain dict through pydantic-core's JSON
    encoder costs a third as much, and every part was validated where it came in.
    An ``EncodedPayload`` is spliced in as it is, not encoded again.
    """
    event_id, timestamp = new_uuid(), now_iso()
    fields: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "correlation_id": correlation_id,
        "timestamp": timestamp,
        "service": service,
        "version": version,
    }
    if causation_id is not None:
        fields["causation_id"] = causation_id
    if metadata is not None:
        fields["metadata"] = dict(metadata)
    # Last, so that an already-encoded payload can take the place of its null.
    encoded = payload if isinstance(payload, EncodedPayload) else None
    fields["payload"] = None if encoded is not None else payload
    try:
        value = pydantic_core.to_json(fields)
    except pydantic_core.PydanticSerializationError as exc:
        raise PayloadNotSerializable(f"envelope is not JSON-serializable: {exc}") from exc
    if encoded is not None:
        # The fields end in "payload":null}; the encoded payload takes null's place.
        value = value[: -len(b"null}")] + encoded.json + b"}"
    return OutgoingMessage(event_id, event_type, correlation_id, timestamp, service, version, value)


def decoder(
    build: Callable[[], Callable[[bytes | str], T]],
) -> Callable[[bytes | str | None], T]:
    """A decoder that gives what the validator ``build()`` makes gives, or EnvelopeError
    naming what is wrong. The validator is built by the first call and kept: one
    ``is None`` test per decode is all the laziness costs the hot path."""
    validate: Callable[[bytes | str], T] | None = None

    def decode(data: bytes | str | None) -> T:
        nonlocal validate
        if data is None:
            raise _tombstone()
        if validate is None:
            validate = build()
        try:
            return validate(data)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    return decode


#: ``decode_envelope``'s checks and errors, giving the known fields as a dict.
decode_fields: Callable[[bytes | str | None], EnvelopeFields] = decoder(_fields_validator)


def _tombstone() -> EnvelopeError:
    return EnvelopeError("message has no value (tombstone); expected a JSON envelope")


def _invalid(exc: ValidationError) -> EnvelopeError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
        for err in exc.errors(include_url=False)[:5]
    )
    return EnvelopeError(f"not a valid envelope: {problems}")
