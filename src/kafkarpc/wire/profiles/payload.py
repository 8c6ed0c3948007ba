"""Payload-correlated services: one request topic, one shared results topic, ids in the payload.

The SomaAgent01 shape (SPEC §8): a ``ToolInvocation`` with ``task_id`` on
``tool.requests``, a ``ToolResult`` with the same ``task_id`` and a ``status`` on
``tool.results``. No headers are needed. Every caller reads the whole results
topic (without a group join) and keeps only the ids it is waiting for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..._exceptions import ConfigurationError, EnvelopeError
from ...transport import InboundRecord, OutboundRecord
from ..failure import UNKNOWN_ERROR, failure_payload
from .base import (
    IncomingRequest,
    OutgoingRequest,
    ReplyContent,
    WireRoute,
    encode_json,
    json_object,
)

__all__ = ["PayloadCorrelated"]


@dataclass(frozen=True, slots=True)
class PayloadCorrelated:
    """A service that correlates by a payload field and answers on one shared topic.

    A request is the caller's payload with ``correlation_field`` set to the call's
    id (and ``operation_field``, when given, to the operation's name); it is keyed
    by the payload's ``key_field`` (e.g. ``tenant_id``) when present. A reply is a
    success when its ``status_field`` is one of ``ok_values``; the caller gets its
    ``result_field`` (the whole reply when None). A responder answers with
    ``{correlation_field, status_field, result_field}``, echoing ``echo_fields``
    of the request into the reply's ``metadata``.
    """

    request_topic: str
    reply_topic: str
    correlation_field: str = "task_id"
    status_field: str = "status"
    ok_values: tuple[str, ...] = ("success",)
    error_value: str = "error"
    result_field: str | None = "output"
    key_field: str | None = None
    operation_field: str | None = None
    echo_fields: tuple[str, ...] = field(default=())
    name: str = "payload-correlated"

    def __post_init__(self) -> None:
        WireRoute("check", self.request_topic, self.reply_topic)  # raises for bad names
        if not self.ok_values:
            raise ConfigurationError("ok_values must name at least one success status")
        if self.error_value in self.ok_values:
            raise ConfigurationError("error_value must not be one of ok_values")

    def route(self, operation: str) -> WireRoute:
        if self.operation_field is None and operation != self.request_topic:
            raise ConfigurationError(
                f"this payload-correlated service has one operation, its request topic "
                f"{self.request_topic!r} (got {operation!r}); set operation_field to name "
                "operations in the payload"
            )
        return WireRoute(operation, self.request_topic, self.reply_topic)

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        value = dict(request.payload)
        value[self.correlation_field] = request.correlation_id
        if self.operation_field is not None:
            value[self.operation_field] = request.route.operation
        key = request.key
        if self.key_field is not None and value.get(self.key_field) is not None:
            key = str(value[self.key_field]).encode()
        return OutboundRecord(
            topic=self.request_topic,
            value=encode_json(value),
            key=key,
            headers=list(request.headers),
        )

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        try:
            reply = json_object(record, "a result")
        except EnvelopeError:
            return None
        found = reply.get(self.correlation_field)
        return None if found is None else str(found)

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        reply = json_object(record, "a result")
        result = reply if self.result_field is None else reply.get(self.result_field)
        if reply.get(self.status_field) in self.ok_values:
            return ReplyContent(True, result)
        return ReplyContent(False, _failure_of(result, reply.get(self.status_field)))

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        request = json_object(record, "a request")
        correlation = request.get(self.correlation_field)
        if correlation is None or correlation == "":
            raise EnvelopeError(
                f"the request on {record.topic} has no {self.correlation_field!r}: "
                "no reply could ever be matched to it"
            )
        return IncomingRequest(
            correlation_id=str(correlation),
            payload=request,
            reply_topic=self.reply_topic,
            reply_partition=None,
            record=record,
        )

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        original = request.payload
        value: dict[str, Any] = {
            self.correlation_field: original[self.correlation_field],
            self.status_field: self.ok_values[0] if reply.ok else self.error_value,
        }
        body = reply.payload if reply.ok else _error_output(reply.payload)
        if self.result_field is None:
            if isinstance(body, Mapping):
                value = {**body, **value}
        else:
            value[self.result_field] = body
        echoed = {name: original[name] for name in self.echo_fields if name in original}
        if echoed:
            value["metadata"] = echoed
        return OutboundRecord(
            topic=self.reply_topic,
            value=encode_json(value),
            key=request.record.key,
        )


def _error_output(failure: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "error": failure.get("error_message", ""),
        "error_code": failure.get("error_code", UNKNOWN_ERROR),
        "error_type": failure.get("error_type", ""),
        "retryable": bool(failure.get("retryable", False)),
    }


def _failure_of(result: Any, status: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        message = result.get("error") or result.get("message") or result.get("error_message")
        return failure_payload(
            str(result.get("error_code") or UNKNOWN_ERROR),
            str(message if message is not None else result),
            error_type=str(result.get("error_type") or ""),
            retryable=result.get("retryable") is True,
            details={"status": status},
        )
    text = f"the service answered with status {status!r}" if result is None else str(result)
    return failure_payload(UNKNOWN_ERROR, text, details={"status": status})
