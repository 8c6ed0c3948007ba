"""``Envelope``, the pydantic model of the JSON envelope (docs/wire.md §2), and its codec.

Loaded on first use, not by ``import kafkarpc``: a pydantic model class pulls in
pydantic's model machinery, which alone is about half of what kafkarpc's runtime
dependencies cost to import (docs/benchmarks.md, "Import time"). The client's hot
paths (``new_message``, ``decode_fields`` in ``envelope.py``) need no model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import core_schema

from .._exceptions import PayloadNotSerializable
from .._ids import new_uuid
from .envelope import EVENT_TYPE, OPTIONAL_FIELDS, check_iso8601, decoder, now_iso

__all__ = ["Envelope", "decode_envelope", "encode_envelope", "fields_schema", "make_envelope"]


class Envelope(BaseModel):
    """One message on the wire. Unknown top-level fields are preserved."""

    # Its validator is built on first use, not at import: building it (and the
    # plugin lookup pydantic does for the first validator of a process) was a
    # third of `import kafkarpc` (docs/benchmarks.md, "Import time").
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    event_id: str = Field(default_factory=new_uuid, min_length=1)
    # A pattern, not a Python validator: checked in pydantic-core on every decode.
    event_type: str = Field(pattern=EVENT_TYPE.pattern)
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None
    timestamp: str = Field(default_factory=now_iso)
    service: str = Field(min_length=1)
    payload: dict[str, Any]
    version: str = Field(default="v1", min_length=1)
    metadata: dict[str, Any] | None = None

    @field_validator("timestamp")
    @classmethod
    def _iso8601(cls, value: str) -> str:
        return check_iso8601(value)


def fields_schema() -> core_schema.CoreSchema:
    """``Envelope``'s own field rules, giving a plain dict (unknown fields dropped).

    For readers that want a field or two, e.g. a reply's payload: skipping the
    model instance saves a third of a decode. Derived from the model's core
    schema, so there is one schema: a field with a default is optional here and
    left out when absent (the model would generate it); every other rule (types,
    lengths, the event-type pattern, the timestamp check) is the model's own.
    A unit test holds the two decoders to the same verdicts.
    """
    model = Envelope.__pydantic_core_schema__
    assert model["type"] == "model"
    assert model["schema"]["type"] == "model-fields"
    fields: dict[str, core_schema.TypedDictField] = {}
    for name, field in model["schema"]["fields"].items():
        schema = field["schema"]
        if schema["type"] == "default":
            fields[name] = core_schema.typed_dict_field(schema["schema"], required=False)
        else:
            fields[name] = core_schema.typed_dict_field(schema, required=True)
    return core_schema.typed_dict_schema(fields)


def make_envelope(
    *,
    event_type: str,
    correlation_id: str,
    service: str,
    payload: dict[str, Any],
    causation_id: str | None = None,
    version: str = "v1",
    metadata: dict[str, Any] | None = None,
) -> Envelope:
    """A new ``Envelope`` model from trusted parts, without re-validating them."""
    # Unset optional fields are still attributes of the model (None), unlike on the wire.
    return Envelope.model_construct(
        event_id=new_uuid(),
        event_type=event_type,
        correlation_id=correlation_id,
        causation_id=causation_id,
        timestamp=now_iso(),
        service=service,
        payload=payload,
        version=version,
        metadata=metadata,
    )


def encode_envelope(envelope: Envelope) -> bytes:
    """Envelope -> UTF-8 JSON bytes. ``None`` optional fields are omitted."""
    try:
        # Omit our own optional fields when unset, but keep a peer's unknown fields
        # exactly, null included (docs/wire.md §2: unknown fields are preserved).
        unset = {name for name in OPTIONAL_FIELDS if getattr(envelope, name) is None}
        return envelope.model_dump_json(exclude=unset).encode()
    except pydantic_core.PydanticSerializationError as exc:
        raise PayloadNotSerializable(f"envelope is not JSON-serializable: {exc}") from exc


# The validator's Python wrapper (``model_validate_json``) costs as much again as
# a small decode; the validator itself is built by the first call, not at import.
def _envelope_validator() -> Callable[[bytes | str], Envelope]:
    return Envelope.__pydantic_validator__.validate_json


#: Bytes from Kafka -> Envelope, or EnvelopeError naming what is wrong.
decode_envelope: Callable[[bytes | str | None], Envelope] = decoder(_envelope_validator)
