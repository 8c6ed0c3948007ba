"""The NestJS microservices wire (``@nestjs/microservices`` 11 Kafka transport, SPEC §8).

The request topic is the message pattern, replies go to ``<pattern>.reply``; the
correlation id and the reply route travel in ``kafka_*`` headers as UTF-8 text,
and the value is the bare JSON data. An error reply carries ``kafka_nest-err``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ...transport import InboundRecord, OutboundRecord
from ..failure import UNKNOWN_ERROR, failure_payload
from .base import (
    IncomingRequest,
    OutgoingRequest,
    ReplyContent,
    WireRoute,
    correlation_text,
    encode_json,
    header_value,
)
from .kafka_headers import (
    CORRELATION_ID,
    REPLY_PARTITION,
    REPLY_TOPIC,
    read_request,
    request_record,
    success_reply,
)

__all__ = ["NestJsProfile"]

IS_DISPOSED = "kafka_nest-is-disposed"
ERROR = "kafka_nest-err"
#: Nest reads a header whose first byte is 0x00 as raw bytes: the "disposed" marker is one.
DISPOSED = b"\x00"


@dataclass(frozen=True, slots=True)
class NestJsProfile:
    """Call ``@MessagePattern`` handlers of a NestJS microservice, and serve ``ClientKafka``.

    ``reply_suffix`` is what Nest appends to a pattern for its reply topic.
    """

    reply_suffix: str = ".reply"
    name: ClassVar[str] = "nestjs"

    def route(self, operation: str) -> WireRoute:
        return WireRoute(operation, operation, f"{operation}{self.reply_suffix}")

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        # Always a partition, as Nest's own client sends: a caller reading every partition
        # names 0, so the replies of one call (a handler's stream) arrive in order.
        partition = 0 if request.reply_partition is None else request.reply_partition
        headers = [
            (CORRELATION_ID, request.correlation_id.encode()),
            (REPLY_TOPIC, request.route.reply_topic.encode()),
            (REPLY_PARTITION, str(partition).encode()),
        ]
        return request_record(request, headers)

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        raw = header_value(record.headers, CORRELATION_ID)
        return None if raw is None else correlation_text(raw)

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        error = header_value(record.headers, ERROR)
        if error is not None:
            return ReplyContent(False, _failure_of(error))
        return success_reply(record, "a NestJS reply")

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        return read_request(record, correlation_text, "a NestJS request")

    def encode_reply_item(self, request: IncomingRequest, payload: Any) -> OutboundRecord:
        # Nest sends every item of an Observable but the last without the disposed marker.
        record = self.encode_reply(request, ReplyContent(True, payload))
        headers = [header for header in record.headers if header[0] != IS_DISPOSED]
        return OutboundRecord(record.topic, record.value, record.key, headers, record.partition)

    def ends_call(self, record: InboundRecord) -> bool:
        return (
            header_value(record.headers, IS_DISPOSED) is not None
            or header_value(record.headers, ERROR) is not None
        )

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        raw_id = header_value(request.record.headers, CORRELATION_ID)
        headers = [(CORRELATION_ID, raw_id or request.correlation_id.encode())]
        if reply.ok:
            value = encode_json(reply.payload)
        else:
            # Nest writes a null value here and its client reads only the header; a
            # transport record always has bytes, so the value is empty.
            value = b""
            headers.append((ERROR, encode_json(_nest_error(reply.payload))))
        headers.append((IS_DISPOSED, DISPOSED))
        return OutboundRecord(
            topic=request.reply_topic,
            value=value,
            key=request.record.key,
            headers=headers,
            partition=request.reply_partition,
        )


def _nest_error(failure: dict[str, Any]) -> dict[str, Any]:
    """A failure payload as the error object a Nest caller receives (an RpcException's shape)."""
    return {"status": "error", "message": failure.get("error_message", ""), **failure}


def _failure_of(raw: bytes) -> dict[str, Any]:
    """``kafka_nest-err``: the error message, or the JSON of an error object."""
    text = raw.decode(errors="replace")
    error: Any = text
    if text[:1] in ("{", "["):
        try:
            error = json.loads(text)
        except ValueError:
            error = text
    if not isinstance(error, dict):
        return failure_payload(UNKNOWN_ERROR, str(error), error_type="RpcException")
    message = error.get("error_message") or error.get("message") or text
    details = {k: v for k, v in error.items() if k not in _OWN_FIELDS}
    return failure_payload(
        str(error.get("error_code") or UNKNOWN_ERROR),
        str(message),
        error_type=str(error.get("error_type") or "RpcException"),
        retryable=bool(error.get("retryable", False)),
        details=error.get("details") if isinstance(error.get("details"), dict) else details,
    )


_OWN_FIELDS = frozenset({"error_code", "error_message", "error_type", "retryable", "message"})
