"""The message objects of one operation, and the envelope (docs/wire.md §2) around each payload.

Four messages per responder: its request, its success reply, its failure reply
and its dead letter. Headers come from ``headers``, handler payloads from
``payloads``; this module wraps them in the envelope and the Kafka binding.
"""

from __future__ import annotations

from typing import Any, Literal

from ..wire.envelope import ErrorCode
from ..wire.headers import CONTENT_TYPE
from .headers import (
    dead_letter_headers,
    event_dead_letter_headers,
    event_headers,
    reply_headers,
    request_headers,
)
from .naming import Operation
from .payloads import Payloads
from .refs import (
    CORRELATION_ID,
    ERROR_PAYLOAD,
    EVENT_TYPE,
    KAFKA_BINDING,
    SCHEMAS,
    JsonSchema,
    ref,
)

__all__ = [
    "completed_message",
    "dead_letter_message",
    "error_payload_schema",
    "event_dead_letter_message",
    "event_message",
    "failed_message",
    "request_message",
]

_REQUEST_KEY = "The `correlation_id` as UTF-8, unless the caller chose a partition key."
_REPLY_KEY = "The request's `correlation_id` as UTF-8."


def request_message(operation: Operation, payloads: Payloads) -> dict[str, Any]:
    trio = operation.trio
    return _message(
        name=trio.event_type("requested"),
        title=f"{operation.name} request",
        summary=f"Asks a {operation.name} responder to run; answered on {trio.completed}.",
        headers=request_headers(trio),
        payload=_envelope_schema(
            payloads.get(operation, "request"),
            event_type=trio.event_type("requested"),
            reply=False,
        ),
        key=_REQUEST_KEY,
    )


def completed_message(operation: Operation, payloads: Payloads) -> dict[str, Any]:
    title, summary = f"{operation.name} reply", f"The result of a {operation.name} request."
    return _reply_message(operation, "completed", payloads.get(operation, "reply"), title, summary)


def failed_message(operation: Operation) -> dict[str, Any]:
    title, summary = f"{operation.name} failure", f"Why a {operation.name} request failed."
    payload = {"$ref": SCHEMAS + ERROR_PAYLOAD}
    return _reply_message(operation, "failed", payload, title, summary)


def dead_letter_message(operation: Operation) -> dict[str, Any]:
    # The value is the original record's bytes, which for a poison pill need not be
    # JSON at all, so it is described, not constrained.
    return _message(
        name=f"{operation.trio.event_prefix}_DEAD_LETTER",
        title=f"{operation.name} dead letter",
        summary=f"A {operation.name} request that could not be processed.",
        headers=dead_letter_headers(operation.trio),
        payload={
            "description": (
                "The original request value, byte for byte: usually the request envelope, "
                "but anything at all when the reason is `poison`."
            )
        },
        key="The original request's key.",
        content_type="application/octet-stream",
    )


def event_message(name: str, payload: JsonSchema, event_type: str) -> dict[str, Any]:
    """An event a subscriber receives: an envelope, or its payload alone as plain JSON."""
    return _message(
        name=event_type,
        title=f"{name} event",
        summary=f"An event for the {name} subscriber; nobody waits for a reply.",
        headers=event_headers(),
        payload={
            "description": (
                "A kafkarpc envelope (what `RpcClient.publish` sends), or the payload "
                "alone as a JSON object from a producer that knows no envelope."
            ),
            "anyOf": [_envelope_schema(payload, event_type=event_type, reply=False), payload],
        },
        key="Any key; kafkarpc publishers use the `correlation_id` unless given one.",
    )


def event_dead_letter_message(name: str, event_type: str) -> dict[str, Any]:
    return _message(
        name=f"{event_type}_DEAD_LETTER",
        title=f"{name} dead letter",
        summary=f"A {name} event that could not be processed.",
        headers=event_dead_letter_headers(),
        payload={"description": "The original event value, byte for byte."},
        key="The original event's key.",
        content_type="application/octet-stream",
    )


def _reply_message(
    operation: Operation,
    role: Literal["completed", "failed"],
    payload: JsonSchema,
    title: str,
    summary: str,
) -> dict[str, Any]:
    """A reply this server sends: the standard headers and a fixed event type."""
    event_type = operation.trio.event_type(role)
    return _message(
        name=event_type,
        title=title,
        summary=summary,
        headers=reply_headers(),
        payload=_envelope_schema(payload, event_type=event_type, reply=True),
        key=_REPLY_KEY,
    )


def _message(
    *,
    name: str,
    title: str,
    summary: str,
    headers: JsonSchema,
    payload: JsonSchema,
    key: str,
    content_type: str = CONTENT_TYPE,
) -> dict[str, Any]:
    described = {"name": name, "title": title, "summary": summary}
    return {
        **described,
        "contentType": content_type,
        "headers": headers,
        "payload": payload,
        "correlationId": ref("components", "correlationIds", CORRELATION_ID),
        "bindings": _key_binding(key),
    }


def _key_binding(key: str) -> dict[str, Any]:
    return {
        "kafka": {"key": {"type": "string", "description": key}, "bindingVersion": KAFKA_BINDING}
    }


def _envelope_schema(payload: JsonSchema, *, event_type: str, reply: bool) -> JsonSchema:
    """The envelope around ``payload``.

    Replies are what this server sends, so their event type is fixed and their
    causation id always set. Responders accept any UPPER_SNAKE or dotted
    lower-case event type on a request, so ``event_type`` (what kafkarpc clients
    send) is only an example.
    """
    required = ["event_id", "event_type", "correlation_id", "timestamp", "service"]
    required += ["payload", "version"]
    if reply:
        kind: JsonSchema = {"type": "string", "const": event_type}
        causation: JsonSchema = {
            "type": "string",
            "description": "The `event_id` of the request this answers.",
        }
        required.append("causation_id")
    else:
        kind = {"type": "string", "pattern": EVENT_TYPE, "examples": [event_type]}
        causation = {"type": ["string", "null"], "description": "The event this one answers."}
    return {
        "type": "object",
        "required": required,
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "minLength": 1},
            "event_type": {
                **kind,
                "description": "UPPER_SNAKE_CASE or dotted lower-case event type.",
            },
            "correlation_id": {
                "type": "string",
                "minLength": 1,
                "description": "Ties a reply to its request; usually a UUID.",
            },
            "causation_id": causation,
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "When the message was created, ISO 8601 UTC.",
            },
            "service": {"type": "string", "minLength": 1, "description": "The sender."},
            "payload": payload,
            "version": {
                "type": "string",
                "minLength": 1,
                "default": "v1",
                "description": "Schema version of the payload.",
            },
            "metadata": {"type": ["object", "null"], "description": "Free-form."},
        },
        # docs/wire.md §2: unknown top-level fields are preserved, not rejected.
        "additionalProperties": True,
    }


def error_payload_schema() -> JsonSchema:
    """The failure payload (docs/wire.md §2), a shared component of every failed message."""
    return {
        "type": "object",
        "title": "ErrorPayload",
        "description": "The payload of a message on a failed topic.",
        "required": ["error_code", "error_message", "error_type", "retryable", "details"],
        "properties": {
            "error_code": {
                "type": "string",
                "minLength": 1,
                "description": "Machine-readable cause; peers may send codes beyond these.",
                "examples": [code.value for code in ErrorCode],
            },
            "error_message": {"type": "string", "description": "For humans."},
            "error_type": {"type": "string", "description": "The exception class, if any."},
            "retryable": {"type": "boolean", "description": "Whether a retry may succeed."},
            "details": {"type": "object", "description": "Structured extra information."},
        },
        "additionalProperties": True,
    }
