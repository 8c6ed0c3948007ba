"""The ``kafka_*`` reply-route headers NestJS and Spring Kafka share (SPEC §8).

Both carry a request's correlation id, reply topic and reply partition under the
same header names; they differ in how they write them (text or raw bytes), which
each profile decides. Reading is shared and lenient.
"""

from __future__ import annotations

from collections.abc import Callable

from ..._exceptions import EnvelopeError
from ...transport import InboundRecord, OutboundRecord
from .base import (
    IncomingRequest,
    OutgoingRequest,
    ReplyContent,
    encode_json,
    header_value,
    json_value,
)

__all__ = [
    "CORRELATION_ID",
    "REPLY_PARTITION",
    "REPLY_TOPIC",
    "read_partition",
    "read_request",
    "request_record",
    "success_reply",
]

CORRELATION_ID = "kafka_correlationId"
REPLY_TOPIC = "kafka_replyTopic"
REPLY_PARTITION = "kafka_replyPartition"


def read_partition(raw: bytes | None) -> int | None:
    """A reply partition, read leniently: a decimal string, or a 4-byte big-endian int."""
    if raw is None:
        return None
    try:
        text = raw.decode()
        if text.strip().lstrip("-").isdigit():
            return int(text)
    except UnicodeDecodeError:
        pass
    if len(raw) == 4:
        return int.from_bytes(raw, "big", signed=True)
    return None


def read_request(
    record: InboundRecord, read_id: Callable[[bytes], str | None], what: str
) -> IncomingRequest:
    """A request routed by the ``kafka_*`` headers; EnvelopeError without a reply route."""
    raw_id = header_value(record.headers, CORRELATION_ID)
    correlation_id = None if raw_id is None else read_id(raw_id)
    reply_topic = header_value(record.headers, REPLY_TOPIC)
    if correlation_id is None or not reply_topic:
        # NestJS's emit() sends an event like this: no one waits for an answer.
        raise EnvelopeError(
            f"the request on {record.topic} has no reply route "
            f"({CORRELATION_ID} and {REPLY_TOPIC} headers); nothing can answer it"
        )
    try:
        topic = reply_topic.decode()
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"{REPLY_TOPIC} on {record.topic} is not UTF-8") from exc
    return IncomingRequest(
        correlation_id=correlation_id,
        payload=json_value(record, what),
        reply_topic=topic,
        reply_partition=read_partition(header_value(record.headers, REPLY_PARTITION)),
        record=record,
    )


def success_reply(record: InboundRecord, what: str) -> ReplyContent:
    """A reply without an error marker: its JSON value, or None for an empty one."""
    if record.value is None or record.value == b"":
        return ReplyContent(True, None)  # a NestJS handler that returned undefined, say
    return ReplyContent(True, json_value(record, what))


def request_record(request: OutgoingRequest, route: list[tuple[str, bytes]]) -> OutboundRecord:
    """A request with the bare JSON payload: the ``route`` headers, then kafkarpc's own."""
    return OutboundRecord(
        topic=request.route.request_topic,
        value=encode_json(request.payload),
        key=request.key,
        headers=[*route, *request.headers],
    )
