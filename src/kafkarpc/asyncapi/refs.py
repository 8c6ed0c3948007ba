"""Names and references every part of an AsyncAPI document shares.

Kept apart so the parts can point at each other's components without
importing each other.
"""

from __future__ import annotations

from typing import Any

from ..wire.envelope import EVENT_TYPE as EVENT_TYPE_PATTERN

__all__ = [
    "CORRELATION_ID",
    "ERROR_PAYLOAD",
    "KAFKA_BINDING",
    "SCHEMAS",
    "EVENT_TYPE",
    "UNSIGNED",
    "UPPER_SNAKE",
    "JsonSchema",
    "ref",
]

JsonSchema = dict[str, Any]

KAFKA_BINDING = "0.5.0"
SCHEMAS = "#/components/schemas/"
# Our own component names carry a dot: pydantic turns dots in its $defs names into
# "__", so these can never collide with a handler model's name.
ERROR_PAYLOAD = "kafkarpc.ErrorPayload"
CORRELATION_ID = "kafkarpc.correlationId"
UPPER_SNAKE = r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$"
#: What a responder accepts as an event type: UPPER_SNAKE or dotted lower-case.
EVENT_TYPE = EVENT_TYPE_PATTERN.pattern
UNSIGNED = r"^[0-9]+$"


def ref(*path: str) -> dict[str, str]:
    """A Reference Object to ``#/path/...``, escaping each part as JSON Pointer requires."""
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}
