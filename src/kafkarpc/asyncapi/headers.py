"""The Kafka record header schemas of each message (docs/wire.md §3).

Every header name the document lists is written in this module; the names of
the dead-letter headers come from ``wire.dead_letter.DlqHeader``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..wire.dead_letter import DlqHeader, DlqReason
from ..wire.header_table import HEADERS
from ..wire.headers import CONTENT_TYPE, PRIORITIES
from ..wire.topics import TopicTrio
from .refs import EVENT_TYPE, UNSIGNED, JsonSchema

__all__ = [
    "dead_letter_headers",
    "event_dead_letter_headers",
    "event_headers",
    "reply_headers",
    "request_headers",
]

_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def request_headers(trio: TopicTrio) -> JsonSchema:
    # docs/wire.md §3: headers are optional on receive, so a peer sending only the
    # envelope is valid; kafkarpc clients always send the standard set.
    return _headers_schema(
        {**_standard_headers(), **_routing_headers(trio), **_trace_headers()}, required=()
    )


def reply_headers() -> JsonSchema:
    # docs/wire.md §3: the standard set is required on everything the library sends.
    standard = _standard_headers()
    return _headers_schema({**standard, **_trace_headers()}, required=list(standard))


# The group and the cause only when known (a client-side dead letter has no group;
# an error without a cause has no cause), as Spring writes them.
_REQUIRED_DLQ = [
    h.value
    for h in DlqHeader
    if h not in (DlqHeader.ORIGINAL_CONSUMER_GROUP, DlqHeader.EXCEPTION_CAUSE_FQCN)
]


def dead_letter_headers(trio: TopicTrio) -> JsonSchema:
    return _headers_schema(
        {
            **_standard_headers(),
            **_routing_headers(trio),
            **_trace_headers(),
            **_dlq_headers(),
        },
        required=_REQUIRED_DLQ,
    )


def event_headers() -> JsonSchema:
    # An event from another producer may carry no header at all (docs/server.md).
    return _headers_schema({**_standard_headers(), **_trace_headers()}, required=())


def event_dead_letter_headers() -> JsonSchema:
    return _headers_schema(
        {**_standard_headers(), **_trace_headers(), **_dlq_headers()},
        required=_REQUIRED_DLQ,
    )


def _string(description: str, **constraints: Any) -> JsonSchema:
    return {"type": "string", "description": description, **constraints}


def _headers_schema(properties: Mapping[str, JsonSchema], required: Iterable[str]) -> JsonSchema:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        # Callers may add their own headers; they are passed to handlers untouched.
        "additionalProperties": {"type": "string"},
    }


def _standard_headers() -> dict[str, JsonSchema]:
    return {
        "content_type": _string("The value's media type.", enum=[CONTENT_TYPE]),
        "correlation_id": _string("Same as the envelope's `correlation_id`.", minLength=1),
        "message_id": _string("Same as the envelope's `event_id`.", minLength=1),
        "timestamp": _string("Same as the envelope's `timestamp` (ISO 8601 UTC)."),
        "source": _string("Same as the envelope's `service`: the sender.", minLength=1),
        "event_type": _string("Same as the envelope's `event_type`.", pattern=EVENT_TYPE),
        "schema_version": _string("Same as the envelope's `version`.", minLength=1),
    }


def _routing_headers(trio: TopicTrio) -> dict[str, JsonSchema]:
    return {
        "reply_to": _string(
            f"Topic the success reply is written to; `{trio.completed}` when absent.",
            minLength=1,
        ),
        "reply_partition": _string(
            "Partition of `reply_to` the reply is written to, so a client reads only its own.",
            pattern=UNSIGNED,
        ),
        "deadline_ms": _string(
            "Absolute epoch milliseconds after which the caller no longer waits; a request "
            "picked up later is answered `DEADLINE_EXCEEDED` without running.",
            pattern=UNSIGNED,
        ),
        "idempotency_key": _string(
            "Stable across retries of one logical call; a repeat is answered from the first "
            "result instead of running again."
        ),
        "retry_count": _string("How many times the caller has retried.", pattern=UNSIGNED),
        "max_retries": _string("How many retries the caller allows.", pattern=UNSIGNED),
        "partition_key": _string("The record key the caller chose instead of the correlation id."),
        "priority": _string("The caller's priority.", enum=sorted(PRIORITIES)),
        "ttl_seconds": _string("Seconds the request stays relevant.", pattern=UNSIGNED),
        "correlation_chain": _string(
            "Correlation ids of the requests this one was made while handling, root first, "
            "comma-separated."
        ),
    }


def _trace_headers() -> dict[str, JsonSchema]:
    return {
        "traceparent": _string("W3C trace context.", pattern=_TRACEPARENT),
        "tracestate": _string("W3C trace state."),
        "trace_id": _string("Trace id from `traceparent`.", pattern="^[0-9a-f]{32}$"),
        "span_id": _string("Span id from `traceparent`.", pattern="^[0-9a-f]{16}$"),
        "parent_span_id": _string("The parent span's id.", pattern="^[0-9a-f]{16}$"),
    }


_TIMESTAMP_TYPES = next(
    row.choices for row in HEADERS if row.name == DlqHeader.ORIGINAL_TIMESTAMP_TYPE
)


def _binary_integer(description: str, size: int) -> JsonSchema:
    # Spring Kafka's encoding of these headers; the value shown is the integer read.
    return {
        "type": "integer",
        "format": f"int{size * 8}",
        "description": f"{description} Written as {size} bytes, big-endian (Spring Kafka's "
        "encoding); earlier kafkarpc versions wrote decimal text.",
    }


def _dlq_headers() -> dict[str, JsonSchema]:
    return {
        DlqHeader.ORIGINAL_TOPIC.value: _string(
            "The topic the request was read from or meant for."
        ),
        DlqHeader.ORIGINAL_PARTITION.value: _binary_integer(
            "Its partition; `-1` when it never reached the broker.", 4
        ),
        DlqHeader.ORIGINAL_OFFSET.value: _binary_integer(
            "Its offset; `-1` when it never reached the broker.", 8
        ),
        DlqHeader.ORIGINAL_TIMESTAMP.value: _binary_integer("Its timestamp, epoch ms.", 8),
        DlqHeader.ORIGINAL_TIMESTAMP_TYPE.value: _string(
            "What its timestamp is.", enum=list(_TIMESTAMP_TYPES)
        ),
        DlqHeader.ORIGINAL_CONSUMER_GROUP.value: _string(
            "The consumer group that read it; absent when a client parked it."
        ),
        DlqHeader.EXCEPTION_CAUSE_FQCN.value: _string(
            "The class name of the error's root cause; absent when it has no cause."
        ),
        DlqHeader.EXCEPTION_FQCN.value: _string("The error's fully qualified class name."),
        DlqHeader.EXCEPTION_MESSAGE.value: _string("The error message (truncated)."),
        DlqHeader.EXCEPTION_STACKTRACE.value: _string("The traceback (truncated)."),
        DlqHeader.REASON.value: _string(
            "Why it was parked.", enum=[reason.value for reason in DlqReason]
        ),
        DlqHeader.RETRY_COUNT.value: _string(
            "Responder retries made before parking.", pattern=UNSIGNED
        ),
    }
