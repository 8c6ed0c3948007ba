"""The Spring Kafka request-reply wire (``ReplyingKafkaTemplate`` / ``@SendTo``, SPEC §8).

Writes exactly what Spring writes: ``kafka_correlationId`` as a UUID's 16 raw
bytes, ``kafka_replyTopic`` as UTF-8, ``kafka_replyPartition`` as a 4-byte
big-endian int (only for a caller reading one fixed partition). Reads leniently:
a correlation id as bytes or text, a partition as an int or a decimal string.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from ..._exceptions import ConfigurationError, EnvelopeError
from ...transport import InboundRecord, OutboundRecord
from ..failure import UNKNOWN_ERROR, failure_payload, read_failure
from .base import (
    IncomingRequest,
    OutgoingRequest,
    ReplyContent,
    WireRoute,
    correlation_text,
    encode_json,
    header_value,
    json_value,
)
from .kafka_headers import (
    CORRELATION_ID,
    REPLY_PARTITION,
    REPLY_TOPIC,
    read_request,
    request_record,
    success_reply,
)

__all__ = ["SpringProfile"]

TYPE_ID = "__TypeId__"


def _spring_correlation(raw: bytes) -> str | None:
    if len(raw) == 16:
        return str(uuid.UUID(bytes=raw))  # Spring's default: the UUID's bytes
    return correlation_text(raw)  # binaryCorrelation=false: the UUID as text


@dataclass(frozen=True, slots=True)
class SpringProfile:
    """Call ``@KafkaListener @SendTo`` listeners, and serve ``ReplyingKafkaTemplate`` callers.

    ``reply_suffix``: an operation ``orders.price`` replies on ``orders.price.reply``
    (set the template's reply container to listen there). ``error_header``: a reply
    carrying it is a failure (its value the message): have the Spring side's
    ``KafkaListenerErrorHandler`` set it, and its ``replyErrorChecker`` read it.
    ``type_id``: the Java class name written as ``__TypeId__`` on the JSON values
    kafkarpc sends. ``binary_correlation=False`` writes the id as UUID text.
    """

    error_header: str = "kafkarpc_error"
    type_id: str | None = None
    reply_suffix: str = ".reply"
    binary_correlation: bool = True
    name: ClassVar[str] = "spring"

    def __post_init__(self) -> None:
        if not self.error_header:
            raise ConfigurationError("error_header must name a header")

    def route(self, operation: str) -> WireRoute:
        return WireRoute(operation, operation, f"{operation}{self.reply_suffix}")

    def _typed(self, headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        if self.type_id is not None:
            headers.append((TYPE_ID, self.type_id.encode()))
        return headers

    def encode_request(self, request: OutgoingRequest) -> OutboundRecord:
        correlation = uuid.UUID(request.correlation_id)
        headers = [
            (
                CORRELATION_ID,
                correlation.bytes if self.binary_correlation else str(correlation).encode(),
            ),
            (REPLY_TOPIC, request.route.reply_topic.encode()),
        ]
        if request.reply_partition is not None:
            headers.append((REPLY_PARTITION, request.reply_partition.to_bytes(4, "big")))
        return request_record(request, self._typed(headers))

    def reply_correlation_id(self, record: InboundRecord) -> str | None:
        raw = header_value(record.headers, CORRELATION_ID)
        return None if raw is None else _spring_correlation(raw)

    def decode_reply(self, record: InboundRecord) -> ReplyContent:
        error = header_value(record.headers, self.error_header)
        if error is not None:
            return ReplyContent(False, _failure_of(error, record))
        return success_reply(record, "a Spring reply")

    def decode_request(self, record: InboundRecord) -> IncomingRequest:
        return read_request(record, _spring_correlation, "a Spring request")

    def encode_reply(self, request: IncomingRequest, reply: ReplyContent) -> OutboundRecord:
        # Echoed unchanged: Spring matches the reply by these very bytes.
        raw_id = header_value(request.record.headers, CORRELATION_ID)
        headers = [(CORRELATION_ID, raw_id or request.correlation_id.encode())]
        if reply.ok:
            headers = self._typed(headers)
        else:
            # No __TypeId__: the value is the failure payload, not the configured type.
            message = str(reply.payload.get("error_message", "")) or "the request failed"
            headers.append((self.error_header, message.encode()))
        return OutboundRecord(
            topic=request.reply_topic,
            value=encode_json(reply.payload),
            key=request.record.key,  # as Spring does since 3.3: the reply keeps the key
            headers=headers,
            partition=request.reply_partition,
        )


def _failure_of(raw: bytes, record: InboundRecord) -> dict[str, Any]:
    message = raw.decode(errors="replace")
    # A kafkarpc responder also sends the failure payload as the value: keep its code.
    try:
        value = json_value(record, "a Spring failure reply")
    except EnvelopeError:
        value = None
    if isinstance(value, dict) and "error_code" in value:
        failure = read_failure(value)
        return failure.model_dump(include={"error_code", "error_type", "retryable", "details"}) | {
            "error_message": message or failure.error_message
        }
    return failure_payload(UNKNOWN_ERROR, message, error_type="SpringListenerError")
